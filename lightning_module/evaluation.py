"""Per-video results: gather them across processes and write them atomically (CSV, scatter plot)."""

from pathlib import Path

import numpy as np
import pandas as pd
import torch
from matplotlib.figure import Figure
from pytorch_lightning import LightningModule, Trainer

from preprocessing.constants import SCORE_SCALE
from preprocessing.files import atomic_output

TEST_CSV = "test_predictions.csv"
TEST_PLOT = "test_scatter.png"
PREDICTIONS_CSV = "predictions.csv"


def all_gather_tensor(module: LightningModule, tensor: torch.Tensor) -> torch.Tensor:
    """``module.all_gather`` of one tensor: (world_size, *tensor.shape)."""
    gathered = module.all_gather(tensor)
    assert isinstance(gathered, torch.Tensor)  # a tensor in, a tensor out (collections come back as collections)
    return gathered


def gather_rows(
    module: LightningModule, index: torch.Tensor, values: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """All processes' (index, value) rows on every process, on CPU, one row per index, sorted by index.

    Ranks may hold different numbers of rows (padded for ``all_gather``); distributed samplers that
    repeat samples to even out ranks give duplicates, which are dropped.
    """
    if module.trainer.world_size > 1:
        counts = all_gather_tensor(module, torch.tensor(len(index), device=module.device))
        longest = int(counts.max())
        padded = [torch.cat([t, t.new_zeros(longest - len(t))]) for t in (index, values)]
        gathered_index, gathered_values = (all_gather_tensor(module, t) for t in padded)
        index = torch.cat([gathered_index[rank, :count] for rank, count in enumerate(counts.tolist())])
        values = torch.cat([gathered_values[rank, :count] for rank, count in enumerate(counts.tolist())])
    index, values = index.cpu().long(), values.cpu().float()
    unique, first = np.unique(index.numpy(), return_index=True)
    return torch.from_numpy(unique), values[torch.from_numpy(first)]


def run_dir(trainer: Trainer) -> Path:
    """Absolute log dir of the run (the root dir when there is no logger). Every process must call it:
    ``trainer.log_dir`` broadcasts rank 0's value."""
    return Path(trainer.log_dir or trainer.default_root_dir).absolute()


def write_csv(frame: pd.DataFrame, path: Path) -> None:
    """Write ``frame`` (no index) to ``path`` atomically."""
    with atomic_output(path) as temp:
        frame.to_csv(temp, index=False)


def write_test_report(table: pd.DataFrame, predicted: np.ndarray, log_dir: Path) -> tuple[Path, Path]:
    """Write TEST_CSV (video, true, predicted, error = predicted - true, score units) and TEST_PLOT
    (predicted vs true, MAE in the title) into ``log_dir``; print and return their paths."""
    report = pd.DataFrame(
        {"video": table["video"].to_numpy(), "true": table["score"].to_numpy(dtype=float), "predicted": predicted}
    )
    report["error"] = report["predicted"] - report["true"]
    mae = float(report["error"].abs().mean())
    csv_path, plot_path = log_dir / TEST_CSV, log_dir / TEST_PLOT
    write_csv(report, csv_path)
    with atomic_output(plot_path) as temp:
        scatter_figure(report, mae).savefig(temp, format="png", dpi=120)
    print(f"test: MAE {mae:.2f} score units on {len(report)} videos; wrote {csv_path} and {plot_path}")
    return csv_path, plot_path


def scatter_figure(report: pd.DataFrame, mae: float) -> Figure:
    """Predicted vs true scores with the identity line."""
    figure = Figure(figsize=(5, 5))
    axes = figure.subplots()
    axes.plot([0, SCORE_SCALE], [0, SCORE_SCALE], color="grey", linestyle="--", linewidth=1)
    axes.scatter(report["true"], report["predicted"], s=14, alpha=0.7)
    axes.set(
        xlim=(0, SCORE_SCALE),
        ylim=(0, SCORE_SCALE),
        xlabel="true score",
        ylabel="predicted score",
        title=f"test: MAE {mae:.2f} ({len(report)} videos)",
    )
    figure.tight_layout()
    return figure
