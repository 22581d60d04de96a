"""Batch extractor: fill the keypoint cache for many videos in parallel worker processes.

Each worker process keeps one PoseEstimator for all its videos and goes through
``features.video_pose``, so an entry already in the cache is read, not recomputed. A video that fails
(missing, not a video, ...) is reported in the summary and never stops the batch; a worker process
that dies (a crash in native code, an out-of-memory kill) costs a retry, not the batch.

In-process (``num_workers`` <= 1), two threads run ``video_pose`` on consecutive videos and share the
estimator, one video at a time: the next video is decoded while BlazePose runs on the current one
(OpenCV and MediaPipe release the GIL), with the sampled frames of at most two videos in memory and
the same landmarks as one video after the other. A worker process runs one video at a time: the
pool already keeps every core busy.

``--shard K/N`` keeps every N-th video of the sorted list, starting at K (0 <= K < N), so the N tasks
of a cluster job array (e.g. SLURM ``--array=0-3`` with ``--shard $SLURM_ARRAY_TASK_ID/4``) split a
data set deterministically; they can share one cache folder because entries are written atomically.

    python cli.py extract data/ --num_workers 2
    python cli.py extract --csv data/squat_scores.csv --data_dir data --shard 0/4
"""

import argparse
import multiprocessing
import os
import re
import threading
import time
from collections import deque
from collections.abc import Generator, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, ThreadPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from rich.progress import track

from preprocessing.constants import DEFAULT_CACHE_DIR
from preprocessing.dataset import read_csv, resolve_video
from preprocessing.features import video_pose
from preprocessing.pose import RUNNING_MODES, PoseEstimator, PoseSettings, model_files
from preprocessing.video import has_video_extension

IN_PROCESS_THREADS = 2  # in-process: one video in BlazePose while the next one is decoded


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
        missing = int((~sequence.detected).sum())
        return VideoResult(str(path), cached, frames=len(sequence.detected), frames_without_person=missing)


def failure_reason(path: Path, error: Exception) -> str:
    """The error's message, naming the file (most messages already start with it), and its type."""
    message = str(error) if str(path) in str(error) else f"{path}: {error}"
    return f"{message} [{type(error).__name__}]"


_worker: Extractor | None = None  # the worker process's Extractor (set by the pool initializer)


def _init_worker(settings: PoseSettings, cache_dir: Path) -> None:
    global _worker
    _worker = Extractor(settings, cache_dir)


def _run_in_worker(path: Path) -> VideoResult:
    assert _worker is not None, "pool initializer did not run"
    return _worker(path)


WORKER_DIED = "its worker process died on it (a crash in native code, or killed, e.g. out of memory)"


def run_pool(
    queue: deque[Path], workers: int, settings: PoseSettings, cache_dir: Path
) -> Generator[VideoResult, None, list[Path]]:
    """Yield the results for the videos of ``queue`` (consumed) from a new pool of ``workers`` fresh
    processes, at most one video per worker in flight; return the videos in flight if a worker died."""
    context = multiprocessing.get_context("spawn")  # no fork of a parent that may hold threads (torch, TF)
    with ProcessPoolExecutor(workers, context, initializer=_init_worker, initargs=(settings, cache_dir)) as pool:
        running: dict[Future[VideoResult], Path] = {}
        while queue or running:
            while queue and len(running) < workers:
                path = queue.popleft()
                running[pool.submit(_run_in_worker, path)] = path
            finished, _ = wait(running, return_when=FIRST_COMPLETED)
            broken = [future for future in finished if isinstance(future.exception(), BrokenProcessPool)]
            for future in finished.difference(broken):
                yield future.result()
                del running[future]
            if broken:
                return list(running.values())
    return []


def pool_results(paths: list[Path], settings: PoseSettings, cache_dir: Path, num_workers: int) -> Iterator[VideoResult]:
    """Results for ``paths`` from ``num_workers`` worker processes, each with its own PoseEstimator.

    When a worker dies, the videos in flight are retried one at a time, each alone in a new process (so a
    crash can only be its own), and reported failed if it dies again; the rest go on in a new pool.
    """
    model_files(settings.model_path)  # a missing model fails here, not in every worker's initializer
    waiting: deque[Path] = deque(paths)
    suspects: deque[Path] = deque()
    while waiting or suspects:
        if suspects:
            path = suspects.popleft()
            if (yield from run_pool(deque([path]), 1, settings, cache_dir)):
                yield VideoResult(str(path), error=f"{path}: {WORKER_DIED}")
        else:
            suspects.extend((yield from run_pool(waiting, num_workers, settings, cache_dir)))


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


