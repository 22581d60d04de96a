"""Checks on folders a command must write into, made before any work is done; and a way to keep
native libraries' start-up chatter off the terminal."""

import os
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

DEBUG_ENV = "FORMSCORE_DEBUG"  # set (not 0): native start-up messages are shown, as are tracebacks


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


@contextmanager
def native_stderr_silenced() -> Iterator[None]:
    """File descriptor 2 goes to /dev/null inside (unless FORMSCORE_DEBUG is set): TensorFlow's CUDA
    probes and absl / glog lines of TFLite and MediaPipe are written there by native code at start-up,
    before any log level applies. Python exceptions raised inside still reach the terminal."""
    if os.environ.get(DEBUG_ENV, "") not in ("", "0"):
        yield
        return
    sys.stderr.flush()
    saved = os.dup(2)
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 2)
    os.close(devnull)
    try:
        yield
    finally:
        sys.stderr.flush()
        os.dup2(saved, 2)
        os.close(saved)
