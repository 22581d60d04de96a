"""Checkpoint safety for the Lightning commands: refuse a checkpoint that is missing, unreadable or of
another exercise before any data is touched, check that the folders ``fit`` writes into can be
written before training starts, and keep an earlier run's checkpoints instead of overwriting them;
and write a module trained (or made) outside a fit as a real Lightning checkpoint."""

import os
import pickle
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import torch
from pytorch_lightning import Callback, LightningModule, Trainer

from lightning_module.trainer import quiet_trainer
from preprocessing.errors import CheckpointFailure

EARLIER_RUNS = "earlier"  # <checkpoint folder>/earlier/<UTC time>/: checkpoints of the runs before


class CheckpointError(CheckpointFailure, ValueError):
    """A checkpoint that is missing, unreadable or made for another exercise; the message names the file."""


def read_checkpoint(path: str | Path) -> dict[str, Any]:
    """The contents of a Lightning checkpoint (on CPU); CheckpointError naming the file otherwise."""
    path = Path(path)
    if path.is_dir():
        raise CheckpointError(f"{path}: is a folder, not a checkpoint file")
    if not path.is_file():
        raise CheckpointError(f"{path}: no such checkpoint")
    try:
        checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as error:
        if "Weights only load failed" not in str(error):
            raise CheckpointError(f"{path}: not a readable checkpoint (UnpicklingError: {error})") from None
        raise CheckpointError(
            f"{path}: holds Python objects besides weights and plain data; refused, since loading them "
            "would run code from the file"
        ) from None
    except Exception as error:  # truncated zip, pickle errors, ...: torch raises many types
        raise CheckpointError(f"{path}: not a readable checkpoint ({type(error).__name__}: {error})") from None
    if not isinstance(checkpoint, dict) or "state_dict" not in checkpoint:
        raise CheckpointError(f"{path}: not a Lightning checkpoint (no state_dict)")
    return checkpoint


def check_checkpoint(path: str | Path, exercise: str) -> None:
    """Refuse ``path`` unless it is a readable checkpoint of ``exercise`` (the data module's)."""
    trained = read_checkpoint(path).get("datamodule_hyper_parameters", {}).get("exercise")
    if trained is not None and trained != exercise:
        raise CheckpointError(
            f"{path}: is a {trained} model, but the data is {exercise} (data.exercise); "
            f"use the {trained} config or a {exercise} checkpoint"
        )


def keep_earlier_checkpoints(folder: str | Path) -> Path | None:
    """Move the ``*.ckpt`` files of ``folder`` (an earlier run's) into ``folder/earlier/<UTC time>/``,
    so a new run cannot overwrite them; the folder they went to, or None when there were none."""
    folder = Path(folder)
    earlier = sorted(folder.glob("*.ckpt"))
    if not earlier:
        return None
    target = folder / EARLIER_RUNS / datetime.now(UTC).strftime("%Y%m%dT%H%M%S.%fZ")
    target.mkdir(parents=True)
    for path in earlier:
        os.replace(path, target / path.name)
    return target


class _DataModuleHparams(Callback):
    """Records the data module's hparams in the checkpoint, as a fit with that data module would."""

    def __init__(self, hparams: Mapping[str, Any]) -> None:
        self.hparams = dict(hparams)

    def on_save_checkpoint(self, trainer: Trainer, pl_module: LightningModule, checkpoint: dict[str, Any]) -> None:
        checkpoint["datamodule_hparams_name"] = "kwargs"
        checkpoint["datamodule_hyper_parameters"] = self.hparams


def save_checkpoint(
    module: LightningModule, path: str | Path, datamodule_hparams: Mapping[str, Any] | None = None
) -> Path:
    """Write ``module`` to ``path`` as a Lightning checkpoint, through a Trainer that has not run a step
    (so ``load_from_checkpoint`` reads it as it reads a fit's: Lightning version, loops, ``hyper_parameters``),
    with ``datamodule_hparams`` as the data module's hparams (as a LightningCLI fit records them); ``path``."""
    callbacks = [_DataModuleHparams(datamodule_hparams)] if datamodule_hparams is not None else None
    trainer = quiet_trainer(max_steps=0, callbacks=callbacks)
    trainer.strategy.connect(module)
    trainer.save_checkpoint(path, weights_only=False)
    return Path(path)
