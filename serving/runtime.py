"""Run an exported artifact on (batch, NUM_FRAMES, width) float32 -> (batch, 1) in 0..1.

No torch here, and TensorFlow is imported only for a ``.keras`` file or a SavedModel folder, so
scoring with ONNX needs neither. Loaders (checked by tests/test_export.py):
- ``.onnx``: ONNX Runtime, CPU provider, all graph optimisations, ``threads`` intra-op threads;
- ``.keras``: ``keras.models.load_model`` (Keras 3, TensorFlow back-end), its call traced once into a
  ``tf.function`` for any batch size (eager calls run the LSTM step by step: ~60x slower at batch 1);
- SavedModel folder: ``tf.saved_model.load`` and its ``serving_default`` signature, after checking
  that its graph holds only ops the exporter writes (``serving.savedmodel_ops``; ``trust_savedmodel``
  skips that check);
- ``.tflite``: ``tf.lite.Interpreter`` (``threads`` threads, its default XNNPack CPU delegate); the
  files take one sequence (export/tflite.py), so a batch runs one sequence at a time, each from
  zeroed variable tensors (TFLite's fused LSTM op keeps its state there between calls).
"""

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from preprocessing.constants import NUM_FRAMES
from serving.artifact import INPUT_NAME, OUTPUT_NAME, ArtifactError
from serving.savedmodel_ops import check_savedmodel

Predictor = Callable[[np.ndarray], np.ndarray]
BACKENDS = ("onnxruntime", "keras", "savedmodel")  # always exported; the TFLite ones on request


def backend_of(artifact: str | Path) -> str:
    """The runtime for a model file.

    ``onnxruntime`` for ``.onnx``, ``keras`` for ``.keras``, ``savedmodel`` for a folder, ``tflite`` for ``.tflite``.
    """
    artifact = Path(artifact)
    if artifact.is_dir():
        return "savedmodel"
    if artifact.suffix in (".onnx", ".keras", ".tflite"):
        return {".onnx": "onnxruntime", ".keras": "keras", ".tflite": "tflite"}[artifact.suffix]
    raise ArtifactError(f"{artifact}: not a model artifact (expected .onnx, .keras, .tflite or a SavedModel folder)")


def _quiet_tensorflow() -> None:
    """Hide TensorFlow's C++ start-up chatter unless the user asked for it."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def onnx_session(path: str | Path, threads: int = 1):
    """An ONNX Runtime CPU session with every graph optimisation and ``threads`` intra-op threads."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


def _onnx_predictor(path: Path, threads: int) -> Predictor:
    session = onnx_session(path, threads)
    return lambda x: session.run([OUTPUT_NAME], {INPUT_NAME: np.asarray(x, dtype=np.float32)})[0]


def check_keras_archive(path: Path) -> None:
    """ArtifactError saying what is wrong when a ``.keras`` file is not a complete zip archive (Keras
    itself reports a truncated one as "File not found")."""
    import zipfile

    try:
        with zipfile.ZipFile(path) as archive:
            damaged = archive.testzip()
    except (zipfile.BadZipFile, EOFError, OSError) as error:
        problem = f"a damaged or truncated zip archive: {error}"
        raise ArtifactError(f"{path}: not a complete .keras file ({problem})") from None
    if damaged is not None:
        raise ArtifactError(f"{path}: not a complete .keras file ({damaged} in it is damaged)")


def _keras_predictor(path: Path) -> Predictor:
    check_keras_archive(path)
    _quiet_tensorflow()
    import keras
    import tensorflow as tf

    model = keras.models.load_model(path, compile=False)
    spec = tf.TensorSpec([None, NUM_FRAMES, model.inputs[0].shape[-1]], tf.float32)
    serve = tf.function(lambda x: model(x, training=False), input_signature=[spec])  # one graph, any batch
    return lambda x: serve(np.asarray(x, dtype=np.float32)).numpy()


def _savedmodel_predictor(path: Path) -> Predictor:
    _quiet_tensorflow()
    import tensorflow as tf

    return _SavedModelPredictor(tf, tf.saved_model.load(str(path)))


class _SavedModelPredictor:
    """A loaded SavedModel's ``serving_default`` signature as a Predictor."""

    def __init__(self, tf: Any, loaded: Any) -> None:
        self._tf = tf
        self.loaded = loaded  # the signature needs the loaded object (its variables) kept alive
        self._serve = loaded.signatures["serving_default"]

    def __call__(self, x: np.ndarray) -> np.ndarray:
        tf = self._tf
        outputs = self._serve(**{INPUT_NAME: tf.constant(x, dtype=tf.float32)})
        return outputs[OUTPUT_NAME].numpy()


def tflite_interpreter(path: str | Path, threads: int = 1):
    """A ``tf.lite.Interpreter`` of ``path`` with its tensors allocated (TF 2.19's note that it moves to
    the ai-edge-litert package is silenced: same interpreter)."""
    _quiet_tensorflow()
    import warnings

    import tensorflow as tf

    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*tf.lite.Interpreter is deprecated", category=UserWarning)
        interpreter = tf.lite.Interpreter(model_path=str(path), num_threads=threads)
    interpreter.allocate_tensors()
    return interpreter


def _tflite_predictor(path: Path, threads: int) -> Predictor:
    interpreter = tflite_interpreter(path, threads)
    (inputs,), (outputs,) = interpreter.get_input_details(), interpreter.get_output_details()

    def predict(x: np.ndarray) -> np.ndarray:
        rows = []
        for sequence in np.asarray(x, dtype=np.float32):
            interpreter.reset_all_variables()  # the fused LSTM op keeps its state in variable tensors
            interpreter.set_tensor(inputs["index"], sequence[None])
            interpreter.invoke()
            rows.append(interpreter.get_tensor(outputs["index"]))
        return np.concatenate(rows) if rows else np.zeros((0, 1), np.float32)

    return predict


def load_predictor(artifact: str | Path, threads: int = 1, trust_savedmodel: bool = False) -> Predictor:
    """A callable running ``artifact`` with the back-end its kind calls for (see the module docstring);
    ArtifactError naming the file and what is wrong with it when it cannot be loaded."""
    artifact = Path(artifact)
    backend = backend_of(artifact)
    if backend == "savedmodel" and not trust_savedmodel:
        check_savedmodel(artifact)
    try:
        if backend == "onnxruntime":
            return _onnx_predictor(artifact, threads)
        if backend == "keras":
            return _keras_predictor(artifact)
        if backend == "tflite":
            return _tflite_predictor(artifact, threads)
        return _savedmodel_predictor(artifact)  # checked above, before TensorFlow runs any of it
    except ArtifactError:
        raise
    except Exception as error:  # onnxruntime and TensorFlow raise their own types; name the file
        raise ArtifactError(f"{artifact}: cannot be loaded with {backend} ({one_line(error)})") from None


def one_line(error: Exception) -> str:
    """An exception's message on one line, at most 300 characters (TensorFlow's run to pages)."""
    text = " ".join(str(error).split()) or type(error).__name__
    return text if len(text) <= 300 else text[:297] + "..."
