"""formscore command line.

    python cli.py fit --config squat.yaml            # train (also: validate, test, predict)
    python cli.py demo ...                           # write the embedded demo data set
    python cli.py extract ...                        # fill the keypoint cache for videos
    python cli.py export ...                         # export a checkpoint (ONNX, Keras, SavedModel)

``fit`` / ``validate`` / ``test`` / ``predict`` are LightningCLI over ScoreRegressor and
ExerciseDataModule; ``--help`` on each lists every option.
"""

import importlib
import sys

from pytorch_lightning.cli import LightningArgumentParser, LightningCLI

from datamodules.exercise import ExerciseDataModule
from lightning_module.callbacks import FitSummary, PredictionWriter
from lightning_module.regressor import ScoreRegressor

DEFAULT_SEED = 42
DESCRIPTION = (
    "formscore: fit / validate / test / predict a form scorer (LightningCLI, e.g. fit --config squat.yaml); "
    "also the commands demo, extract and export (each with its own --help)."
)
OTHER_COMMANDS = {"demo": "preprocessing.demo", "extract": "preprocessing.extract", "export": "export"}


def data_seed(seed_everything: bool | int) -> int:
    """The train / val split seed for a ``seed_everything`` value (an integer is used as is)."""
    return DEFAULT_SEED if isinstance(seed_everything, bool) else seed_everything


class FormscoreCLI(LightningCLI):
    """LightningCLI whose ``seed_everything`` also seeds the data split, and which always writes
    predictions and prints the end-of-fit summary."""

    def add_arguments_to_parser(self, parser: LightningArgumentParser) -> None:
        parser.link_arguments("seed_everything", "data.seed", compute_fn=data_seed)
        parser.add_lightning_class_args(PredictionWriter, "prediction_writer")
        parser.add_lightning_class_args(FitSummary, "fit_summary")


def cli_main(args: list[str] | None = None) -> FormscoreCLI | int | None:
    """Run a command: demo / extract / export return their ``main``'s result; fit / validate / test /
    predict return the LightningCLI object."""
    argv = sys.argv[1:] if args is None else args
    if argv and argv[0] in OTHER_COMMANDS:
        return importlib.import_module(OTHER_COMMANDS[argv[0]]).main(argv[1:])
    return FormscoreCLI(
        ScoreRegressor, ExerciseDataModule, seed_everything_default=DEFAULT_SEED,
        save_config_kwargs={"overwrite": True}, parser_kwargs={"description": DESCRIPTION}, args=args,
    )


if __name__ == "__main__":
    result = cli_main()
    sys.exit(result if isinstance(result, int) else 0)
