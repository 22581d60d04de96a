"""Pose stream of a whole video: BlazePose on every ``stride``-th frame, tracking across them.

A set of repetitions needs the pose over the whole video, not NUM_FRAMES samples: this module reads
a video (or a live source: camera index, URL, or a file read as a stream) in one sequential pass,
``grab()``s every frame, ``retrieve()``s every ``stride``-th and runs BlazePose in tracking mode on
it (``PoseEstimator.start_video`` / ``track``: the region of interest follows the person from frame
to frame, which is what the tracking graph is built for). Offline streams are cached like the
sampled entries (``preprocessing.cache``, entry kind ``stream-<stride>``); a ``*.pose.npz`` file
(e.g. a generated demo session) is its own stream, at DEFAULT_FPS.
"""

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from preprocessing.cache import PoseSequence, cache_key, load_pose, read_through
from preprocessing.constants import DEFAULT_CACHE_DIR, LANDMARK_DIMS, NUM_LANDMARKS
from preprocessing.files import is_pose_file
from preprocessing.pose import PoseEstimator, PoseSettings
from preprocessing.video import DEFAULT_FPS, VideoError, decoded_frames, opened_video, video_fps


@dataclass(frozen=True)
class Stream:
    """The pose of every ``stride``-th frame of a video, and the video's frame rate."""

    sequence: PoseSequence  # frame_indices: 0, stride, 2 * stride, ...
    fps: float
    stride: int

    @property
    def rate(self) -> float:
        """Pose samples per second."""
        return self.fps / self.stride


@contextmanager
def opened_source(source: str) -> Iterator[cv2.VideoCapture]:
    """A live source: a camera index (``"0"``), or a URL / file read as a stream; VideoError if it
    cannot be opened."""
    capture = cv2.VideoCapture(int(source)) if source.isdigit() else cv2.VideoCapture(source, cv2.CAP_FFMPEG)
    try:
        if not capture.isOpened():
            raise VideoError(f"{source}: cannot open this camera / stream / file")
        yield capture
    finally:
        capture.release()


def strided_frames(
    capture: cv2.VideoCapture, stride: int, source: str | Path
) -> Iterator[tuple[int, np.ndarray | None]]:
    """(frame number, RGB frame) for every frame until the capture ends; the frame is None except on
    every ``stride``-th one (``preprocessing.video.decoded_frames``)."""
    if stride < 1:
        raise ValueError(f"stride must be >= 1, got {stride}")
    for index, frame in decoded_frames(capture, source, lambda number: number % stride == 0):
        yield index, None if frame is None else cv2.cvtColor(frame, cv2.COLOR_BGR2RGB)


class PoseTrack:
    """Pose samples gathered one frame at a time (offline streams and live), as a PoseSequence."""

    def __init__(self) -> None:
        self.landmarks: list[np.ndarray] = []
        self.detected: list[bool] = []
        self.indices: list[int] = []
        self.aspect = 0.0

    def add(self, index: int, found: np.ndarray | None, frame: np.ndarray) -> np.ndarray:
        """Record the pose of frame ``index`` (None: no person); returns its (33, 4) landmarks (zeros then)."""
        self.aspect = frame.shape[1] / frame.shape[0]
        self.landmarks.append(np.zeros((NUM_LANDMARKS, LANDMARK_DIMS), np.float32) if found is None else found)
        self.detected.append(found is not None)
        self.indices.append(index)
        return self.landmarks[-1]

    def sequence(self, total_frames: int) -> PoseSequence:
        """Every sample so far, of a video of ``total_frames`` frames."""
        indices = np.array(self.indices, np.int64)
        return PoseSequence(np.stack(self.landmarks), np.array(self.detected), indices, total_frames, self.aspect)


def extract_stream(path: str | Path, estimator: PoseEstimator, stride: int = 1) -> PoseSequence:
    """BlazePose (tracking) on every ``stride``-th frame of a video file (no cache)."""
    path = Path(path)
    track, total = PoseTrack(), 0
    with opened_video(path) as capture:
        estimator.start_video()
        for total, frame in strided_frames(capture, stride, path):
            if frame is not None:
                track.add(total, estimator.track(frame), frame)
    if not track.indices:
        raise VideoError(f"{path}: no decodable frame")
    return track.sequence(total + 1)


def video_stream(
    path: str | Path,
    settings: PoseSettings = PoseSettings(),
    cache_dir: str | Path | None = None,
    estimator: PoseEstimator | None = None,
    stride: int = 1,
) -> tuple[Stream, bool]:
    """The pose stream of a video through the keypoint cache, and whether it came from the cache.

    A corrupt entry is reported (logging.warning) and rebuilt. ``estimator`` (built with
    ``settings``) is reused when given. Raises VideoError naming the file for missing or unreadable
    input.
    """
    if not Path(path).is_file():
        raise VideoError(f"{path}: no such file")
    if is_pose_file(path):
        return Stream(load_pose(path), DEFAULT_FPS, 1), True
    if estimator is not None and estimator.settings != settings:
        raise ValueError(f"estimator built with {estimator.settings}, but the cache is keyed by {settings}")
    fps = video_fps(path)
    entry = Path(DEFAULT_CACHE_DIR if cache_dir is None else cache_dir) / cache_key(
        path, settings.token(), kind=f"stream-{stride}"
    )

    def build() -> PoseSequence:
        if estimator is not None:
            return extract_stream(path, estimator, stride)
        with PoseEstimator(settings) as owned:
            return extract_stream(path, owned, stride)

    sequence, cached = read_through(entry, build, f"pose stream cache entry for {path}")
    return Stream(sequence, fps, stride), cached
