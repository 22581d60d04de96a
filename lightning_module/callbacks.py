"""Callbacks the CLI always adds: a prediction writer, the per-video test report and an end-of-fit summary."""

import math
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import torch
from pytorch_lightning import Callback, LightningModule, Trainer
from pytorch_lightning.callbacks import BasePredictionWriter, ModelCheckpoint
from pytorch_lightning.trainer.states import TrainerFn

from lightning_module.evaluation import PREDICTIONS_CSV, gather_rows, run_dir, write_csv, write_test_report
from preprocessing.constants import SCORE_SCALE

if TYPE_CHECKING:
    from datamodules.exercise import ExerciseDataModule


def exercise_data(trainer: Trainer) -> "ExerciseDataModule":
    """The data module the trainer runs with (the CLI's is always an ExerciseDataModule)."""
    return trainer.datamodule  # type: ignore[attr-defined]  # set on the Trainer by Lightning's data connector, not declared


class BatchRows:
    """One epoch's per-batch values with the batches' ``index`` (rows of the split's table), gathered
    across processes: one value per row (the distributed sampler's padding repeats dropped), by row."""

    def __init__(self) -> None:
        self._rows: list[tuple[torch.Tensor, torch.Tensor]] = []

    def reset(self) -> None:
        self._rows = []

    def add(self, batch: dict[str, torch.Tensor], values: torch.Tensor) -> None:
        self._rows.append((batch["index"], values.detach()))

    def gather(self, pl_module: LightningModule) -> tuple[np.ndarray, np.ndarray]:
        """(rows, values) of every process, on every process (all must call it)."""
        index, values = gather_rows(pl_module, *(torch.cat(column) for column in zip(*self._rows, strict=True)))
        return index.numpy(), values.numpy()


class PredictionWriter(BasePredictionWriter):
    """Write ``predictions.csv`` (video, score 0..100) for the datamodule's predict table.

    ``output_path`` None: ``<trainer.log_dir>/predictions.csv``. Works across processes (rank 0 writes).
    """

    def __init__(self, output_path: str | None = None) -> None:
        super().__init__(write_interval="batch")
        self.output_path = output_path
        self._rows = BatchRows()

    def on_predict_epoch_start(self, trainer: Trainer, pl_module: LightningModule) -> None:
        self._rows.reset()

    def write_on_batch_end(
        self,
        trainer: Trainer,
        pl_module: LightningModule,
        prediction: torch.Tensor,
        batch_indices: Any,
        batch: dict[str, torch.Tensor],
        batch_idx: int,
        dataloader_idx: int,
    ) -> None:
        self._rows.add(batch, prediction)

    def on_predict_epoch_end(self, trainer: Trainer, pl_module: LightningModule) -> None:
        index, scores = self._rows.gather(pl_module)
        log_dir = run_dir(trainer)
        if not trainer.is_global_zero:
            return
        path = Path(self.output_path).absolute() if self.output_path else log_dir / PREDICTIONS_CSV
        videos = exercise_data(trainer).rows("predict", index)["video"].to_numpy()
        predictions = pd.DataFrame({"video": videos, "score": scores.astype(np.float64).round(2)})
        write_csv(predictions, path)
        print(predictions.to_string(index=False))
        print(f"wrote {len(predictions)} scores to {path}")


class VideoReportWriter(Callback):
    """After ``test``, rank 0 writes the per-video report (``write_test_report``: TEST_CSV, TEST_PLOT)
    into the log dir, from the module's ``test_step`` outputs (scores in 0..1)."""

    def __init__(self) -> None:
        self._rows = BatchRows()

    def on_test_epoch_start(self, trainer: Trainer, pl_module: LightningModule) -> None:
        self._rows.reset()

    def on_test_batch_end(
        self,
        trainer: Trainer,
        pl_module: LightningModule,
        outputs: torch.Tensor | Mapping[str, Any] | None,
        batch: dict[str, torch.Tensor],
        batch_idx: int,
        dataloader_idx: int = 0,
    ) -> None:
        assert isinstance(outputs, torch.Tensor)  # ScoreRegressor.test_step returns its predictions
        self._rows.add(batch, outputs)

    def on_test_epoch_end(self, trainer: Trainer, pl_module: LightningModule) -> None:
        index, predicted = self._rows.gather(pl_module)
        log_dir = run_dir(trainer)
        if trainer.is_global_zero:
            write_test_report(exercise_data(trainer).rows("test", index), predicted * SCORE_SCALE, log_dir)


class FitSummary(Callback):
    """At the end of ``fit``, print the best ``val/mae`` in score units next to the predict-the-mean
    baseline on the same validation split (mean train score). Both are kept as attributes (inf and NaN
    without a validation split)."""

    def __init__(self) -> None:
        self.best_mae_score = math.inf
        self.baseline_mae_score = math.nan

    def on_fit_start(self, trainer: Trainer, pl_module: LightningModule) -> None:
        self.best_mae_score = math.inf

    def on_validation_end(self, trainer: Trainer, pl_module: LightningModule) -> None:
        fitting = trainer.state.fn == TrainerFn.FITTING and not trainer.sanity_checking
        if fitting and "val/mae" in trainer.callback_metrics:
            mae = float(trainer.callback_metrics["val/mae"]) * SCORE_SCALE
            self.best_mae_score = min(self.best_mae_score, mae)

    def on_fit_end(self, trainer: Trainer, pl_module: LightningModule) -> None:
        self.baseline_mae_score = exercise_data(trainer).baseline_mae()
        if not trainer.is_global_zero:
            return
        if math.isnan(self.baseline_mae_score):  # no validation split
            print(f"no validation split: trained {trainer.current_epoch} epochs on every train row")
        else:
            ratio = self.best_mae_score / self.baseline_mae_score
            print(
                f"best val MAE {self.best_mae_score:.2f} score units; predict-the-mean baseline "
                f"{self.baseline_mae_score:.2f} on the same split (ratio {ratio:.2f})"
            )
        checkpoint = trainer.checkpoint_callback
        if isinstance(checkpoint, ModelCheckpoint) and checkpoint.best_model_path:
            print(f"best checkpoint: {checkpoint.best_model_path}")
