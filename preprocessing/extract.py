"""Batch extractor: fill the keypoint cache for many videos in parallel worker processes.

Videos whose pose is already cached are read here, so a batch that is all cached starts no worker.
The others go to a pebble process pool (spawned workers that import numpy, OpenCV and mediapipe, never
torch or Lightning); each worker keeps one PoseEstimator for all its videos and goes through
``features.video_pose``. A video that fails (missing, not a video, ...) is reported in the summary and
never stops the batch. Failures of the machinery are bounded too:

- a worker that dies (a crash in native code, an out-of-memory kill) costs its video one retry; a
  second death fails that video, and a pool that cannot keep workers alive is restarted at most
  MAX_POOL_STARTS times before the remaining videos are reported failed;
- a video that takes longer than ``time_limit`` seconds in a worker (a decoder stalled on a damaged
  stream) is failed with that reason and its worker stopped (SIGTERM, then SIGKILL after 3 s);
- every wait on the pool is bounded, and the pool is stopped for certain on the way out (also on
  Ctrl-C or an error);
- workers watch their parent: when it dies (even by SIGKILL) they exit (``preprocessing.workers``),
  so no worker outlives the command.

In-process (``num_workers`` <= 1), two threads run ``video_pose`` on consecutive videos and share the
estimator, one video at a time: the next video is decoded while BlazePose runs on the current one
(OpenCV and MediaPipe release the GIL), with the sampled frames of at most two videos in memory and
the same landmarks as one video after the other; this mode has no time limit (a thread cannot be
stopped). A worker process runs one video at a time: the pool already keeps every core busy.

``--shard K/N`` keeps every N-th video of the sorted list, starting at K (0 <= K < N), so the N tasks
of a cluster job array (e.g. SLURM ``--array=0-3`` with ``--shard $SLURM_ARRAY_TASK_ID/4``) split a
data set deterministically; they can share one cache folder because entries are written atomically.

    python cli.py extract data/ --num_workers 2
    python cli.py extract --csv data/squat_scores.csv --data_dir data --shard 0/4
"""

import multiprocessing
import os
import re
import threading
import time
from collections import deque
from collections.abc import Generator, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from concurrent.futures import TimeoutError as FutureTimeout
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import numpy as np
from jsonargparse.typing import NonNegativeInt, PositiveFloat
from pebble import ProcessExpired, ProcessPool
from rich.progress import track

from preprocessing.cache import CorruptEntryError, PoseSequence, load_pose
from preprocessing.command import run_function
from preprocessing.constants import DEFAULT_CACHE_DIR, DEFAULT_DATA_DIR
from preprocessing.dataset import read_csv, resolve_video
from preprocessing.features import cache_entry, video_pose
from preprocessing.files import check_writable, find_inputs, is_pose_file, is_video_name
from preprocessing.pose import PoseEstimator, PoseSettings, model_files
from preprocessing.workers import DEFAULT_WORKERS, POOL_START_GRACE_S, stop_pool, watch_parent

IN_PROCESS_THREADS = 2  # in-process: one video in BlazePose while the next one is decoded
DEFAULT_TIME_LIMIT_S = 300.0  # per video in a worker: a 20 s 1080p clip takes ~1.5 s, so only a stall gets here
MAX_DEATHS_PER_VIDEO = 2  # a video whose worker dies twice is failed (the second death is its own)
MAX_POOL_STARTS = 3  # pools in a row that break with no video finished before the rest is failed


@dataclass(frozen=True)
class VideoResult:
    """What happened to one video."""

    path: str
    from_cache: bool = False
    error: str | None = None
    frames: int = 0
    frames_without_person: int = 0


