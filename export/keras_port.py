"""Port a trained scoring network (any backbone) to Keras: same architecture, weights copied from torch.

Works with Keras 3 (``keras``) and the Keras 2 API (``tf_keras``): both take the same layers and the
same weight lists, so one builder serves the ``.keras`` files, the SavedModel and the TFLite files.
The network is rebuilt from the model's ``Architecture`` (backbone, input width, sizes).

Weight mapping (torch -> Keras):
- LSTM, per direction (Keras Bidirectional: forward, then backward): torch stacks its 4 gate blocks as
  (input, forget, cell candidate, output) and Keras as (i, f, c, o), so they are copied as they are;
  ``kernel`` = ``weight_ih.T`` (input, 4h), ``recurrent_kernel`` = ``weight_hh.T`` (h, 4h),
  ``bias`` = ``bias_ih + bias_hh`` (torch adds two biases, Keras has one);
- GRU, per direction: torch's gate blocks are (reset, update, new), Keras's (update, reset, new): the
  first two blocks swap. Keras's default ``reset_after=True`` is torch's formula (the reset gate
  multiplies the recurrent term after its bias), with two biases: ``bias`` = [bias_ih; bias_hh] (2, 3h);
- activations match (tanh, recurrent sigmoid); torch's ``_reverse`` direction is Keras's backward
  layer, whose outputs Keras re-aligns in time as torch does;
- TCN: ``Conv1D`` ``kernel`` = ``weight.transpose(2, 1, 0)`` (kernel, in, out); torch's explicit
  left / symmetric padding is Keras's ``causal`` / ``same`` padding;
- Dense layers: ``kernel`` = ``weight.T``, ``bias`` = ``bias``. Dropout is the identity at inference.
"""

from pathlib import Path
from types import ModuleType

import numpy as np

from lightning_module.backbone import HEAD_WIDTHS, TCN_DILATIONS, TCN_KERNEL, Architecture, SequenceScorer
from preprocessing.constants import NUM_FRAMES
from serving.artifact import INPUT_NAME, OUTPUT_NAME

RNN_LAYERS = {"bilstm": "bilstm", "gru": "gru"}  # backbone -> Keras layer name (torch attribute: lstm / gru)
GRU_TENSORS = ("weight_ih", "weight_hh", "bias_ih", "bias_hh")
DENSE_LAYERS = {"dense1": "dense1", "dense2": "dense2", OUTPUT_NAME: "out"}  # Keras name -> torch attribute


def conv_name(index: int) -> str:
    return f"conv{index + 1}"


def _backbone(keras: ModuleType, architecture: Architecture, inputs, unroll: bool):
    """The Keras layers of the backbone applied to ``inputs``: (batch, frames, channels)."""
    layers = keras.layers
    if architecture.backbone == "tcn":
        x = inputs
        for index, dilation in enumerate(TCN_DILATIONS):
            y = layers.Conv1D(
                architecture.hidden_size,
                TCN_KERNEL,
                dilation_rate=dilation,
                activation="relu",
                padding="causal" if architecture.causal else "same",
                name=conv_name(index),
            )(x)
            x = y if index == 0 else layers.Add(name=f"residual{index + 1}")([x, y])
        return x
    cell = layers.LSTM if architecture.backbone == "bilstm" else layers.GRU
    name = RNN_LAYERS[architecture.backbone]
    if architecture.bidirectional:
        return layers.Bidirectional(cell(architecture.hidden_size, return_sequences=True, unroll=unroll), name=name)(
            inputs
        )
    return cell(architecture.hidden_size, return_sequences=True, unroll=unroll, name=name)(inputs)


