"""One base for every expected failure: each kind carries the exit code the command line ends with.

An expected failure prints one ``error: ...`` block and exits with its class's ``exit_code`` (cli.py);
anything else is a bug and shows its traceback. Codes 1 (a run that finished with some inputs failed),
2 (bad command-line arguments) and 130 (interrupted) are not errors of a kind.
"""

import os
from typing import ClassVar

DEBUG_ENV = "FORMSCORE_DEBUG"  # set (not 0): tracebacks and native start-up messages are shown
EXIT_SOME_FAILED = 1
EXIT_USAGE = 2
EXIT_FILE_SYSTEM = 7  # also for the OSErrors Python raises itself (a full disk, a read-only folder)
EXIT_INTERRUPTED = 130


class FormscoreError(Exception):
    """An expected failure whose message names the file and the problem."""

    exit_code: ClassVar[int] = EXIT_SOME_FAILED
    kind: ClassVar[str] = "error"


class DataError(FormscoreError):
    """Bad data: a score CSV, a row of it, a skeleton file."""

    exit_code = 3
    kind = "data"


class DataValidationError(DataError, ValueError):
    """Bad score CSV, row, video or skeleton file; the message names the file (and the CSV row when there
    is one)."""


class InputError(FormscoreError):
    """A video or pose input that cannot be used (missing, not a video, truncated, no person)."""

    exit_code = 4
    kind = "video"


class CheckpointFailure(FormscoreError):
    """A checkpoint that cannot be used."""

    exit_code = 5
    kind = "checkpoint"


class ArtifactFailure(FormscoreError):
    """An exported artifact or its metadata that cannot be used or written."""

    exit_code = 6
    kind = "artifact"


class FileSystemError(FormscoreError, OSError):
    """A folder or file that cannot be written or read."""

    exit_code = EXIT_FILE_SYSTEM
    kind = "file system"


def exit_code_of(error: BaseException) -> int | None:
    """The exit code of an expected failure, or None for a bug."""
    if isinstance(error, FormscoreError):
        return error.exit_code
    if isinstance(error, OSError):
        return EXIT_FILE_SYSTEM
    return None


def debugging() -> bool:
    """Whether FORMSCORE_DEBUG is set (not 0): tracebacks and native start-up messages are shown."""
    return os.environ.get(DEBUG_ENV, "") not in ("", "0")