@dataclass
class ExtractSummary:
    """Outcome of a batch. ``done``: extracted now; ``from_cache``: already cached; ``failed``: path ->
    reason (naming the file); frame counts are over the sampled frames of the videos that did not fail."""

    done: int = 0
    from_cache: int = 0
    failed: dict[str, str] = field(default_factory=dict)
    frames: int = 0
    frames_without_person: int = 0
    videos_without_person: list[str] = field(default_factory=list)
    seconds: float = 0.0

    def add(self, result: VideoResult) -> None:
        if result.error is not None:
            self.failed[result.path] = result.error
            return
        if result.from_cache:
            self.from_cache += 1
        else:
            self.done += 1
        self.frames += result.frames
        self.frames_without_person += result.frames_without_person
        if result.frames_without_person == result.frames:
            self.videos_without_person.append(result.path)

    def report(self) -> str:
        """Human-readable summary (several lines)."""
        total = self.done + self.from_cache + len(self.failed)
        rate = total / self.seconds if self.seconds > 0 else 0.0
        lines = [
            f"{total} videos in {self.seconds:.1f} s ({rate:.2f} videos/s): {self.done} done, "
            f"{self.from_cache} from cache, {len(self.failed)} failed",
            f"frames without a person: {self.frames_without_person} of {self.frames} sampled",
        ]
        lines += [f"no person in any frame: {path}" for path in sorted(self.videos_without_person)]
        lines += [f"failed: {reason}" for _, reason in sorted(self.failed.items())]
        return "\n".join(lines)


