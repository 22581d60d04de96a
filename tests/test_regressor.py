"""ScoreRegressor: architecture, optimizer, logged metrics checked against hand computation."""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from datamodules.exercise import ExerciseDataModule, SequenceDataset
from lightning_module import BiLSTMScorer, ScoreRegressor
from lightning_module.trainer import quiet_trainer
from preprocessing.constants import FEATURE_DIMS, NUM_FRAMES


@pytest.fixture(scope="module")
def squat_data(demo_data_dir: Path) -> ExerciseDataModule:
    module = ExerciseDataModule(data_dir=str(demo_data_dir), batch_size=16)
    module.setup("fit")
    return module


def test_backbone_and_hyper_parameters() -> None:
    module = ScoreRegressor(hidden_size=32, dropout=0.1, lr=5e-3, weight_decay=1e-4)
    assert isinstance(module.model, BiLSTMScorer)
    assert module.model.lstm.hidden_size == 32 and module.model.lstm.bidirectional
    assert module.model.dropout.p == 0.1
    assert dict(module.hparams) == {
        "hidden_size": 32,
        "dropout": 0.1,
        "lr": 5e-3,
        "weight_decay": 1e-4,
        "input_size": FEATURE_DIMS,
        "backbone": "bilstm",
        "bidirectional": True,
        "causal": False,
    }
    scores = module(torch.randn(5, NUM_FRAMES, FEATURE_DIMS))
    assert scores.shape == (5,) and bool(((scores > 0) & (scores < 1)).all())


def test_default_optimizer_is_adam_with_the_hyper_parameters() -> None:
    optimizer = ScoreRegressor(lr=2e-3, weight_decay=1e-5).configure_optimizers()
    assert isinstance(optimizer, torch.optim.Adam)
    assert optimizer.defaults["lr"] == 2e-3 and optimizer.defaults["weight_decay"] == 1e-5


def test_validation_metrics_match_hand_computation(squat_data: ExerciseDataModule, tmp_path: Path) -> None:
    torch.manual_seed(0)
    model = ScoreRegressor()
    (metrics,) = quiet_trainer(default_root_dir=tmp_path).validate(model, datamodule=squat_data, verbose=False)
    model.eval()
    dataset = squat_data.datasets["val"]
    assert isinstance(dataset, SequenceDataset) and dataset.targets is not None  # fixed, scored val features
    with torch.no_grad():
        predicted = model(dataset.features).numpy().astype(float)
    targets = dataset.targets.numpy().astype(float)
    assert metrics["val/mae"] == pytest.approx(np.abs(predicted - targets).mean(), abs=1e-6)
    assert metrics["val/mae_score"] == pytest.approx(100 * metrics["val/mae"], rel=1e-6)
    assert metrics["val/loss"] == pytest.approx(((predicted - targets) ** 2).mean(), rel=1e-4)
    ranks = pd.DataFrame({"p": predicted, "t": targets}).rank()
    assert metrics["val/spearman"] == pytest.approx(ranks["p"].corr(ranks["t"]), abs=1e-4)


def test_training_logs_every_metric_and_lowers_the_loss(squat_data: ExerciseDataModule, tmp_path: Path) -> None:
    torch.manual_seed(0)
    model = ScoreRegressor()
    trainer = quiet_trainer(default_root_dir=tmp_path, max_epochs=4, num_sanity_val_steps=0)
    before = trainer.validate(model, datamodule=squat_data, verbose=False)[0]["val/loss"]
    trainer.fit(model, datamodule=squat_data)
    logged = trainer.callback_metrics
    for split in ("train", "val"):
        assert {f"{split}/loss", f"{split}/mae", f"{split}/mae_score", f"{split}/spearman"} <= set(logged)
    assert float(logged["train/mae_score"]) == pytest.approx(100 * float(logged["train/mae"]), rel=1e-6)
    assert float(logged["val/loss"]) < 0.5 * before, "four epochs must at least move predictions to the score range"


def test_predict_step_returns_scores_in_score_units(squat_data: ExerciseDataModule) -> None:
    model = ScoreRegressor().eval()
    batch = next(iter(squat_data.val_dataloader()))
    with torch.no_grad():
        scores = model.predict_step(batch, 0)
        assert torch.allclose(scores, 100 * model(batch["x"]))
    assert scores.shape == batch["index"].shape and bool(((scores >= 0) & (scores <= 100)).all())
