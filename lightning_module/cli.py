"""``FormscoreCLI``: LightningCLI over ScoreRegressor and ExerciseDataModule (``python cli.py fit ...``).

Before a command touches any data it refuses a ``--ckpt_path`` that is missing, unreadable or of
another exercise than ``data.exercise``. Before ``fit`` trains it checks that every checkpoint folder
can be written, and, unless the run resumes from ``--ckpt_path``, moves an earlier run's checkpoints
in those folders to ``<folder>/earlier/<UTC time>/`` and says so, so a new run never silently
replaces a better ``best.ckpt``. Each checkpoint folder is locked for the whole run
(``preprocessing.locks``): a second ``fit`` into a folder a live run holds is refused at once, naming
that run, before either touches the other's checkpoints.

Without a validation split (``data.val_fraction: 0``) nothing can be monitored: training runs all
``max_epochs`` with no early stopping, and the monitored ModelCheckpoints keep the last epoch as
``best.ckpt`` (so export, ``cv`` and the scripts find it where they always do).
"""

import logging
import warnings
from collections.abc import Callable
from contextlib import ExitStack
from pathlib import Path
from typing import Any

from pytorch_lightning import LightningDataModule, LightningModule, Trainer
from pytorch_lightning.callbacks import EarlyStopping, ModelCheckpoint
from pytorch_lightning.cli import LightningArgumentParser, LightningCLI

from datamodules.exercise import ExerciseDataModule
from lightning_module.callbacks import FitSummary, PredictionWriter, VideoReportWriter
from lightning_module.checkpoints import check_checkpoint, keep_earlier_checkpoints
from lightning_module.regressor import ScoreRegressor
from preprocessing.features import feature_dims
from preprocessing.files import check_writable
from preprocessing.locks import command_line, folder_lock

# Library chatter the user did not ask for: Lightning's advertisement for its cloud logger, a
# deprecation inside Lightning itself, TensorFlow's note when the export reloads a Keras model.
logging.getLogger("pytorch_lightning.utilities.rank_zero").addFilter(
    lambda record: "litlogger" not in record.getMessage()
)
logging.getLogger("tensorflow").setLevel(logging.ERROR)
warnings.filterwarnings("ignore", message=r".*isinstance\(treespec, LeafSpec\)")
# A checkpoint folder holds its lock file, and an earlier run's checkpoints moved to ``earlier/``
# (``before_fit`` says so): ModelCheckpoint's "exists and is not empty" warning has nothing to add.
warnings.filterwarnings("ignore", message=r"Checkpoint directory .* exists and is not empty")

DEFAULT_SEED = 42
BASE_CONFIG = Path(__file__).resolve().parent / "base.yaml"  # what the exercises' configs share (package data)
DESCRIPTION = (
    "formscore: fit / validate / test / predict a form scorer (LightningCLI, e.g. fit --config squat.yaml); "
    "also the commands demo, extract and export (each with its own --help)."
)


def data_seed(seed_everything: bool | int) -> int:
    """The train / val split seed for a ``seed_everything`` value (an integer is used as is)."""
    return DEFAULT_SEED if isinstance(seed_everything, bool) else seed_everything


def train_without_validation(trainer: Trainer) -> None:
    """Run no validation loop, drop ``trainer``'s EarlyStopping callbacks and make its monitored
    ModelCheckpoints keep the latest epoch (no validation split: there is nothing to monitor)."""
    trainer.limit_val_batches = 0
    trainer.callbacks = [c for c in trainer.callbacks if not isinstance(c, EarlyStopping)]  # type: ignore[attr-defined]
    for callback in trainer.checkpoint_callbacks:
        if isinstance(callback, ModelCheckpoint) and callback.monitor is not None:
            callback.monitor = None