class SharedEstimator(PoseEstimator):
    """A PoseEstimator that threads can share: one video at a time (it tracks a person within a video)."""

    def __init__(self, settings: PoseSettings) -> None:
        super().__init__(settings)
        self._lock = threading.Lock()

    def estimate(self, frames: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
        with self._lock:
            return super().estimate(frames)


class Extractor:
    """Caches the pose of one video per call, reusing one PoseEstimator; threads may call it at once."""

    def __init__(self, settings: PoseSettings, cache_dir: Path) -> None:
        self.settings, self.cache_dir = settings, cache_dir
        self.estimator = SharedEstimator(settings)

    def close(self) -> None:
        self.estimator.close()

    def __call__(self, path: Path) -> VideoResult:
        try:
            sequence, cached = video_pose(path, self.settings, self.cache_dir, self.estimator)
        except Exception as error:  # any failure of one video is reported, never stops the batch
            return VideoResult(str(path), error=failure_reason(path, error))
        return sequence_result(path, sequence, cached)


def sequence_result(path: Path, sequence: PoseSequence, from_cache: bool) -> VideoResult:
    missing = int((~sequence.detected).sum())
    return VideoResult(str(path), from_cache, frames=len(sequence.detected), frames_without_person=missing)


def cached_result(path: Path, settings: PoseSettings, cache_dir: Path) -> VideoResult | None:
    """The result of a video whose pose is already cached (or a ``*.pose.npz`` file), read in this
    process; None when a worker has to look at it (not cached, corrupt entry, missing or bad file)."""
    try:
        return sequence_result(
            path, load_pose(path if is_pose_file(path) else cache_entry(path, settings, cache_dir)), True
        )
    except (OSError, CorruptEntryError):
        return None


def failure_reason(path: Path, error: Exception) -> str:
    """The error's message, naming the file (most messages already start with it), and its type."""
    message = str(error) if str(path) in str(error) else f"{path}: {error}"
    return f"{message} [{type(error).__name__}]"


_worker: Extractor | None = None  # the worker process's Extractor (set by the pool initializer)


def _init_worker(settings: PoseSettings, cache_dir: Path, parent_pid: int) -> None:
    global _worker
    watch_parent(parent_pid)
    _worker = Extractor(settings, cache_dir)


def _run_in_worker(path: Path) -> VideoResult:
    assert _worker is not None, "pool initializer did not run"
    return _worker(path)


WORKER_DIED = "its worker process died on it twice (a crash in native code, or killed, e.g. out of memory)"
NO_WORKERS = "worker processes kept dying before finishing any video (see the messages above)"


def outcome(path: Path, future: Future, time_limit: float, deaths: dict[Path, int]) -> VideoResult | None:
    """The result of a finished task; None when its worker died and the video deserves another try."""
    try:
        return future.result()
    except FutureTimeout:
        return VideoResult(
            str(path),
            error=f"{path}: took longer than {time_limit:g} s (a stalled decoder or a "
            "damaged stream?); its worker was stopped",
        )
    except ProcessExpired as error:
        deaths[path] = deaths.get(path, 0) + 1
        if deaths[path] < MAX_DEATHS_PER_VIDEO:
            return None
        return VideoResult(str(path), error=f"{path}: {WORKER_DIED} (exit code {error.exitcode})")
    except Exception as error:  # an error of the pool machinery itself (e.g. a result it cannot unpickle)
        return VideoResult(str(path), error=failure_reason(path, error))


def run_pool(
    queue: deque[Path],
    workers: int,
    settings: PoseSettings,
    cache_dir: Path,
    time_limit: float,
    deaths: dict[Path, int],
) -> Generator[VideoResult, None, bool]:
    """Yield the results of the videos of ``queue`` (consumed; a video whose worker died goes back in
    once) from a new pool of ``workers`` processes. Returns False when the pool broke (every worker
    died with no video running, or nothing finished within the bound); the unfinished videos are then
    back in ``queue``."""
    context = multiprocessing.get_context("spawn")  # no fork of a parent that may hold threads (torch, TF)
    pool = ProcessPool(workers, initializer=_init_worker, initargs=(settings, cache_dir, os.getpid()), context=context)
    running: dict[Future, Path] = {}
    try:
        while queue or running:
            while queue:
                try:
                    scheduled = pool.schedule(_run_in_worker, (queue[0],), timeout=time_limit)
                except RuntimeError:  # pebble refuses new tasks once the pool broke
                    queue.extend(running.values())
                    return False
                running[scheduled] = queue.popleft()
            finished, _ = wait(running, timeout=time_limit + POOL_START_GRACE_S, return_when=FIRST_COMPLETED)
            broken = not finished or any(isinstance(f.exception(), BrokenProcessPool) for f in finished)
            for future in finished:
                if isinstance(future.exception(), BrokenProcessPool):
                    continue
                path = running.pop(future)
                result = outcome(path, future, time_limit, deaths)
                if result is None:
                    queue.append(path)
                else:
                    yield result
            if broken:
                queue.extend(running.values())
                return False
        return True
    finally:
        stop_pool(pool)


def pool_results(
    paths: list[Path], settings: PoseSettings, cache_dir: Path, num_workers: int, time_limit: float
) -> Iterator[VideoResult]:
    """Results for ``paths`` from ``num_workers`` worker processes, each with its own PoseEstimator
    (see the module docstring for what happens when workers die or stall)."""
    model_files(settings.model_path)  # a missing model fails here, not in every worker's initializer
    waiting: deque[Path] = deque(paths)
    deaths: dict[Path, int] = {}
    failed_starts = 0
    while waiting and failed_starts < MAX_POOL_STARTS:
        before = len(waiting)
        if (yield from run_pool(waiting, num_workers, settings, cache_dir, time_limit, deaths)):
            return
        failed_starts = 0 if len(waiting) < before else failed_starts + 1
    for path in waiting:
        yield VideoResult(str(path), error=f"{path}: {NO_WORKERS}")


def read_ahead(extractor: Extractor, paths: list[Path]) -> Iterator[VideoResult]:
    """``extractor(path)`` for each path, in order, in IN_PROCESS_THREADS threads and with as many videos
    in flight at most: the next video is decoded while BlazePose runs on the current one."""
    with ThreadPoolExecutor(IN_PROCESS_THREADS) as threads:
        in_flight: deque[Future[VideoResult]] = deque()
        for path in paths:
            in_flight.append(threads.submit(extractor, path))
            if len(in_flight) == IN_PROCESS_THREADS:
                yield in_flight.popleft().result()
        yield from (future.result() for future in in_flight)


def results(
    paths: list[Path], settings: PoseSettings, cache_dir: Path, num_workers: int, time_limit: float
) -> Iterator[VideoResult]:
    """Results for ``paths`` in completion order: cached ones first (read here), the others from
    workers, or in this process (num_workers <= 1), decoding the next video while BlazePose runs on
    the current one."""
    todo: list[Path] = []
    for path in paths:
        cached = cached_result(path, settings, cache_dir)
        if cached is None:
            todo.append(path)
        else:
            yield cached
    if not todo:
        return
    if num_workers > 1:
        yield from pool_results(todo, settings, cache_dir, min(num_workers, len(todo)), time_limit)
        return
    extractor = Extractor(settings, cache_dir)
    try:
        yield from read_ahead(extractor, todo)
    finally:
        extractor.close()


def extract_to_cache(
    paths: list[Path],
    cache_dir: Path,
    settings: PoseSettings = PoseSettings(),
    num_workers: int = 0,
    progress: bool = True,
    time_limit: float = DEFAULT_TIME_LIMIT_S,
) -> ExtractSummary:
    """Fill ``cache_dir`` with the pose of every video in ``paths``. ``progress``: show a progress bar
    and print the summary at the end. ``time_limit``: seconds per video in a worker process."""
    start = time.perf_counter()
    summary = ExtractSummary()
    work = results([Path(path) for path in paths], settings, Path(cache_dir), num_workers, time_limit)
    for result in track(work, total=len(paths), description="extracting poses", disable=not progress):
        summary.add(result)
    summary.seconds = time.perf_counter() - start
    if progress:
        print(summary.report())
    return summary


def select_shard(paths: list[Path], shard: str) -> list[Path]:
    """Every N-th path of the sorted list starting at K, for ``shard`` = "K/N" with 0 <= K < N."""
    match = re.fullmatch(r"(\d+)/(\d+)", shard.strip())
    if match is None or not int(match[1]) < int(match[2]):
        raise ValueError(f"shard must be K/N with 0 <= K < N (e.g. 0/4), not {shard!r}")
    index, count = int(match[1]), int(match[2])
    return sorted(paths, key=str)[index::count]


def videos_in_csv(csv_path: Path, data_dir: Path) -> list[Path]:
    """The ``video`` column of a scores CSV, relative to ``data_dir`` (as preprocessing.dataset reads it)."""
    return [resolve_video(text, data_dir) for text in read_csv(csv_path)["video"] if text.strip()]


def unique(paths: list[Path]) -> list[Path]:
    """``paths`` without repeats of the same file (compared as absolute paths), first one kept."""
    first: dict[str, Path] = {}
    for path in paths:
        first.setdefault(os.path.abspath(path), path)
    return list(first.values())


def extract(
    inputs: Sequence[Path] = (),
    csv: Sequence[Path] = (),
    data_dir: Path = Path(DEFAULT_DATA_DIR),
    cache_dir: Path = Path(DEFAULT_CACHE_DIR),
    num_workers: NonNegativeInt = DEFAULT_WORKERS,
    shard: str | None = None,
    model_path: str | None = None,
    running_mode: Literal["video", "image"] = "video",
    time_limit: PositiveFloat = DEFAULT_TIME_LIMIT_S,
    progress: bool = True,
) -> int:
    """Run BlazePose on videos and fill the keypoint cache (parallel, resumable, shardable).

    Returns 0 when every video is cached, 1 when some failed, 2 for bad arguments.

    Args:
        inputs: video files or folders (searched recursively)
        csv: scores CSV whose 'video' column lists the videos
        data_dir: base of the CSV's relative video paths; searched when no input or CSV is given
        cache_dir: keypoint cache folder
        num_workers: worker processes (0 or 1: in this process); default: the usable CPU cores
        shard: K/N: only every N-th video of the sorted list, from K
        model_path: a pose_landmarker_*.task bundle (default: the model shipped with mediapipe)
        running_mode: BlazePose tracking across the sampled frames (video), or per frame (image)
        time_limit: seconds per video in a worker process before it is failed as stalled
        progress: a progress bar and a summary (--no_progress: neither)
    """
    try:
        settings = PoseSettings(model_path=model_path, running_mode=running_mode)
        if not (inputs or csv or data_dir.is_dir()):
            raise ValueError(f"no videos given and no folder {data_dir} to search")
        searched = list(inputs) if inputs or csv else [data_dir]
        listed = [video for table in csv for video in videos_in_csv(table, data_dir)]
        paths = unique(find_inputs(searched, is_video_name) + listed)
        if not paths:
            raise ValueError(f"no video files in {', '.join(map(str, [*searched, *csv]))}")
        if shard is not None:
            paths = select_shard(paths, shard)
    except (ValueError, OSError) as error:  # bad shard, settings, CSV or model file
        print(f"error: {error}")
        return 2
    check_writable(cache_dir, "keypoint cache folder")  # before any video is posed: NotWritableError, status 7
    summary = extract_to_cache(paths, cache_dir, settings, num_workers, progress=progress, time_limit=time_limit)
    return 1 if summary.failed else 0


def main(argv: list[str] | None = None) -> int:
    """``python cli.py extract ...`` (see ``extract``); bad arguments exit with status 2."""
    return run_function(extract, argv, "cli.py extract", positional="inputs")
