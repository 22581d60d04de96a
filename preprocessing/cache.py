"""Keypoint cache: one ``.npz`` per (video, file identity, settings), written atomically.

An entry (and a pre-extracted ``*.pose.npz`` file, same format) holds ``landmarks`` (NUM_FRAMES, 33, 4)
float32, ``detected`` (NUM_FRAMES,) bool, ``frame_indices`` (NUM_FRAMES,) int64 and ``total_frames``
(int64 scalar). Writes go to a unique temp file in the same folder, are fsynced, then ``os.replace``d
over the entry, so readers never see a partial file and concurrent writers (processes, or machines
sharing one cache folder) leave one complete entry.
"""

import hashlib
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from preprocessing.constants import LANDMARK_DIMS, NUM_FRAMES, NUM_LANDMARKS, POSE_FILE_SUFFIX

FORMAT_VERSION = 1  # bump when the entry format or its meaning changes: old entries are then missed
ENTRY_LAYOUT = {  # array name -> (shape, dtype)
    "landmarks": ((NUM_FRAMES, NUM_LANDMARKS, LANDMARK_DIMS), np.float32),
    "detected": ((NUM_FRAMES,), np.bool_),
    "frame_indices": ((NUM_FRAMES,), np.int64),
    "total_frames": ((), np.int64),
}


class CorruptEntryError(ValueError):
    """A cache entry or pose file that cannot be read back (truncated, wrong shape, ...)."""


@dataclass(frozen=True)
class PoseSequence:
    """Raw BlazePose output for the NUM_FRAMES sampled frames of one video.

    landmarks: (NUM_FRAMES, 33, 4) float32, image coordinates as BlazePose returns them
               (x, y in 0..1, z, visibility); zeros where nothing was detected.
    detected:  (NUM_FRAMES,) bool, a person was found in that frame.
    frame_indices: (NUM_FRAMES,) int64, the sampled frame numbers.
    total_frames: frames decoded from the video.
    """

    landmarks: np.ndarray
    detected: np.ndarray
    frame_indices: np.ndarray
    total_frames: int


def is_pose_file(path: str | Path) -> bool:
    """True for a pre-extracted pose sequence (``*.pose.npz``, e.g. the demo data), read with load_pose."""
    return str(path).endswith(POSE_FILE_SUFFIX)


def cache_key(video_path: str | Path, settings_token: str) -> str:
    """File name of the entry: sha1 of the path (as the original) + sha1 of size, mtime, settings.

    The path is made absolute first (``os.path.abspath``, symlinks kept), so the same file named from
    different working directories shares one entry. The second part changes whenever the file is
    rewritten or touched (size, mtime in ns), the pose settings change, or FORMAT_VERSION is bumped.
    Raises FileNotFoundError when the video does not exist.
    """
    absolute = os.path.abspath(video_path)
    stat = os.stat(absolute)
    identity = f"{stat.st_size}|{stat.st_mtime_ns}|{settings_token}|{FORMAT_VERSION}"
    path_hash = hashlib.sha1(absolute.encode("utf-8")).hexdigest()
    identity_hash = hashlib.sha1(identity.encode("utf-8")).hexdigest()[:16]
    return f"{path_hash}_{identity_hash}.npz"


def _arrays(sequence: PoseSequence) -> dict[str, np.ndarray]:
    return {
        "landmarks": np.asarray(sequence.landmarks, dtype=np.float32),
        "detected": np.asarray(sequence.detected, dtype=bool),
        "frame_indices": np.asarray(sequence.frame_indices, dtype=np.int64),
        "total_frames": np.asarray(sequence.total_frames, dtype=np.int64),
    }


def _problem(arrays: dict[str, np.ndarray]) -> str | None:
    """What is wrong with the arrays of an entry, or None when they form a valid PoseSequence."""
    if sorted(arrays) != sorted(ENTRY_LAYOUT):
        return f"arrays {sorted(arrays)}, expected {sorted(ENTRY_LAYOUT)}"
    for name, (shape, dtype) in ENTRY_LAYOUT.items():
        if not isinstance(arrays[name], np.ndarray):
            return f"'{name}' is not an array"
        if arrays[name].shape != shape or arrays[name].dtype != dtype:
            return (
                f"'{name}' is {arrays[name].dtype} {arrays[name].shape}, "
                f"expected {np.dtype(dtype)} {shape}"
            )
    if not np.isfinite(arrays["landmarks"]).all():
        return "landmarks contain NaN or infinity"
    total = int(arrays["total_frames"])
    indices = arrays["frame_indices"]
    if total < 1 or indices.min() < 0 or indices.max() >= total:
        return f"frame_indices {indices.min()}..{indices.max()} do not fit total_frames={total}"
    return None


def save_pose(path: str | Path, sequence: PoseSequence) -> None:
    """Write ``sequence`` to ``path`` atomically (temp file in the same folder + ``os.replace``).

    Creates the folder if needed; raises ValueError (naming ``path``) for a malformed sequence.
    """
    path = Path(path)
    arrays = _arrays(sequence)
    problem = _problem(arrays)
    if problem is not None:
        raise ValueError(f"refusing to write {path}: {problem}")
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor, temp_name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(descriptor, "wb") as handle:
            np.savez(handle, **arrays)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(temp_name, 0o644)  # mkstemp makes it private; entries are shared like normal files
        os.replace(temp_name, path)
    except BaseException:
        Path(temp_name).unlink(missing_ok=True)
        raise


def _read_npz(path: Path) -> dict[str, np.ndarray] | None:
    """Every array of an ``.npz`` file, or None when the file is a bare ``.npy`` array."""
    loaded = np.load(path, allow_pickle=False)
    if not isinstance(loaded, np.lib.npyio.NpzFile):
        return None
    with loaded:
        return {name: loaded[name] for name in loaded.files}


def load_pose(path: str | Path) -> PoseSequence:
    """Read and validate an entry; raise CorruptEntryError naming the file and the problem.

    A missing file raises FileNotFoundError (a cache miss, not a corrupt entry).
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such pose file")
    try:
        arrays = _read_npz(path)
    except FileNotFoundError:  # removed since the check above: still a miss
        raise
    except Exception as error:  # damaged bytes raise many types (fuzzing: BadZipFile, TokenError, ...)
        raise CorruptEntryError(f"{path}: unreadable ({type(error).__name__}: {error})") from None
    problem = "not an .npz archive" if arrays is None else _problem(arrays)
    if problem is not None:
        raise CorruptEntryError(f"{path}: {problem}")
    return PoseSequence(
        landmarks=arrays["landmarks"],
        detected=arrays["detected"],
        frame_indices=arrays["frame_indices"],
        total_frames=int(arrays["total_frames"]),
    )
