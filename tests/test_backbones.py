"""Backbones (bilstm, gru, tcn): shapes, the seed's checkpoint layout, causality, export parity, a short fit."""

from pathlib import Path

import numpy as np
import pytest
import torch

from export.keras_port import port_to_keras
from export.onnx_export import write_onnx
from export.parity import TOLERANCE, max_differences, torch_predictor
from export.savedmodel import write_savedmodel
from lightning_module.backbone import Architecture, Backbone, BiLSTMScorer, SequenceScorer, build_scorer
from lightning_module.regressor import ScoreRegressor
from lightning_module.trainer import quiet_trainer
from preprocessing.constants import FEATURE_DIMS, NUM_FRAMES
from serving.runtime import load_predictor

WIDTH = 40  # not FEATURE_DIMS: every exporter must take the width from the model
ARCHITECTURES = {
    "bilstm": Architecture("bilstm", WIDTH, hidden_size=24),
    "gru": Architecture("gru", WIDTH, hidden_size=24),
    "gru one-way": Architecture("gru", WIDTH, hidden_size=24, bidirectional=False),
    "tcn": Architecture("tcn", WIDTH, hidden_size=24),
    "tcn causal": Architecture("tcn", WIDTH, hidden_size=24, causal=True),
}
# The seed's BiLSTMScorer state dict: existing checkpoints must keep loading.
SEED_KEYS = {
    "lstm.weight_ih_l0",
    "lstm.weight_hh_l0",
    "lstm.bias_ih_l0",
    "lstm.bias_hh_l0",
    "lstm.weight_ih_l0_reverse",
    "lstm.weight_hh_l0_reverse",
    "lstm.bias_ih_l0_reverse",
    "lstm.bias_hh_l0_reverse",
    "dense1.weight",
    "dense1.bias",
    "dense2.weight",
    "dense2.bias",
    "out.weight",
    "out.bias",
}


def model_of(name: str, seed: int = 0) -> SequenceScorer:
    torch.manual_seed(seed)
    return build_scorer(ARCHITECTURES[name]).eval()


def inputs(batch: int, seed: int = 1) -> np.ndarray:
    return np.random.default_rng(seed).normal(size=(batch, NUM_FRAMES, WIDTH)).astype(np.float32)


@pytest.mark.parametrize("name", ARCHITECTURES)
def test_shapes_and_output_range(name: str) -> None:
    model = model_of(name)
    output = model(torch.from_numpy(inputs(5)))
    assert output.shape == (5, 1) and bool(((output > 0) & (output < 1)).all())
    assert model.input_size == WIDTH and model.architecture == ARCHITECTURES[name]


def test_parameter_counts() -> None:
    """The defaults at the 133-wide features: the BiLSTM is the seed's size; the GRU and TCN are smaller."""
    backbones: tuple[Backbone, ...] = ("bilstm", "gru", "tcn")
    counts = {
        backbone: sum(p.numel() for p in build_scorer(Architecture(backbone)).parameters()) for backbone in backbones
    }
    head = 256 * 128 + 128 + 128 * 64 + 64 + 65
    assert counts["bilstm"] == 2 * 4 * (133 * 128 + 128 * 128 + 2 * 128) + head == 310529
    assert counts["gru"] == 2 * 3 * (133 * 128 + 128 * 128 + 2 * 128) + head == 243201
    assert counts["tcn"] == 3 * 133 * 128 + 128 + 2 * (3 * 128 * 128 + 128) + 128 * 128 + 128 + 128 * 64 + 64 + 65


def test_seed_checkpoint_layout_still_loads() -> None:
    assert set(BiLSTMScorer().state_dict()) == SEED_KEYS
    module = ScoreRegressor()  # the default backbone
    assert isinstance(module.model, BiLSTMScorer)
    seed_state = {f"model.{key}": value for key, value in BiLSTMScorer().state_dict().items()}
    module.load_state_dict(seed_state, strict=False)  # metrics have no state; every model key matches
    assert module.hparams["backbone"] == "bilstm"


