"""A Trainer for work outside the Lightning commands (checkpoint writing, tests, benchmarks)."""

import logging
from typing import Any

from pytorch_lightning import Trainer


def quiet_trainer(**options: Any) -> Trainer:
    """A one-CPU Trainer with no logger, checkpointing, progress bar or model summary, made without its
    start-up lines ("GPU available: ..."); ``options`` add to or override those."""
    settings: dict[str, Any] = {
        "accelerator": "cpu",
        "devices": 1,
        "logger": False,
        "enable_checkpointing": False,
        "enable_progress_bar": False,
        "enable_model_summary": False,
    }
    quiet = logging.getLogger("pytorch_lightning")
    level = quiet.level
    quiet.setLevel(logging.WARNING)
    try:
        return Trainer(**{**settings, **options})
    finally:
        quiet.setLevel(level)
