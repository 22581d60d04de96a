"""Port a trained ``BiLSTMScorer`` to Keras: same architecture, weights copied from torch.

Works with Keras 3 (``keras``) and the Keras 2 API (``tf_keras``): both take the same layers and the
same weight list, so one builder serves the ``.keras`` files and the SavedModel.

Weight mapping (torch -> Keras), per LSTM direction (Keras Bidirectional: forward, then backward):
- gate order: torch stacks its 4 gate blocks as (input, forget, cell candidate, output) and Keras as
  (i, f, c, o): the same order, so the blocks are copied without reordering;
- ``kernel`` = ``weight_ih.T`` (input, 4h), ``recurrent_kernel`` = ``weight_hh.T`` (h, 4h);
- ``bias`` = ``bias_ih + bias_hh`` (torch adds two biases, Keras has one);
- activations match (tanh, recurrent sigmoid); torch's ``_reverse`` direction is Keras's backward
  layer, whose outputs Keras re-aligns in time as torch does.
Dense layers: ``kernel`` = ``weight.T``, ``bias`` = ``bias``. Dropout is the identity at inference.
"""

from pathlib import Path
from types import ModuleType

import numpy as np

from export.metadata import INPUT_NAME, OUTPUT_NAME
from lightning_module.backbone import BiLSTMScorer
from preprocessing.constants import FEATURE_DIMS, NUM_FRAMES

LSTM_LAYER = "bilstm"
DENSE_LAYERS = {"dense1": "dense1", "dense2": "dense2", OUTPUT_NAME: "out"}  # Keras name -> torch attribute


def build_keras_model(keras: ModuleType, hidden_size: int = 128, dropout: float = 0.3):
    """The scorer's architecture in ``keras`` (Keras 3 or tf_keras), untrained."""
    layers = keras.layers
    inputs = keras.Input(shape=(NUM_FRAMES, FEATURE_DIMS), name=INPUT_NAME)
    x = layers.Bidirectional(layers.LSTM(hidden_size, return_sequences=True), name=LSTM_LAYER)(inputs)
    x = layers.GlobalAveragePooling1D(name="mean_over_time")(x)
    x = layers.Dense(128, activation="relu", name="dense1")(x)
    x = layers.Dropout(dropout, name="dropout")(x)
    x = layers.Dense(64, activation="relu", name="dense2")(x)
    outputs = layers.Dense(1, activation="sigmoid", name=OUTPUT_NAME)(x)
    return keras.Model(inputs, outputs, name="bilstm_scorer")


def keras_layer_weights(model: BiLSTMScorer) -> dict[str, list[np.ndarray]]:
    """Keras layer name -> its weight list, ported from ``model`` (see the module docstring)."""
    state = {name: tensor.detach().cpu().numpy().astype(np.float32) for name, tensor in model.state_dict().items()}
    lstm: list[np.ndarray] = []
    for direction in ("", "_reverse"):
        lstm += [
            state[f"lstm.weight_ih_l0{direction}"].T,
            state[f"lstm.weight_hh_l0{direction}"].T,
            state[f"lstm.bias_ih_l0{direction}"] + state[f"lstm.bias_hh_l0{direction}"],
        ]
    weights = {LSTM_LAYER: lstm}
    for keras_name, torch_name in DENSE_LAYERS.items():
        weights[keras_name] = [state[f"{torch_name}.weight"].T, state[f"{torch_name}.bias"]]
    return {name: [np.ascontiguousarray(w) for w in ws] for name, ws in weights.items()}


def port_to_keras(model: BiLSTMScorer, keras: ModuleType):
    """A ``keras`` model with ``model``'s architecture and weights."""
    if model.lstm.num_layers != 1 or not model.lstm.bidirectional:
        raise ValueError("only a single-layer bidirectional LSTM can be ported")
    keras_model = build_keras_model(keras, model.lstm.hidden_size, model.dropout.p)
    for name, weights in keras_layer_weights(model).items():
        keras_model.get_layer(name).set_weights(weights)
    return keras_model


def check_keras_weights(keras_model, model: BiLSTMScorer, path: str) -> None:
    """Raise ValueError naming ``path`` unless the Keras model holds exactly the ported weights."""
    for name, expected in keras_layer_weights(model).items():
        actual = keras_model.get_layer(name).get_weights()
        if len(actual) != len(expected) or any(not np.array_equal(a, e) for a, e in zip(actual, expected, strict=True)):
            raise ValueError(f"{path}: layer {name!r} does not hold the weights ported from the checkpoint")


def write_keras(model: BiLSTMScorer, path: str | Path) -> None:
    """Save the Keras 3 port of ``model`` as a ``.keras`` file, reload it and check its weights."""
    import keras

    port_to_keras(model, keras).save(path)
    check_keras_weights(keras.models.load_model(path, compile=False), model, str(path))
