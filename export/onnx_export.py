"""Torch -> ONNX with a dynamic batch axis, checked with ``onnx.checker`` and reloaded in ONNX Runtime.

Exporter: torch 2.13 still ships the TorchScript-based exporter (``dynamo=False``; deprecated since
2.9, when the ``torch.export``-based exporter became the default). It turns ``nn.LSTM`` into one ONNX
``LSTM`` node and needs no extra package, whereas the dynamo exporter needs ``onnxscript``. If a
future torch drops ``dynamo=False``, switch to ``dynamo=True`` with ``dynamic_shapes`` and add
onnxscript to the dependencies. Opset 17: every op of this graph (LSTM, ReduceMean with axes as an
attribute, Gemm) is stable there, and ONNX Runtime >= 1.11 and other runtimes load it.
"""

import warnings
from pathlib import Path

import numpy as np
import onnx
import torch

from lightning_module.backbone import SequenceScorer
from preprocessing.constants import NUM_FRAMES
from serving.artifact import INPUT_NAME, OUTPUT_NAME
from serving.runtime import onnx_session

OPSET = 17
BATCH_AXIS = "batch"


def write_onnx(model: SequenceScorer, path: str | Path) -> None:
    """Export ``model`` (in eval mode) to ``path`` and verify the file (see ``verify_onnx``)."""
    model.eval()
    example = torch.zeros(2, NUM_FRAMES, model.input_size)
    with warnings.catch_warnings():
        # The initial LSTM states are built from the input's shape (Shape -> ConstantOfShape), so the
        # batch axis really is dynamic: the exporter's generic RNN batch-size warning does not apply.
        warnings.filterwarnings("ignore", message=".*batch_size other than 1.*")
        warnings.filterwarnings("ignore", message=".*legacy TorchScript-based ONNX export.*")
        # F.pad's pads (the TCN) are reversed with a Slice of step -1, which the exporter does not fold: harmless.
        warnings.filterwarnings("ignore", message=".*Only steps=1 can be constant folded.*")
        # nn.LSTM's input-size checks become constants in the trace: right for this fixed input layout.
        warnings.filterwarnings("ignore", category=torch.jit.TracerWarning)
        torch.onnx.export(
            model,
            (example,),
            str(path),
            dynamo=False,
            opset_version=OPSET,
            input_names=[INPUT_NAME],
            output_names=[OUTPUT_NAME],
            dynamic_axes={INPUT_NAME: {0: BATCH_AXIS}, OUTPUT_NAME: {0: BATCH_AXIS}},
        )
    verify_onnx(path, model.input_size)


def verify_onnx(path: str | Path, width: int) -> None:
    """``onnx.checker`` (full check), the declared input/output shapes, and a run in ONNX Runtime."""
    proto = onnx.load(str(path))
    onnx.checker.check_model(proto, full_check=True)
    expected = {INPUT_NAME: [BATCH_AXIS, NUM_FRAMES, width], OUTPUT_NAME: [BATCH_AXIS, 1]}
    for value in list(proto.graph.input) + list(proto.graph.output):
        dims = [d.dim_param or d.dim_value for d in value.type.tensor_type.shape.dim]
        if expected.pop(value.name, None) != dims:
            raise ValueError(f"{path}: unexpected graph input/output {value.name} {dims}")
    if expected:
        raise ValueError(f"{path}: graph lacks {sorted(expected)}")
    output = onnx_session(path).run(None, {INPUT_NAME: np.zeros((3, NUM_FRAMES, width), np.float32)})[0]
    if output.shape != (3, 1):
        raise ValueError(f"{path}: ONNX Runtime returned shape {output.shape} for a batch of 3")
