"""The TensorFlow SavedModel: saved through the Keras 2 API (``tf_keras``) so more loaders accept it.

Saved with ``tf_keras`` (``save_format="tf"``), the folder carries a ``serving_default`` signature
float32 ``pose_features`` (batch, 16, width) -> ``score`` (batch, 1) and Keras 2 metadata. Per-layer
traces are not saved (``save_traces=False``: every layer is a built-in one that tf_keras rebuilds
from its config), only the serving function: saving takes ~0.4 s instead of ~4.5 s, loading ~0.1 s
instead of ~1.2 s, and the folder is 1.4 MB instead of 3.2 MB. Loaders
(checked by tests/test_export.py):
- ``tf.saved_model.load(path).signatures["serving_default"]``: works (used by the scorer);
- ``tf_keras.models.load_model(path)`` (or ``tf.keras`` with ``TF_USE_LEGACY_KERAS=1``): works, a
  full Keras 2 model;
- ``keras.layers.TFSMLayer(path, call_endpoint="serving_default")`` (Keras 3): works, inference only;
- ``keras.models.load_model(path)`` (Keras 3, which is ``tf.keras`` by default in TF 2.16+): refuses
  every SavedModel folder ("File format not supported"); load the ``.keras`` file with it instead.
A Keras 3 ``model.export()`` folder loads with the first and third but not with
``tf_keras.models.load_model`` ("'_UserObject' object is not callable"), hence tf_keras.
"""

from pathlib import Path

from export.keras_port import port_to_keras
from lightning_module.backbone import SequenceScorer
from preprocessing.constants import NUM_FRAMES
from serving.artifact import INPUT_NAME, OUTPUT_NAME


def write_savedmodel(model: SequenceScorer, path: str | Path) -> None:
    """Save the tf_keras port of ``model`` as a SavedModel folder at ``path`` and verify its signature."""
    import tensorflow as tf
    import tf_keras

    keras_model = port_to_keras(model, tf_keras)
    spec = tf.TensorSpec([None, NUM_FRAMES, model.input_size], tf.float32, name=INPUT_NAME)
    serve = tf.function(lambda x: {OUTPUT_NAME: keras_model(x, training=False)}, input_signature=[spec])
    keras_model.save(
        str(path), save_format="tf", include_optimizer=False, save_traces=False, signatures={"serving_default": serve}
    )
    verify_savedmodel(path, model.input_size)


def verify_savedmodel(path: str | Path, width: int) -> None:
    """Reload with ``tf.saved_model.load`` and check the serving signature's input and output specs."""
    import tensorflow as tf

    serve = tf.saved_model.load(str(path)).signatures["serving_default"]
    _, inputs = serve.structured_input_signature
    outputs = serve.structured_outputs
    spec_in, spec_out = inputs.get(INPUT_NAME), outputs.get(OUTPUT_NAME)
    if (
        len(inputs) != 1
        or len(outputs) != 1
        or spec_in is None
        or spec_out is None
        or spec_in.dtype != tf.float32
        or spec_in.shape.as_list() != [None, NUM_FRAMES, width]
        or spec_out.shape.as_list() != [None, 1]
    ):
        raise ValueError(f"{path}: serving signature is {inputs} -> {outputs}, expected {INPUT_NAME} -> {OUTPUT_NAME}")
