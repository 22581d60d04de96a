"""Repetition counting on real push-up footage against counts made by eye, and its timing.

    python benchmarks/reps.py [--stride 1] [--cache_dir checkpoints/keypoints_cache] [--last_rep_up 0.6]
    python benchmarks/reps.py --long [--long_seconds 60] [--workers 2]  # a long recording (~4 min)

Reads ``tests/fixtures/rep_counts.csv`` (video relative to ``../shared``, reps counted by eye),
extracts each video's pose stream (BlazePose every ``stride``-th frame, cached), segments it, and
prints per video the counted and found repetitions, then exact / off-by-one accuracy, the movements
not counted as repetitions (by reason) and the videos where a fallback signal was followed, and the
time per frame of pose extraction (the baseline: decoding alone) and of segmentation.

``--long``: the 1080p push-up sets of ``../shared/real_footage/pushups``, one after the other up to
``--long_seconds``, written as one video in a temp folder; its pose stream in one process (the
baseline) and in parallel chunks (``serving.stream.Chunking``, ``--workers``), both uncached, in
video seconds per wall second, their ratio, the CPU time each took (little changed by other jobs on the machine,
unlike the wall time), and how far the two streams and their repetitions differ.
"""

import argparse
import csv
import itertools
import os
import resource
import tempfile
import time
from collections import Counter
from pathlib import Path

import cv2
import numpy as np

from preprocessing.constants import DEFAULT_CACHE_DIR
from preprocessing.pose import PoseEstimator, PoseSettings
from preprocessing.video import decoded_frames, opened_video
from serving.reps import LAST_REP_UP, segment
from serving.stream import Chunking, Stream, strided_frames, video_stream

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
FIXTURE = REPO / "tests" / "fixtures" / "rep_counts.csv"
SET_GAP_SECONDS = 1.0  # --long: black frames between two sets (longer than the segmenter's 0.5 s gap filling)


def decode_seconds(path: Path, stride: int) -> float:
    """Seconds to decode the video as the stream does (grab all, retrieve + convert every stride-th)."""
    began = time.perf_counter()
    with opened_video(path) as capture:
        for _ in strided_frames(capture, stride, path):
            pass
    return time.perf_counter() - began


def long_recording(path: Path, seconds: float) -> Path:
    """The real 1080p push-up sets one after the other (from the first again) up to ``seconds``, as one
    mp4v video at 30 fps (their rate), with SET_GAP_SECONDS of black frames after each set: the person
    leaves between sets (a hard cut from one set's scene to the next would be tracked as one person
    jumping across the frame)."""
    sources = sorted((SHARED / "real_footage" / "pushups").glob("*.mp4"))
    fps, size = 30.0, (1920, 1080)
    black = np.zeros((size[1], size[0], 3), np.uint8)
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter.fourcc(*"mp4v"), fps, size)
    wanted, written, number = round(seconds * fps), 0, 0
    while written < wanted:
        source = sources[number % len(sources)]
        with opened_video(source) as capture:
            frames = (frame for _, frame in decoded_frames(capture, source, lambda index: True))
            for frame in itertools.chain(frames, itertools.repeat(black, round(SET_GAP_SECONDS * fps))):
                assert frame is not None  # every frame is wanted
                writer.write(frame if frame.shape[1::-1] == size else cv2.resize(frame, size))
                written += 1
                if written == wanted:
                    break
        number += 1
    writer.release()
    return path


def cpu_seconds() -> float:
    """CPU time (user + system) of this process and of its finished child processes so far."""
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def rep_frames(stream: Stream) -> list[tuple[int, int, int]]:
    """(start, bottom, end) of each push-up the segmenter finds in ``stream``."""
    reps, _ = segment(stream.sequence, "pushup", stream.fps, stream.stride)
    return [(rep.start, rep.bottom, rep.end) for rep in reps]


