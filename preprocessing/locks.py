"""One writer per folder: a ``fit`` into a checkpoint folder and an ``export`` into an artifact folder
hold that folder's lock for the whole run, so a second run is refused at once, naming the first.

The lock is ``filelock``'s (an ``flock`` on ``<folder>/.formscore.lock``): the kernel drops it when
its process dies, however it dies, so a killed run's lock is simply taken over by the next run; no
stale lock ever needs clearing by hand. Who holds it (pid, host, command, start time) is written
beside it, in ``.formscore.lock.owner``, for the refusal message. Within one process the lock is
re-entrant (``fit`` holds its checkpoint folder while its ``ExportCallback`` exports).
"""

import json
import os
import socket
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

from filelock import FileLock, Timeout

from preprocessing.errors import FileSystemError

LOCK_NAME = ".formscore.lock"
OWNER_NAME = ".formscore.lock.owner"


class FolderBusyError(FileSystemError):
    """Another live run holds the folder; the message names the folder and that run."""


def owner_of(folder: Path) -> str:
    """The run recorded as holding ``folder``'s lock, in words (``unknown`` when not recorded)."""
    try:
        owner = json.loads((folder / OWNER_NAME).read_text())
        return f"pid {owner['pid']} on {owner['host']}, `{owner['command']}`, since {owner['since']}"
    except (OSError, ValueError, KeyError, TypeError):
        return "a run that has not said who it is"


def _write_owner(folder: Path, command: str) -> None:
    """Record this process as the holder (temp file + rename: a reader never sees half of it)."""
    owner = {
        "pid": os.getpid(),
        "host": socket.gethostname(),
        "command": command,
        "since": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    temp = folder / f"{OWNER_NAME}.{os.getpid()}.tmp"
    temp.write_text(json.dumps(owner) + "\n")
    os.replace(temp, folder / OWNER_NAME)


def try_lock(folder: str | Path) -> FileLock | None:
    """``folder``'s lock, acquired without waiting, or None when another run holds it or the folder
    cannot be written (for optional work such as a scorer's clean-up)."""
    lock = FileLock(Path(folder) / LOCK_NAME, timeout=0, is_singleton=True)
    try:
        lock.acquire()
    except (Timeout, OSError):
        return None
    return lock


@contextmanager
def folder_lock(folder: str | Path, command: str) -> Iterator[None]:
    """Hold ``folder``'s lock (created with the folder if needed) inside; FolderBusyError at once,
    naming the holder, when another live run has it. ``command``: this run, in words."""
    folder = Path(folder)
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise FileSystemError(f"{folder}: cannot be created ({error.strerror or error})") from None
    lock = FileLock(folder / LOCK_NAME, timeout=0, is_singleton=True)
    try:
        lock.acquire()
    except Timeout:
        raise FolderBusyError(
            f"{folder}: in use by another run ({owner_of(folder)}); wait for it to finish, or stop it"
        ) from None
    outermost = lock.lock_counter == 1
    try:
        if outermost:
            _write_owner(folder, command)
        yield
    finally:
        if outermost:
            (folder / OWNER_NAME).unlink(missing_ok=True)
        lock.release()


def command_line() -> str:
    """This process's command line, shortened, for the owner record."""
    text = " ".join([Path(sys.argv[0]).name, *sys.argv[1:]]) if sys.argv else "python"
    return text if len(text) <= 200 else text[:197] + "..."