def results(paths: list[Path], settings: PoseSettings, cache_dir: Path, num_workers: int) -> Iterator[VideoResult]:
    """Results for ``paths`` in completion order: from workers, or in this process (num_workers <= 1),
    decoding the next video while BlazePose runs on the current one."""
    if num_workers > 1:
        yield from pool_results(paths, settings, cache_dir, num_workers)
        return
    extractor = Extractor(settings, cache_dir)
    try:
        yield from read_ahead(extractor, paths)
    finally:
        extractor.close()


def extract_to_cache(
    paths: list[Path],
    cache_dir: Path,
    settings: PoseSettings = PoseSettings(),
    num_workers: int = 0,
    progress: bool = True,
) -> ExtractSummary:
    """Fill ``cache_dir`` with the pose of every video in ``paths``. ``progress``: show a progress bar
    and print the summary at the end."""
    start = time.perf_counter()
    summary = ExtractSummary()
    work = results(list(paths), settings, Path(cache_dir), min(num_workers, len(paths)))
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


def is_video(path: Path) -> bool:
    return path.is_file() and has_video_extension(path)


def videos_in(inputs: list[Path]) -> list[Path]:
    """Files as given; folders searched recursively for video files (by extension)."""
    found: list[Path] = []
    for item in inputs:
        found += sorted(filter(is_video, item.rglob("*"))) if item.is_dir() else [item]
    return found


def videos_in_csv(csv_path: Path, data_dir: Path) -> list[Path]:
    """The ``video`` column of a scores CSV, relative to ``data_dir`` (as preprocessing.dataset reads it)."""
    return [resolve_video(text, data_dir) for text in read_csv(csv_path)["video"] if text.strip()]


def unique(paths: list[Path]) -> list[Path]:
    """``paths`` without repeats of the same file (compared as absolute paths), first one kept."""
    first: dict[str, Path] = {}
    for path in paths:
        first.setdefault(os.path.abspath(path), path)
    return list(first.values())


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="cli.py extract",
        description="Run BlazePose on videos and fill the keypoint cache (parallel, resumable, shardable).",
    )
    parser.add_argument("inputs", nargs="*", type=Path, help="video files or folders (searched recursively)")
    parser.add_argument("--csv", type=Path, action="append", default=[],
                        help="scores CSV whose 'video' column lists the videos (repeatable)")
    parser.add_argument("--data_dir", type=Path, default=Path("data"),
                        help="base of the CSV's relative video paths; searched when no input or CSV is given")
    parser.add_argument("--cache_dir", type=Path, default=Path(DEFAULT_CACHE_DIR))
    parser.add_argument("--num_workers", type=int, default=len(os.sched_getaffinity(0)),
                        help="worker processes (0 or 1: in this process); default: the usable CPU cores")
    parser.add_argument("--shard", default=None, help="K/N: only every N-th video of the sorted list, from K")
    parser.add_argument("--model_path", default=None, help="a pose_landmarker_*.task bundle (default: the model "
                        "shipped with mediapipe)")
    parser.add_argument("--running_mode", choices=RUNNING_MODES, default="video")
    parser.add_argument("--no_progress", action="store_true", help="no progress bar or summary")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    """``python cli.py extract ...``: 0 when every video is cached, 1 when some failed, 2 for bad arguments."""
    args = parse_args(argv)
    try:
        settings = PoseSettings(model_path=args.model_path, running_mode=args.running_mode)
        if not (args.inputs or args.csv or args.data_dir.is_dir()):
            raise ValueError(f"no videos given and no folder {args.data_dir} to search")
        inputs = args.inputs if args.inputs or args.csv else [args.data_dir]
        paths = unique(videos_in(inputs) + [video for csv in args.csv for video in videos_in_csv(csv, args.data_dir)])
        if args.shard is not None:
            paths = select_shard(paths, args.shard)
    except (ValueError, OSError) as error:  # bad shard, settings, CSV or model file
        print(f"error: {error}")
        return 2
    summary = extract_to_cache(paths, args.cache_dir, settings, args.num_workers, progress=not args.no_progress)
    return 1 if summary.failed else 0
