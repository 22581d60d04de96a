"""formscore command line.

    python cli.py fit --config squat.yaml            # train (also: validate, test, predict)
    python cli.py demo ...                           # write the embedded demo data set
    python cli.py extract ...                        # fill the keypoint cache for videos
    python cli.py export ...                         # export a checkpoint (ONNX, Keras, SavedModel)
    python cli.py cv --config pushup.yaml --folds 5  # grouped k-fold cross-validation with baselines
    python cli.py score clip.mp4 [--exercise squat]  # score videos with an exported model
    python cli.py ranges --csv data/squat_scores.csv --out r.json  # form reference ranges of a data set

``fit`` / ``validate`` / ``test`` / ``predict`` are LightningCLI over ScoreRegressor and
ExerciseDataModule; ``--help`` on each lists every option.

Importing this module loads no heavy library: Lightning and torch load only for the Lightning
commands (``lightning_module.cli``). That matters beyond start-up time: extraction workers are
spawned, and a spawned process re-imports the parent's ``__main__`` (this file).

Run as a script, an expected failure prints one ``error: ...`` block and exits with the code of its
kind (``preprocessing.errors``: each error class carries its own); ``--debug`` or ``FORMSCORE_DEBUG=1``
shows the traceback instead.
"""

import importlib
import os
import sys
from collections.abc import Callable
from typing import Any

from preprocessing.errors import DEBUG_ENV, EXIT_INTERRUPTED, debugging, exit_code_of  # light: no third-party import

# Before any native library loads: TensorFlow's C++ start-up chatter (CUDA probes on CPU machines) and
# glog's INFO/WARNING lines stay hidden unless the user set these variables.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")  # 3: also its CUDA probe "errors" on CPU machines
os.environ.setdefault("GLOG_minloglevel", "2")

OTHER_COMMANDS = {
    "demo": "demo.dataset",
    "extract": "preprocessing.extract",
    "export": "export",
    "cv": "lightning_module.crossval",
    "score": "serving.command",
    "ranges": "preprocessing.reference",
}
DEBUG_FLAG = "--debug"


def cli_main(args: list[str] | None = None) -> Any:
    """Run a command: demo / extract / export return their ``main``'s result; fit / validate / test /
    predict return the LightningCLI object (``lightning_module.cli.FormscoreCLI``)."""
    argv = sys.argv[1:] if args is None else args
    if argv and argv[0] in OTHER_COMMANDS:
        return importlib.import_module(OTHER_COMMANDS[argv[0]]).main(argv[1:])
    from preprocessing.files import native_stderr_silenced

    with native_stderr_silenced():  # TensorFlow's CUDA probe lines (torch's TensorBoard writer imports it)
        import torch.utils.tensorboard  # noqa: F401  (the configs' TensorBoardLogger needs it anyway)

        from lightning_module.cli import run_lightning_cli  # torch and Lightning load here, and only here
    return run_lightning_cli(args)


def run_command(command: Callable[[list[str] | None], Any]) -> int:
    """``command(None)`` (it reads ``sys.argv``) as a process exit status: its int result (other
    results: 0); an expected failure prints ``error: <message>`` on stderr and returns its code.
    ``--debug`` (removed from ``sys.argv``; sets FORMSCORE_DEBUG=1 for child processes too) or
    FORMSCORE_DEBUG=1 lets the traceback through."""
    if DEBUG_FLAG in sys.argv:
        sys.argv = [arg for arg in sys.argv if arg != DEBUG_FLAG]
        os.environ[DEBUG_ENV] = "1"
    debug = debugging()
    try:
        result = command(None)
    except KeyboardInterrupt:
        if debug:
            raise
        print("error: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except Exception as error:
        code = exit_code_of(error)
        if debug or code is None:
            raise
        print(
            f"error: {error}\n(exit code {code}; run with {DEBUG_FLAG} or {DEBUG_ENV}=1 for the traceback)",
            file=sys.stderr,
        )
        return code
    return result if isinstance(result, int) else 0


def main() -> None:
    """The ``formscore`` console command (pyproject.toml's ``[project.scripts]``)."""
    sys.exit(run_command(cli_main))


if __name__ == "__main__":
    main()