def compare_long(seconds: float, workers: int, stride: int) -> None:
    """Print the sequential and the chunked pose stream's speed on a long recording, and their difference."""
    settings = PoseSettings()
    with tempfile.TemporaryDirectory() as folder:
        video = long_recording(Path(folder) / "long_pushups.mp4", seconds)
        timed: dict[str, tuple[Stream, float, float]] = {}
        for name, chunking in (("one process", None), (f"chunks, {workers} workers", Chunking(workers))):
            began, cpu = time.perf_counter(), cpu_seconds()
            stream, _ = video_stream(video, settings, Path(folder) / name, stride=stride, chunking=chunking)
            timed[name] = stream, time.perf_counter() - began, cpu_seconds() - cpu
    (single, single_s, _), (chunked, chunked_s, _) = timed.values()
    length = single.sequence.total_frames / single.fps
    print(f"long recording: {length:.1f} s of 1080p ({single.sequence.total_frames} frames), stride {stride}")
    for name, (_, wall, cpu) in timed.items():
        print(f"  {name}: {wall:.1f} s, {length / wall:.2f} video s per wall s; CPU {cpu:.1f} s (workers included)")
    print(f"  ratio: {single_s / chunked_s:.2f}x (load average over the last 5 min: {os.getloadavg()[1]:.1f})")
    one, other = single.sequence, chunked.sequence
    visible = (one.detected & other.detected)[:, None] & (one.landmarks[..., 3] > 0.5)
    difference = np.abs(other.landmarks - one.landmarks)[..., :2][visible]
    print(
        f"  same frames: {np.array_equal(other.frame_indices, one.frame_indices)}; a person in only one stream: "
        f"{(one.detected != other.detected).sum()} frames; visible landmarks where both have one, |dx|, |dy| "
        f"(frame fractions): "
        f"median {np.median(difference):.5f}, 99th percentile {np.percentile(difference, 99):.4f}, "
        f"max {difference.max():.3f}"
    )
    ones, chunks = rep_frames(single), rep_frames(chunked)
    print(f"  reps: one process {len(ones)}, chunks {len(chunks)}", end="")
    if len(ones) == len(chunks) and ones:
        offsets = np.abs(np.array(ones) - np.array(chunks))
        print(f"; start / bottom / end at most {offsets.max()} frames apart ({(offsets > 0).any(axis=1).sum()} differ)")
    else:
        print(f"\n    one process: {ones}\n    chunks: {chunks}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--stride", type=int, default=1)
    parser.add_argument("--cache_dir", default=DEFAULT_CACHE_DIR)
    parser.add_argument("--last_rep_up", type=float, default=LAST_REP_UP, help="the last-rep rule (serving.reps)")
    parser.add_argument("--long", action="store_true", help="time a long recording: one process vs chunks")
    parser.add_argument("--long_seconds", type=float, default=60.0)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    if not SHARED.is_dir():
        print(f"{SHARED} is absent: nothing to measure")
        return 0
    if args.long:
        compare_long(args.long_seconds, args.workers, args.stride)
        return 0
    with open(FIXTURE, newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    settings = PoseSettings()
    exact = near = frames = fallbacks = 0
    reasons: Counter[str] = Counter()  # movements deep enough that were not repetitions, by reason
    pose_seconds = decode = segment_seconds = 0.0
    with PoseEstimator(settings) as estimator:
        for row in rows:
            path = SHARED / row["video"]
            began = time.perf_counter()
            stream, cached = video_stream(path, settings, args.cache_dir, estimator, args.stride)
            if not cached:
                pose_seconds += time.perf_counter() - began
                frames += len(stream.sequence.frame_indices)
                decode += decode_seconds(path, args.stride)
            began = time.perf_counter()
            reps, segmenter = segment(stream.sequence, row["exercise"], stream.fps, stream.stride, args.last_rep_up)
            reasons.update(why.split(" (")[0] for _, why in segmenter.rejected)
            fallbacks += len({name for name, _, _ in segmenter.spans}) > 1
            segment_seconds += time.perf_counter() - began
            counted = int(row["reps"])
            exact += len(reps) == counted
            near += abs(len(reps) - counted) <= 1
            flag = "" if len(reps) == counted else f"  <-- off by {len(reps) - counted:+d}"
            print(f"{row['video']}: counted {counted}, found {len(reps)}{flag}")
    total = len(rows)
    print(f"\n{total} videos: exact {exact} ({exact / total:.0%}), within one {near} ({near / total:.0%})")
    print(f"not counted as repetitions: {dict(reasons) or 'none'}; a fallback signal followed in {fallbacks} videos")
    if frames:
        print(
            f"pose stream: {1000 * pose_seconds / frames:.1f} ms/frame over {frames} frames "
            f"(decoding alone {1000 * decode / frames:.1f} ms/frame; cv2 {cv2.__version__})"
        )
    samples = sum(1 for _ in rows)
    print(f"segmentation: {1000 * segment_seconds / samples:.2f} ms per video")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
