"""TensorFlow Lite artifacts from the Keras port: float32, float16 weights, dynamic-range int8 weights.

``<exercise>_scorer.tflite`` (float32), ``<exercise>_scorer_f16.tflite`` (weights stored as float16,
computed in float32) and ``<exercise>_scorer_int8.tflite`` (dynamic-range quantisation: int8 weights,
activations quantised on the fly) are converted with ``tf.lite.TFLiteConverter`` from the tf_keras port
of the network (export/keras_port.py), with **TFLite built-in ops only**: no Select TF ops, so the plain
TFLite / LiteRT runtime of a phone runs them without the Flex delegate.

The input is fixed to one sequence, (1, NUM_FRAMES, width): with a dynamic batch the converter keeps
the Keras RNN loops as TensorList ops, which need Select TF ops. With a static batch an LSTM becomes
TFLite's fused ``UNIDIRECTIONAL_SEQUENCE_LSTM`` op; TFLite has no fused GRU, so GRUs are unrolled over
the 16 frames (plain ops, ~2x faster than the ``WHILE`` loop it would otherwise get); the TCN's
convolutions are built-in ops. ``serving.runtime`` runs a batch one sequence at a time. The fused LSTM
op keeps its state in variable tensors that persist between ``invoke`` calls: call
``interpreter.reset_all_variables()`` before each sequence (the runtime does).

Parity (export/parity.py): the float32 file is held to the 1e-5 gate like every other artifact; the
float16 and int8 files to the looser ``QUANTIZED_TOLERANCES``, since rounding the weights moves the
output by design.
"""

from pathlib import Path

import numpy as np

from export.keras_port import port_to_keras
from lightning_module.backbone import SequenceScorer
from preprocessing.constants import NUM_FRAMES
from preprocessing.errors import ArtifactFailure

# Max |tflite - torch| on the 0..1 output allowed for the quantised files (measured: see the README).
QUANTIZED_TOLERANCES = {"tflite_f16": 1e-3, "tflite_int8": 1e-2}
# Left out of an export, not failing it, when they miss their tolerance (export/exporter.py). Dynamic-range
# int8 also rounds each activation, the input included, to 8 bits on the fly; a network sensitive to small
# input changes then moves more. Measured: a TCN trained on the real push-ups with real.yaml moves by 4e-2
# on real inputs, 2.5e-2 of it from the input rounding alone, and rescaling the features does not help
# (README, "Backbones and on-device models").
OPTIONAL_BACKENDS = ("tflite_int8",)


class TFLiteConversionError(ArtifactFailure, ValueError):
    """The network cannot be converted to TFLite with built-in ops only; the message says why."""


def convert(model: SequenceScorer, backend: str = "tflite") -> bytes:
    """The ``.tflite`` flatbuffer of ``model`` for ``backend`` (``tflite``, ``tflite_f16`` or ``tflite_int8``)."""
    import tensorflow as tf
    import tf_keras

    architecture = model.architecture
    keras_model = port_to_keras(model, tf_keras, batch_size=1, unroll=architecture.backbone == "gru")
    converter = tf.lite.TFLiteConverter.from_keras_model(keras_model)
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS]
    if backend != "tflite":
        converter.optimizations = [tf.lite.Optimize.DEFAULT]  # alone: dynamic-range int8 weights
    if backend == "tflite_f16":
        converter.target_spec.supported_types = [tf.float16]
    try:
        return converter.convert()
    except Exception as error:  # the converter raises its own types with MLIR diagnostics
        raise TFLiteConversionError(
            f"the {architecture.backbone} network cannot be converted to TFLite with built-in ops only "
            f"(it would need Select TF ops, which the plain TFLite runtime lacks): {str(error)[-500:]}"
        ) from None


def write_tflite(model: SequenceScorer, path: str | Path, backend: str = "tflite") -> None:
    """Convert ``model`` for ``backend``, write it to ``path``, reload it and check its input and output."""
    path = Path(path)
    try:
        path.write_bytes(convert(model, backend))
    except TFLiteConversionError as error:
        raise TFLiteConversionError(f"{path}: {error}") from None
    verify_tflite(path, model.input_size)


def verify_tflite(path: str | Path, width: int) -> None:
    """Load ``path`` in the TFLite interpreter; check input (1, NUM_FRAMES, width) float32 -> output (1, 1)."""
    from serving.runtime import tflite_interpreter

    interpreter = tflite_interpreter(path)
    (inputs,), (outputs,) = interpreter.get_input_details(), interpreter.get_output_details()
    if (
        list(inputs["shape"]) != [1, NUM_FRAMES, width]
        or inputs["dtype"] != np.float32
        or list(outputs["shape"]) != [1, 1]
    ):
        raise ValueError(
            f"{path}: TFLite input {inputs['shape']} {inputs['dtype']} -> {outputs['shape']}, "
            f"expected [1, {NUM_FRAMES}, {width}] float32 -> [1, 1]"
        )