def test_bad_architectures_are_refused() -> None:
    with pytest.raises(ValueError, match="'lstm' is not one of bilstm, gru, tcn"):
        Architecture("lstm")  # type: ignore[arg-type]  # an unknown backbone on purpose
    with pytest.raises(ValueError, match="bilstm' is bidirectional"):
        Architecture("bilstm", bidirectional=False)
    assert Architecture.from_hparams({"hidden_size": 64, "lr": 1e-3}) == Architecture(hidden_size=64)


def test_causal_tcn_never_looks_ahead() -> None:
    """Changing the last frame changes no earlier frame's causal encoding, and does change the non-causal one."""
    x = torch.from_numpy(inputs(2))
    changed = x.clone()
    changed[:, -1] += 1.0
    for name, expect_same in (("tcn causal", True), ("tcn", False)):
        model = model_of(name)
        with torch.no_grad():
            before, after = model.encode(x)[:, :-1], model.encode(changed)[:, :-1]
        assert torch.equal(before, after) == expect_same, name


@pytest.mark.parametrize("name", ARCHITECTURES)
def test_keras_ports_match_torch(name: str) -> None:
    import keras
    import tf_keras

    model = model_of(name)
    x = inputs(7)
    expected = torch_predictor(model)(x)
    for library in (keras, tf_keras):
        actual = np.asarray(port_to_keras(model, library)(x, training=False))
        assert np.abs(actual - expected).max() <= TOLERANCE, library.__name__


@pytest.mark.parametrize("name", ["gru", "tcn causal"])
def test_onnx_and_savedmodel_match_torch(name: str, tmp_path: Path) -> None:
    """The written, reloaded artifacts (the bilstm's are covered by tests/test_export.py)."""
    model = model_of(name)
    write_onnx(model, tmp_path / "m.onnx")
    write_savedmodel(model, tmp_path / "m_savedmodel")
    backends = {"onnx": load_predictor(tmp_path / "m.onnx"), "savedmodel": load_predictor(tmp_path / "m_savedmodel")}
    x = inputs(9, seed=2)
    differences = max_differences(torch_predictor(model), backends, {"x9": x, "x1": x[:1]})
    assert all(max(by_input.values()) <= TOLERANCE for by_input in differences.values()), differences


@pytest.fixture(scope="module")
def squat_data(demo_data_dir: Path):
    """The demo squat data, validated and loaded once for both fits."""
    from datamodules.exercise import ExerciseDataModule

    data = ExerciseDataModule(data_dir=str(demo_data_dir), batch_size=32)
    data.setup("fit")
    return data


@pytest.mark.parametrize(("backbone", "epochs"), [("gru", 5), ("tcn", 8)])
def test_short_fit_beats_predicting_the_mean(backbone: Backbone, epochs: int, squat_data, tmp_path: Path) -> None:
    """A one-way GRU for 5 epochs, a TCN for 8 (measured here: val MAE 0.098 and 0.091 against the mean's 0.171,
    bound 0.137; a 4-epoch TCN reached 0.112 on one machine but 0.143 on another, so it gets 8)."""
    torch.manual_seed(0)
    data = squat_data
    model = ScoreRegressor(backbone=backbone, hidden_size=64, lr=3e-3, input_size=FEATURE_DIMS, bidirectional=False)
    trainer = quiet_trainer(max_epochs=epochs, num_sanity_val_steps=0, default_root_dir=tmp_path)
    trainer.fit(model, train_dataloaders=data.train_dataloader(), val_dataloaders=data.val_dataloader())
    val_mae = float(trainer.callback_metrics["val/mae"])
    baseline = float((data.datasets["val"].targets - data.datasets["train"].targets.mean()).abs().mean())
    assert val_mae < 0.8 * baseline, (backbone, val_mae, baseline)