class FormscoreCLI(LightningCLI):
    """LightningCLI whose every command first reads BASE_CONFIG, whose ``seed_everything`` also seeds
    the data split, which always writes predictions and the per-video test report and prints the
    end-of-fit summary, and which checks checkpoints and their folders first (see the module docstring)."""

    def __init__(
        self,
        model_class: type[LightningModule] | Callable[..., LightningModule] | None = None,
        datamodule_class: type[LightningDataModule] | Callable[..., LightningDataModule] | None = None,
        *,
        parser_kwargs: dict[str, Any] | None = None,
        run: bool = True,
        **kwargs: Any,
    ) -> None:
        """As LightningCLI; ``model_class`` and ``datamodule_class`` may be positional, the rest are keywords."""
        base: dict[str, Any] = {"default_config_files": [str(BASE_CONFIG)]}
        if run:  # one parser per subcommand
            base = {command: base for command in self.subcommands()}
        self.locks = ExitStack()  # the checkpoint folders' locks, held until the command (run here) ends
        with self.locks:
            try:
                super().__init__(
                    model_class, datamodule_class, parser_kwargs={**base, **(parser_kwargs or {})}, run=run, **kwargs
                )
            except SystemExit as done:  # Lightning answers Ctrl-C with a graceful shutdown and sys.exit(1)
                trainer = getattr(self, "trainer", None)
                if done.code == 1 and trainer is not None and trainer.interrupted:
                    raise KeyboardInterrupt from None  # cli.py: "error: interrupted", status 130
                raise

    def add_arguments_to_parser(self, parser: LightningArgumentParser) -> None:
        parser.link_arguments("seed_everything", "data.seed", compute_fn=data_seed)
        parser.link_arguments("data.feature_set", "model.input_size", compute_fn=feature_dims)
        parser.add_lightning_class_args(PredictionWriter, "prediction_writer")
        parser.add_lightning_class_args(VideoReportWriter, "test_report")
        parser.add_lightning_class_args(FitSummary, "fit_summary")

    def instantiate_classes(self) -> None:
        """As LightningCLI; without a validation split, see ``train_without_validation``."""
        super().instantiate_classes()
        if isinstance(self.datamodule, ExerciseDataModule) and not self.datamodule.validates:
            train_without_validation(self.trainer)

    def parse_arguments(self, parser: LightningArgumentParser, args: Any) -> None:
        """Parse, then check ``--ckpt_path`` before anything reads it (LightningCLI itself loads its
        hyper-parameters right after parsing)."""
        super().parse_arguments(parser, args)
        config = self.config[self.config["subcommand"]] if "subcommand" in self.config else self.config
        if config.get("ckpt_path"):
            check_checkpoint(config["ckpt_path"], config["data"]["exercise"])

    def before_fit(self) -> None:
        resuming = bool(self.config["fit"].get("ckpt_path"))
        trainer = self.trainer
        fast_dev_run = trainer.fast_dev_run  # type: ignore[attr-defined]  # set on the Trainer by Lightning's setup, not declared
        if fast_dev_run or trainer.global_rank != 0:  # fast_dev_run saves nothing
            return
        folders = {cb.dirpath for cb in trainer.checkpoint_callbacks if isinstance(cb, ModelCheckpoint) and cb.dirpath}
        for folder in sorted(folders):
            check_writable(folder, "checkpoint folder")
            self.locks.enter_context(folder_lock(folder, command_line()))
            moved = None if resuming else keep_earlier_checkpoints(folder)
            if moved is not None:
                print(
                    f"fit: {folder} held an earlier run's checkpoints; they are kept in {moved} "
                    f"(re-export one with `cli.py export --ckpt_path {moved}/best.ckpt`)"
                )


def run_lightning_cli(args: list[str] | None = None) -> FormscoreCLI:
    """Run a Lightning command (fit / validate / test / predict) and return the CLI object."""
    return FormscoreCLI(
        ScoreRegressor,
        ExerciseDataModule,
        seed_everything_default=DEFAULT_SEED,
        save_config_kwargs={"overwrite": True},
        parser_kwargs={"description": DESCRIPTION},
        args=args,
    )
