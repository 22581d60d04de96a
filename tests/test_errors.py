"""Every kind of expected failure exits with its own code and one ``error:`` line, never a traceback.

The kinds are found, not listed: every ``FormscoreError`` subclass defined anywhere in the project's
packages, so a new or renamed error class is covered (and a bug, any other exception, still shows
its traceback).
"""

import importlib
import os
import pkgutil
import sys

import pytest
from conftest import REPO

from cli import run_command
from preprocessing.errors import DEBUG_ENV, EXIT_FILE_SYSTEM, EXIT_INTERRUPTED, FormscoreError

PACKAGES = ("preprocessing", "datamodules", "lightning_module", "export", "serving", "demo")
EXPECTED = {  # the documented codes (README, "What happens when things go wrong")
    "preprocessing.errors.DataValidationError": 3,
    "preprocessing.video.VideoError": 4,
    "preprocessing.cache.CorruptEntryError": 4,
    "lightning_module.checkpoints.CheckpointError": 5,
    "serving.artifact.ArtifactError": 6,
    "export.exporter.ExportError": 6,
    "export.parity.ParityError": 6,
    "export.tflite.TFLiteConversionError": 6,
    "preprocessing.files.NotWritableError": 7,
    "preprocessing.locks.FolderBusyError": 7,
}


def project_error_classes() -> dict[str, type[FormscoreError]]:
    """Every FormscoreError subclass the project defines, by ``module.Name``."""
    for package in PACKAGES:
        for module in pkgutil.walk_packages([str(REPO / package)], prefix=f"{package}."):
            importlib.import_module(module.name)
    found: dict[str, type[FormscoreError]] = {}
    pending = [FormscoreError]
    while pending:
        cls = pending.pop()
        pending += cls.__subclasses__()
        if cls.__module__.split(".")[0] in PACKAGES:
            found[f"{cls.__module__}.{cls.__qualname__}"] = cls
    return found


def run(error: BaseException, capsys: pytest.CaptureFixture, monkeypatch: pytest.MonkeyPatch) -> tuple[int, str]:
    monkeypatch.setattr(sys, "argv", ["cli.py"])
    monkeypatch.setenv(DEBUG_ENV, "0")  # not debugging; recorded, so the original state comes back after

    def command(_: object) -> None:
        raise error

    code = run_command(command)
    captured = capsys.readouterr()
    assert captured.out == ""
    return code, captured.err


def test_every_error_kind_exits_with_its_code_and_one_error_line(
    capsys: pytest.CaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    classes = project_error_classes()
    assert {name: cls.exit_code for name, cls in classes.items() if name in EXPECTED} == EXPECTED
    for name, cls in classes.items():
        if not (cls.__module__ == "preprocessing.errors"):  # the bases are covered through their subclasses
            assert name in EXPECTED, f"{name}: a new error kind; document its exit code"
        code, stderr = run(cls("clip.mp4: the problem"), capsys, monkeypatch)
        assert code == cls.exit_code, name
        first, second = stderr.splitlines()
        assert first == "error: clip.mp4: the problem", name
        assert second == f"(exit code {code}; run with --debug or {DEBUG_ENV}=1 for the traceback)"


def test_os_errors_interrupts_and_bugs(capsys: pytest.CaptureFixture, monkeypatch: pytest.MonkeyPatch) -> None:
    code, stderr = run(PermissionError(13, "Permission denied", "/ro/out.onnx"), capsys, monkeypatch)
    assert code == EXIT_FILE_SYSTEM and stderr.startswith("error: [Errno 13] Permission denied: '/ro/out.onnx'\n")
    assert run(KeyboardInterrupt(), capsys, monkeypatch) == (EXIT_INTERRUPTED, "error: interrupted\n")
    with pytest.raises(ZeroDivisionError):  # a bug is not an expected failure: its traceback shows
        run(ZeroDivisionError("division by zero"), capsys, monkeypatch)


def test_debug_lets_the_traceback_through(capsys: pytest.CaptureFixture, monkeypatch: pytest.MonkeyPatch) -> None:
    from lightning_module.checkpoints import CheckpointError

    monkeypatch.setattr(sys, "argv", ["cli.py", "export", "--debug"])
    monkeypatch.setenv(DEBUG_ENV, "0")  # --debug sets it to 1 for child processes; restored after the test

    def command(_: object) -> None:
        assert sys.argv == ["cli.py", "export"], "--debug is taken out of the arguments"
        raise CheckpointError("gone.ckpt: no such checkpoint")

    with pytest.raises(CheckpointError):
        run_command(command)
    assert os.environ[DEBUG_ENV] == "1", "child processes debug too"
