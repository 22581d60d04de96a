"""Checks on folders a command must write into, made before any work is done."""

import os
import tempfile
from pathlib import Path


class NotWritableError(OSError):
    """A folder that a command must write into cannot be written; the message names the folder."""


def check_writable(folder: str | Path, what: str) -> None:
    """Create ``folder`` if needed and write (then remove) a file in it; NotWritableError otherwise."""
    folder = Path(folder)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        descriptor, probe = tempfile.mkstemp(dir=folder, prefix=".write-check-")
        os.close(descriptor)
        os.unlink(probe)
    except OSError as error:
        raise NotWritableError(f"{folder}: {what} cannot be written ({error.strerror or error})") from None
