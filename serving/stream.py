"""Pose stream of a whole video: BlazePose on every ``stride``-th frame, tracking across them.

A set of repetitions needs the pose over the whole video, not NUM_FRAMES samples: this module reads
a video (or a live source: camera index, URL, or a file read as a stream) in one sequential pass,
``grab()``s every frame, ``retrieve()``s every ``stride``-th and runs BlazePose in tracking mode on
it (``PoseEstimator.start_video`` / ``track``: the region of interest follows the person from frame
to frame, which is what the tracking graph is built for). Offline streams are cached like the
sampled entries (``preprocessing.cache``, entry kind ``stream-<stride>``); a ``*.pose.npz`` file
(e.g. a generated demo session) is its own stream, at DEFAULT_FPS.

A long video file can be split into chunks posed in parallel worker processes (``Chunking``,
``chunked_stream``): CHUNK_SECONDS of frames each, planned from the header's frame count, the
frame rate and the stride only (never the worker count), so the stream is the same whatever the
number of workers. Each chunk seeks (``CAP_PROP_POS_FRAMES``) to OVERLAP_SECONDS before its start,
tracks afresh from there and keeps its own frames only, so by its first kept frame the tracker has
re-acquired the person; the chunks' samples are stitched into one stream of the usual layout. The
first chunk is exactly the sequential pass's; the others differ from it slightly (BlazePose's
tracking depends on its history, which starts at the overlap instead of the first frame: median
|dx, dy| 0.0004 of the frame on real 1080p push-ups), so such a stream has its own cache kind
(``Chunking.kind``). A video of one chunk is read sequentially, byte-identical to
``extract_stream``, under the sequential kind.

Seeking lands on the exact frame for the FFmpeg files measured here (H.264 and mp4v mp4, MJPG avi),
but not necessarily for every container, so it is checked: each chunk records a digest of the frame
where the next chunk begins decoding, and that chunk one of its first frame; when they differ, the
video is read sequentially instead. A wrong header count is harmless: the last chunk reads to the
end, and the stream ends at the first chunk that decodes short of its end (where a sequential pass
stops), chunks past it being dropped. Workers return landmarks (33 x 4 float32 per sample), never
frames, so memory does not grow with the video's length beyond the landmarks themselves.
"""

import hashlib
import logging
import multiprocessing
import os
from collections.abc import Callable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, wait
from concurrent.futures import TimeoutError as FutureTimeout
from concurrent.futures.process import BrokenProcessPool
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
from pebble import ProcessExpired, ProcessPool
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from preprocessing.cache import PoseSequence, cache_key, load_pose, read_through
from preprocessing.constants import DEFAULT_CACHE_DIR, LANDMARK_DIMS, NUM_LANDMARKS
from preprocessing.files import is_pose_file
from preprocessing.pose import PoseEstimator, PoseSettings, model_files
from preprocessing.video import DEFAULT_FPS, VideoError, decoded_frames, header_frame_count, opened_video, usable_fps
from preprocessing.workers import DEFAULT_WORKERS, POOL_START_GRACE_S, stop_pool, watch_parent

CHUNK_SECONDS = 10.0  # of video per chunk: 1 s of overlap costs 10% more pose work, and 10 min make 60 chunks
OVERLAP_SECONDS = 1.0  # decoded and tracked before a chunk's first kept frame, then dropped
CHUNK_TIME_LIMIT_S = 300.0  # per chunk in a worker: 10 s of 1080p take ~30 s on a loaded 2-core machine
logger = logging.getLogger(__name__)


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


def video_header(path: Path) -> tuple[float, int]:
    """Frame rate of a video file (DEFAULT_FPS when unusable) and its header's frame count (0: none)."""
    with opened_video(path) as capture:
        return usable_fps(capture.get(cv2.CAP_PROP_FPS)), header_frame_count(capture)


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


@dataclass(frozen=True)
class Chunk:
    """Frames [start, end) of a video (end None: to the end), decoded and tracked from ``overlap``
    frames before ``start``."""

    start: int
    end: int | None
    overlap: int

    @property
    def lead(self) -> int:
        """The first frame decoded (where the seek lands)."""
        return max(0, self.start - self.overlap)

    @property
    def handoff(self) -> int | None:
        """The next chunk's lead frame, which this chunk decodes too (None for the last chunk)."""
        return None if self.end is None else self.end - self.overlap