def build_keras_model(
    keras: ModuleType, architecture: Architecture, batch_size: int | None = None, unroll: bool = False
):
    """The network of ``architecture`` in ``keras`` (Keras 3 or tf_keras), untrained.

    ``batch_size``: a fixed batch (TFLite wants static shapes); ``unroll``: RNNs as NUM_FRAMES unrolled steps.
    """
    layers = keras.layers
    inputs = keras.Input(shape=(NUM_FRAMES, architecture.input_size), batch_size=batch_size, name=INPUT_NAME)
    x = _backbone(keras, architecture, inputs, unroll)
    x = layers.GlobalAveragePooling1D(name="mean_over_time")(x)
    x = layers.Dense(HEAD_WIDTHS[0], activation="relu", name="dense1")(x)
    x = layers.Dropout(architecture.dropout, name="dropout")(x)
    x = layers.Dense(HEAD_WIDTHS[1], activation="relu", name="dense2")(x)
    outputs = layers.Dense(1, activation="sigmoid", name=OUTPUT_NAME)(x)
    return keras.Model(inputs, outputs, name=f"{architecture.backbone}_scorer")


def _swap_reset_update(blocks: np.ndarray) -> np.ndarray:
    """torch GRU gate blocks (r, z, n) along axis 0 -> Keras's (z, r, n)."""
    reset, update, new = np.split(blocks, 3, axis=0)
    return np.concatenate([update, reset, new], axis=0)


def _rnn_weights(state: dict[str, np.ndarray], architecture: Architecture) -> list[np.ndarray]:
    """The Keras weight list of the (bi)directional LSTM or GRU (forward direction first)."""
    directions = ("", "_reverse") if architecture.bidirectional else ("",)
    weights: list[np.ndarray] = []
    for direction in directions:
        if architecture.backbone == "bilstm":
            weights += [
                state[f"lstm.weight_ih_l0{direction}"].T,
                state[f"lstm.weight_hh_l0{direction}"].T,
                state[f"lstm.bias_ih_l0{direction}"] + state[f"lstm.bias_hh_l0{direction}"],
            ]
        else:
            gate = {name: _swap_reset_update(state[f"gru.{name}_l0{direction}"]) for name in GRU_TENSORS}
            weights += [gate["weight_ih"].T, gate["weight_hh"].T, np.stack([gate["bias_ih"], gate["bias_hh"]])]
    return weights


def keras_layer_weights(model: SequenceScorer) -> dict[str, list[np.ndarray]]:
    """Keras layer name -> its weight list, ported from ``model`` (see the module docstring)."""
    state = {name: tensor.detach().cpu().numpy().astype(np.float32) for name, tensor in model.state_dict().items()}
    architecture = model.architecture
    if architecture.backbone == "tcn":
        weights = {
            conv_name(i): [state[f"convs.{i}.weight"].transpose(2, 1, 0), state[f"convs.{i}.bias"]]
            for i in range(len(TCN_DILATIONS))
        }
    else:
        weights = {RNN_LAYERS[architecture.backbone]: _rnn_weights(state, architecture)}
    for keras_name, torch_name in DENSE_LAYERS.items():
        weights[keras_name] = [state[f"{torch_name}.weight"].T, state[f"{torch_name}.bias"]]
    return {name: [np.ascontiguousarray(w) for w in ws] for name, ws in weights.items()}


def port_to_keras(model: SequenceScorer, keras: ModuleType, batch_size: int | None = None, unroll: bool = False):
    """A ``keras`` model with ``model``'s architecture and weights.

    ``batch_size`` and ``unroll``: see build_keras_model."""
    keras_model = build_keras_model(keras, model.architecture, batch_size, unroll)
    for name, weights in keras_layer_weights(model).items():
        keras_model.get_layer(name).set_weights(weights)
    return keras_model


def check_keras_weights(keras_model, model: SequenceScorer, path: str) -> None:
    """Raise ValueError naming ``path`` unless the Keras model holds exactly the ported weights."""
    for name, expected in keras_layer_weights(model).items():
        actual = keras_model.get_layer(name).get_weights()
        if len(actual) != len(expected) or any(not np.array_equal(a, e) for a, e in zip(actual, expected, strict=True)):
            raise ValueError(f"{path}: layer {name!r} does not hold the weights ported from the checkpoint")


def write_keras(model: SequenceScorer, path: str | Path) -> None:
    """Save the Keras 3 port of ``model`` as a ``.keras`` file, reload it and check its weights."""
    import keras

    port_to_keras(model, keras).save(path)
    check_keras_weights(keras.models.load_model(path, compile=False), model, str(path))
