"""Checkpoints for the tests, written as Lightning writes them (``lightning_module.checkpoints.save_checkpoint``:
Lightning version, loops, ``hyper_parameters`` from ``save_hyperparameters``, the data module's hparams), so
``ScoreRegressor.load_from_checkpoint``, the export and the Lightning commands read them as they read a fit's."""

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch

from lightning_module.checkpoints import save_checkpoint
from lightning_module.regressor import ScoreRegressor


def random_checkpoint(path: Path, datamodule_hparams: Mapping[str, Any], seed: int = 0, **hparams: Any) -> Path:
    """A random-init ``ScoreRegressor(**hparams)`` (torch seeded with ``seed``), saved at ``path`` as a
    checkpoint whose data module had ``datamodule_hparams``; ``path``."""
    torch.manual_seed(seed)
    return save_checkpoint(ScoreRegressor(**hparams), path, datamodule_hparams)