@dataclass(frozen=True)
class Chunking:
    """Parallel extraction of a long video's stream: ``workers`` processes posing chunks of about
    ``seconds`` of video, each tracked from ``overlap_seconds`` before its start; ``progress``: a
    progress bar on stderr (when it is a terminal)."""

    workers: int = DEFAULT_WORKERS
    seconds: float = CHUNK_SECONDS
    overlap_seconds: float = OVERLAP_SECONDS
    progress: bool = False

    def plan(self, frame_count: int, fps: float, stride: int) -> list[Chunk]:
        """Chunks of a ``frame_count``-frame video (the header's count; 0: unknown, one chunk). Starts
        and overlaps are multiples of ``stride`` (every decoded chunk begins on a posed frame); the
        overlap is at least one posed frame and shorter than a chunk."""
        length = stride * max(1, round(self.seconds * fps / stride))
        overlap = stride * max(1, round(self.overlap_seconds * fps / stride))
        if overlap >= length:
            raise ValueError(f"overlap of {overlap} frames must be shorter than a chunk ({length} frames)")
        starts = list(range(0, frame_count, length)) or [0]
        return [Chunk(start, None if start == starts[-1] else start + length, overlap) for start in starts]

    def kind(self, stride: int) -> str:
        """The cache kind of a chunked stream (a sequential one is ``stream-<stride>``)."""
        return f"stream-{stride}-chunks-{self.seconds:g}s-{self.overlap_seconds:g}s"


@dataclass(frozen=True)
class ChunkPose:
    """What a worker returns for a chunk: its kept samples (None when it has none), one past the last
    frame it decoded, and digests of its first frame and of its handoff frame (None: not decoded)."""

    sequence: PoseSequence | None
    decoded_to: int
    lead_digest: str | None
    handoff_digest: str | None


def frame_digest(frame: np.ndarray) -> str:
    """A digest of a decoded frame's pixels."""
    return hashlib.blake2b(frame.tobytes(), digest_size=16).hexdigest()


def extract_chunk(path: Path, estimator: PoseEstimator, chunk: Chunk, stride: int) -> ChunkPose:
    """BlazePose, tracking afresh from ``chunk.lead``, on every ``stride``-th frame of ``chunk``; the
    samples before ``chunk.start`` only warm the tracker up."""
    track, decoded_to = PoseTrack(), chunk.lead
    digests: dict[int, str] = {}
    with opened_video(path) as capture:
        if chunk.lead:
            capture.set(cv2.CAP_PROP_POS_FRAMES, chunk.lead)
        estimator.start_video()
        for offset, frame in strided_frames(capture, stride, path):  # lead % stride == 0: same frames
            index = chunk.lead + offset
            if chunk.end is not None and index >= chunk.end:
                break
            decoded_to = index + 1
            if frame is None:
                continue
            if index in (chunk.lead, chunk.handoff):
                digests[index] = frame_digest(frame)
            found = estimator.track(frame)
            if index >= chunk.start:
                track.add(index, found, frame)
    sequence = track.sequence(decoded_to) if track.indices else None
    handoff = None if chunk.handoff is None else digests.get(chunk.handoff)
    return ChunkPose(sequence, decoded_to, digests.get(chunk.lead), handoff)


_chunk_estimator: PoseEstimator | None = None  # a worker process's estimator (set by the pool initializer)


def _init_chunk_worker(settings: PoseSettings, parent_pid: int) -> None:
    global _chunk_estimator
    watch_parent(parent_pid)
    _chunk_estimator = PoseEstimator(settings)


def _chunk_in_worker(path: Path, chunk: Chunk, stride: int) -> ChunkPose:
    assert _chunk_estimator is not None, "pool initializer did not run"
    return extract_chunk(path, _chunk_estimator, chunk, stride)


def chunk_result(path: Path, future: Future) -> ChunkPose:
    """A finished chunk's pose; a worker that died or stalled is a VideoError naming the file."""
    try:
        return future.result()
    except (ProcessExpired, BrokenProcessPool) as error:
        code = f"exit code {error.exitcode}" if isinstance(error, ProcessExpired) else "every worker"
        raise VideoError(
            f"{path}: a pose worker process died ({code}: a crash in native code, or killed, e.g. out of memory)"
        ) from None
    except FutureTimeout:
        raise VideoError(
            f"{path}: a chunk of its pose stream took longer than {CHUNK_TIME_LIMIT_S:g} s "
            "(a stalled decoder or a damaged stream?)"
        ) from None


def chunk_poses(
    path: Path,
    settings: PoseSettings,
    chunks: list[Chunk],
    stride: int,
    workers: int,
    on_done: Callable[[int], None] = lambda samples: None,
) -> list[ChunkPose]:
    """The pose of each chunk, in order, from ``workers`` spawned processes (one PoseEstimator each);
    ``on_done(samples kept)`` as each chunk finishes. Every wait is bounded, and the pool is stopped
    on the way out (on an error or Ctrl-C too), so no worker outlives the call."""
    model_files(settings.model_path)  # a missing model fails here, not in every worker's initializer
    context = multiprocessing.get_context("spawn")  # no fork of a parent that may hold threads
    pool = ProcessPool(
        min(workers, len(chunks)), initializer=_init_chunk_worker, initargs=(settings, os.getpid()), context=context
    )
    try:
        numbers: dict[Future, int] = {
            pool.schedule(_chunk_in_worker, (path, chunk, stride), timeout=CHUNK_TIME_LIMIT_S): number
            for number, chunk in enumerate(chunks)
        }
        poses: dict[int, ChunkPose] = {}
        pending = set(numbers)
        while pending:
            finished, pending = wait(pending, CHUNK_TIME_LIMIT_S + POOL_START_GRACE_S, FIRST_COMPLETED)
            if not finished:
                raise VideoError(f"{path}: no chunk of its pose stream finished in time (worker start-up stalled?)")
            for future in finished:
                pose = poses[numbers[future]] = chunk_result(path, future)
                on_done(0 if pose.sequence is None else len(pose.sequence.frame_indices))
        return [poses[number] for number in range(len(chunks))]
    finally:
        stop_pool(pool)


