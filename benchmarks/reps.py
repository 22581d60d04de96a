"""Repetition counting on real push-up footage against counts made by eye, and its timing.

    python benchmarks/reps.py [--stride 1] [--cache_dir checkpoints/keypoints_cache] [--last_rep_up 0.6]

Reads ``tests/fixtures/rep_counts.csv`` (video relative to ``../shared``, reps counted by eye),
extracts each video's pose stream (BlazePose every ``stride``-th frame, cached), segments it, and
prints per video the counted and found repetitions, then exact / off-by-one accuracy, the movements
not counted as repetitions (by reason) and the videos where a fallback signal was followed, and the
time per frame of pose extraction (the baseline: decoding alone) and of segmentation.
"""

import argparse
import csv
import time
from collections import Counter
from pathlib import Path

import cv2

from preprocessing.constants import DEFAULT_CACHE_DIR
from preprocessing.pose import PoseEstimator, PoseSettings
from preprocessing.video import opened_video
from serving.reps import LAST_REP_UP, segment
from serving.stream import strided_frames, video_stream

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
FIXTURE = REPO / "tests" / "fixtures" / "rep_counts.csv"


def decode_seconds(path: Path, stride: int) -> float:
    """Seconds to decode the video as the stream does (grab all, retrieve + convert every stride-th)."""
    began = time.perf_counter()
    with opened_video(path) as capture:
        for _ in strided_frames(capture, stride, path):
            pass
    return time.perf_counter() - began


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--stride", type=int, default=1)
    parser.add_argument("--cache_dir", default=DEFAULT_CACHE_DIR)
    parser.add_argument("--last_rep_up", type=float, default=LAST_REP_UP, help="the last-rep rule (serving.reps)")
    args = parser.parse_args()
    if not SHARED.is_dir():
        print(f"{SHARED} is absent: nothing to measure")
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
