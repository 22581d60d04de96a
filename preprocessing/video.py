"""Frame sampling: NUM_FRAMES uniformly spaced frames of a video, read in one sequential pass.

The pass ``grab()``s every frame (demux + decode, no colour conversion or copy) and ``retrieve()``s
only the sampled ones, so memory is O(NUM_FRAMES) whatever the video's length. Measured on a 5 s
1080p H.264 clip (150 frames, 2-core machine): 0.27 s, against 0.6 s for ``read()`` of every frame
and 0.75 s for ``CAP_PROP_POS_FRAMES`` seeking (each seek decodes from the previous key frame).

The frame count a container reports can be wrong (some AVI / variable-frame-rate files), so the
pass reads to the end to learn the true count; when it differs from the reported one, the indices
are recomputed for the true count and the file is read a second time (rare). A video that decodes
to fewer than MIN_DECODED_FRACTION of the frames its header announces is truncated or damaged and
raises VideoError: its samples would cover only part of the movement. One that decodes at least
that much but fewer than MIN_COMPLETE_FRACTION is scored with a warning (``decode_warning``, shared
by the 16-frame path and the whole-video stream of ``--reps``): it may be a variable-frame-rate
file whose header is approximate, or a cut-short one whose end is missing.
"""

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import cv2
import numpy as np

from preprocessing.constants import NUM_FRAMES, POSE_FILE_SUFFIX
from preprocessing.errors import InputError
from preprocessing.files import is_pose_file

MIN_DECODED_FRACTION = 0.5  # containers overstate their count by a few frames (VFR), never by half
MIN_COMPLETE_FRACTION = 0.95  # fewer decoded frames than this share of the header's: scored, with a warning
DEFAULT_FPS = 30.0  # when a container reports no usable frame rate, and for *.pose.npz files
MAX_FPS = 1000.0  # above this a reported frame rate is taken as garbage


class VideoError(InputError, ValueError):
    """A file that is missing, not a video, or has no decodable frame; the message names the file."""


def sample_indices(total_frames: int, num: int = NUM_FRAMES) -> np.ndarray:
    """``linspace(0, total_frames - 1, num)`` truncated to int, as the original computes them."""
    if total_frames < 1:
        raise ValueError(f"total_frames must be >= 1, got {total_frames}")
    return np.linspace(0, total_frames - 1, num).astype(np.int64)


def usable_fps(reported: float) -> float:
    """The reported frame rate, or DEFAULT_FPS when it is 0, negative, NaN or absurd."""
    return float(reported) if 0.0 < reported < MAX_FPS else DEFAULT_FPS


def video_fps(path: str | Path) -> float:
    """Frame rate of a video file (DEFAULT_FPS for a pose file or an unusable reported rate)."""
    if is_pose_file(path):
        return DEFAULT_FPS
    with opened_video(Path(path)) as capture:
        return usable_fps(capture.get(cv2.CAP_PROP_FPS))


@contextmanager
def opened_video(path: Path) -> Iterator[cv2.VideoCapture]:
    """An opened FFmpeg capture of ``path``, released on exit; VideoError naming the file when it
    cannot be opened."""
    if not path.exists():
        raise VideoError(f"{path}: no such file")
    if not path.is_file():
        raise VideoError(f"{path}: not a file")
    if path.stat().st_size == 0:
        raise VideoError(f"{path}: empty file")
    # The FFmpeg backend only: the default backend list would treat a '%' in a name as an image sequence.
    capture = cv2.VideoCapture(str(path), cv2.CAP_FFMPEG)
    try:
        if not capture.isOpened():
            raise VideoError(f"{path}: not a readable video (OpenCV/FFmpeg cannot open it)")
        yield capture
    finally:
        capture.release()


def decoded_frames(
    capture: cv2.VideoCapture, source: str | Path, wanted: Callable[[int], bool]
) -> Iterator[tuple[int, np.ndarray | None]]:
    """(frame number, BGR frame) for every frame until the capture ends, in one sequential pass: the
    frame is None unless ``wanted(number)`` (the others are only grabbed: demuxed and decoded, not
    converted); VideoError naming ``source`` when a wanted frame cannot be retrieved."""
    index = 0
    while capture.grab():
        frame = None
        if wanted(index):
            ok, frame = capture.retrieve()
            if not ok or frame is None:
                raise VideoError(f"{source}: frame {index} could not be decoded")
        yield index, frame
        index += 1


def grab_all(capture: cv2.VideoCapture, path: Path, wanted: set[int]) -> tuple[dict[int, np.ndarray], int]:
    """Grab every remaining frame; the RGB frames whose index is in ``wanted``, and the frame count."""
    frames: dict[int, np.ndarray] = {}
    count = 0
    for index, frame in decoded_frames(capture, path, wanted.__contains__):
        count = index + 1
        if frame is not None:
            frames[index] = cv2.cvtColor(frame, cv2.COLOR_BGR2RGB)
    return frames, count


def header_frame_count(capture: cv2.VideoCapture) -> int:
    """The frame count a container's header announces (0 when it gives none that is usable)."""
    claimed = capture.get(cv2.CAP_PROP_FRAME_COUNT)  # may be 0, negative, NaN or simply wrong
    return int(claimed) if 0 < claimed < 2**31 else 0


def check_decoded(path: str | Path, decoded: int, reported: int) -> str | None:
    """VideoError when ``decoded`` frames are fewer than MIN_DECODED_FRACTION of the ``reported``
    header count; a warning (text) below MIN_COMPLETE_FRACTION; else None."""
    if decoded < MIN_DECODED_FRACTION * reported:
        raise VideoError(
            f"{path}: truncated or damaged: only {decoded} of the {reported} frames its header announces "
            f"can be decoded (fewer than {MIN_DECODED_FRACTION:.0%}: refused)"
        )
    if decoded < MIN_COMPLETE_FRACTION * reported:
        return (
            f"only {decoded} of the {reported} frames its header announces decode (under "
            f"{MIN_COMPLETE_FRACTION:.0%}): truncated? the score covers the decoded part only"
        )
    return None


def decode_warning(path: str | Path, decoded: int) -> str | None:
    """``check_decoded`` of a video file against its header (None for a pose file or no header count)."""
    path = Path(path)
    if not path.is_file() or str(path).endswith(POSE_FILE_SUFFIX):
        return None
    with opened_video(path) as capture:
        reported = header_frame_count(capture)
    return check_decoded(path, decoded, reported)


def read_sampled_frames(path: str | Path, num: int = NUM_FRAMES) -> tuple[list[np.ndarray], np.ndarray, int]:
    """RGB uint8 frames at ``sample_indices(true frame count)``, those indices, and the true frame count.

    Videos shorter than ``num`` frames repeat frames (repeated indices). Raises VideoError naming the
    file when it is missing, not a video, or has no decodable frame.
    """
    path = Path(path)
    with opened_video(path) as capture:
        reported = header_frame_count(capture)
        wanted = set(sample_indices(reported, num).tolist()) if reported > 0 else set()
        frames, total = grab_all(capture, path, wanted)
    if total == 0:
        raise VideoError(f"{path}: no decodable frame")
    check_decoded(path, total, reported)
    indices = sample_indices(total, num)
    if total != reported:  # the container's count was wrong: read again for the right indices
        with opened_video(path) as capture:
            frames, second_total = grab_all(capture, path, set(indices.tolist()))
        if second_total != total:
            raise VideoError(f"{path}: frame count changed between reads ({total}, then {second_total})")
    return [frames[index] for index in indices.tolist()], indices, total