def stitched(path: Path, chunks: list[Chunk], poses: list[ChunkPose]) -> PoseSequence | None:
    """The chunks' samples as one stream, which ends at the first chunk that decodes short of its end
    (the video ends there: a sequential pass stops there too); None when a chunk's first frame is not
    the frame its predecessor decoded at that index (seeking was not exact)."""
    parts: list[PoseSequence] = []
    for number, (chunk, pose) in enumerate(zip(chunks, poses, strict=True)):
        if pose.sequence is not None:
            parts.append(pose.sequence)
        if chunk.end is None or pose.decoded_to < chunk.end:
            break
        if poses[number + 1].lead_digest != pose.handoff_digest:
            return None
    if not parts:
        raise VideoError(f"{path}: no decodable frame")
    return PoseSequence(
        np.concatenate([part.landmarks for part in parts]),
        np.concatenate([part.detected for part in parts]),
        np.concatenate([part.frame_indices for part in parts]),
        pose.decoded_to,
        parts[0].aspect,
    )


@contextmanager
def progress_bar(path: Path, total: int, shown: bool) -> Iterator[Callable[[int], None]]:
    """A progress bar of ``total`` pose samples on stderr with the expected remaining time (only when
    ``shown`` and stderr is a terminal); yields the function that advances it."""
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())
    console = Console(stderr=True)
    with Progress(*columns, console=console, disable=not (shown and console.is_terminal)) as bar:
        task = bar.add_task(f"pose stream of {path.name}", total=total)
        yield lambda samples: bar.advance(task, samples)


def chunked_stream(path: Path, settings: PoseSettings, stride: int, chunking: Chunking) -> PoseSequence:
    """BlazePose (tracking) on every ``stride``-th frame of a video file, in parallel chunks (see the
    module docstring; no cache); a video of one chunk, or whose seeking is not exact, sequentially."""
    fps, frame_count = video_header(path)
    chunks = chunking.plan(frame_count, fps, stride)
    if len(chunks) > 1:
        with progress_bar(path, -(-frame_count // stride), chunking.progress) as advance:
            poses = chunk_poses(path, settings, chunks, stride, chunking.workers, advance)
        sequence = stitched(path, chunks, poses)
        if sequence is not None:
            return sequence
        logger.warning("%s: seeking does not land on the exact frame: reading it in one pass", path)
    with PoseEstimator(settings) as estimator:
        return extract_stream(path, estimator, stride)


def video_stream(
    path: str | Path,
    settings: PoseSettings = PoseSettings(),
    cache_dir: str | Path | None = None,
    estimator: PoseEstimator | None = None,
    stride: int = 1,
    chunking: Chunking | None = None,
) -> tuple[Stream, bool]:
    """The pose stream of a video through the keypoint cache, and whether it came from the cache.

    A corrupt entry is reported (logging.warning) and rebuilt. ``estimator`` (built with
    ``settings``) is reused when given, for a sequential pass; ``chunking`` poses a video longer than
    one chunk in parallel worker processes instead (``chunked_stream``, its own cache kind). Raises
    VideoError naming the file for missing or unreadable input.
    """
    if not Path(path).is_file():
        raise VideoError(f"{path}: no such file")
    if is_pose_file(path):
        return Stream(load_pose(path), DEFAULT_FPS, 1), True
    if estimator is not None and estimator.settings != settings:
        raise ValueError(f"estimator built with {estimator.settings}, but the cache is keyed by {settings}")
    path = Path(path)
    fps, frame_count = video_header(path)
    chunked = chunking if chunking is not None and len(chunking.plan(frame_count, fps, stride)) > 1 else None
    kind = f"stream-{stride}" if chunked is None else chunked.kind(stride)
    entry = Path(DEFAULT_CACHE_DIR if cache_dir is None else cache_dir) / cache_key(path, settings.token(), kind=kind)

    def build() -> PoseSequence:
        if chunked is not None:
            return chunked_stream(path, settings, stride, chunked)
        if estimator is not None:
            return extract_stream(path, estimator, stride)
        with PoseEstimator(settings) as owned:
            return extract_stream(path, owned, stride)

    sequence, cached = read_through(entry, build, f"pose stream cache entry for {path}")
    return Stream(sequence, fps, stride), cached
