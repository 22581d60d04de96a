"""Sets of repetitions with an exported model: per-rep scores, an annotated video, live scoring.

The model is passed in as ``score`` (a list of NUM_FRAMES pose samples -> scores 0..100, e.g.
``Scorer.score_sequences`` of ``serving/scorer.py``, which computes the model's own feature set),
so this module loads nothing itself. Each repetition found by ``serving.reps`` is sampled to
NUM_FRAMES frames like a training clip (``rep_sequence``).
"""

import json
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import cv2
import numpy as np

from preprocessing.cache import PoseSequence
from preprocessing.constants import LANDMARK_DIMS, NUM_FRAMES, NUM_LANDMARKS, VISIBILITY_THRESHOLD
from preprocessing.files import atomic_output
from preprocessing.pose import PoseEstimator, PoseSettings
from preprocessing.video import VideoError, decode_warning, opened_video
from serving.reps import Rep, RepSegmenter, check_segmentable, frame_signal, rep_sequence, segment
from serving.stream import Stream, opened_source, strided_frames, usable_fps, video_stream

if TYPE_CHECKING:
    from serving.scorer import Scorer  # which imports this module

ScoreFn = Callable[[list[PoseSequence]], list[float]]  # NUM_FRAMES pose samples -> scores (the model's features)
# BlazePose skeleton drawn on annotated frames (landmark index pairs: arms, torso, legs).
BONES = (
    (11, 12),
    (11, 13),
    (13, 15),
    (12, 14),
    (14, 16),
    (11, 23),
    (12, 24),
    (23, 24),
    (23, 25),
    (25, 27),
    (27, 31),
    (24, 26),
    (26, 28),
    (28, 32),
)
STEP_IN = "step into the frame"


def rep_results(sequence: PoseSequence, reps: list[Rep], fps: float, score: ScoreFn) -> list[dict]:
    """Per repetition: index (1..), frames and times, score, frames with a person of the NUM_FRAMES."""
    samples = [rep_sequence(sequence, rep) for rep in reps]
    scores = score(samples) if reps else []
    return [
        {
            "index": number,
            "start_frame": rep.start,
            "bottom_frame": rep.bottom,
            "end_frame": rep.end,
            "start_time": round(rep.start / fps, 3),
            "end_time": round(rep.end / fps, 3),
            "depth": round(rep.depth, 3),
            "score": value,
            "frames_with_person": int(sample.detected.sum()),
            "num_frames": NUM_FRAMES,
        }
        for number, (rep, sample, value) in enumerate(zip(reps, samples, scores, strict=True), start=1)
    ]


def summary(results: list[dict]) -> dict:
    """Set summary: count, mean score, worst repetition (None without repetitions)."""
    if not results:
        return {"count": 0, "mean_score": None, "worst_rep": None, "worst_score": None}
    worst = min(results, key=lambda result: result["score"])
    mean = float(np.mean([result["score"] for result in results]))
    return {"count": len(results), "mean_score": mean, "worst_rep": worst["index"], "worst_score": worst["score"]}


def score_session(
    video: str | Path,
    exercise: str,
    score: ScoreFn,
    settings: PoseSettings,
    cache_dir: str | Path,
    estimator: PoseEstimator | None = None,
    stride: int = 1,
) -> tuple[dict, Stream, RepSegmenter]:
    """Segment a video's pose stream into repetitions and score each; VideoError naming the file
    when no frame has a person. Returns the result document, the stream and the segmenter (trace)."""
    stream, _ = video_stream(video, settings, cache_dir, estimator, stride)
    sequence = stream.sequence
    if not sequence.detected.any():
        raise VideoError(f"{video}: no person found in any of the {len(sequence.detected)} frames read")
    check_segmentable(sequence, video, stride)
    warning = decode_warning(video, sequence.total_frames)  # the 16-frame path's check, on the whole stream
    reps, segmenter = segment(sequence, exercise, stream.fps, stride)
    results = rep_results(sequence, reps, stream.fps, score)
    document = {
        "video": str(video),
        "fps": stream.fps,
        "frames": sequence.total_frames,
        "frames_with_person": int(sequence.detected.sum()),
        "frames_read": len(sequence.detected),
        "reps": results,
        "summary": summary(results),
    }
    if warning:
        document["warning"] = warning
    return document, stream, segmenter


# -- drawing ---------------------------------------------------------------------------------------


def draw(frame: np.ndarray, landmarks: np.ndarray | None, lines: list[str]) -> None:
    """Skeleton (visible bones) and text lines on a BGR frame, in place."""
    height, width = frame.shape[:2]
    if landmarks is not None:
        points = (landmarks[:, :2] * (width, height)).astype(int)
        visible = landmarks[:, 3] >= VISIBILITY_THRESHOLD
        for a, b in BONES:
            if visible[a] and visible[b]:
                cv2.line(frame, tuple(points[a]), tuple(points[b]), (0, 255, 0), max(2, width // 400))
        for a in {i for bone in BONES for i in bone}:
            if visible[a]:
                cv2.circle(frame, tuple(points[a]), max(3, width // 300), (0, 0, 255), -1)
    scale = max(0.6, width / 1000)
    for row, text in enumerate(lines):
        origin = (10, int((row + 1) * 34 * scale))
        cv2.putText(frame, text, origin, cv2.FONT_HERSHEY_SIMPLEX, scale, (0, 0, 0), int(4 * scale) + 1)
        cv2.putText(frame, text, origin, cv2.FONT_HERSHEY_SIMPLEX, scale, (255, 255, 255), int(2 * scale))


def overlay_lines(done: list[dict], in_rep: bool, gated: bool) -> list[str]:
    """Counter, last score and state shown on a frame."""
    lines = [f"reps: {len(done)}"]
    if done:
        lines.append(f"rep {done[-1]['index']}: {done[-1]['score']:.0f}/100")
    if gated:
        lines.append(STEP_IN)
    elif in_rep:
        lines.append("in a repetition")
    return lines


def write_annotated(video: str | Path, out: str | Path, document: dict, stream: Stream) -> None:
    """``out`` (mp4): the video with the skeleton, rep counter and each rep's score, written atomically."""
    out, video = Path(out), Path(video)
    sequence, reps = stream.sequence, document["reps"]
    with atomic_output(out) as temp, opened_video(video) as capture:
        writer = None
        index = -1
        while capture.grab():
            index += 1
            ok, frame = capture.retrieve()
            if not ok or frame is None:
                raise VideoError(f"{video}: frame {index} could not be decoded")
            if writer is None:
                size = (frame.shape[1], frame.shape[0])
                writer = cv2.VideoWriter(str(temp), cv2.VideoWriter.fourcc(*"mp4v"), stream.fps, size)
            position = max(0, int(np.searchsorted(sequence.frame_indices, index, side="right")) - 1)
            found = bool(sequence.detected[position])
            done = [rep for rep in reps if rep["end_frame"] <= index]
            in_rep = any(rep["start_frame"] <= index < rep["end_frame"] for rep in reps)
            draw(frame, sequence.landmarks[position] if found else None, overlay_lines(done, in_rep, not found))
            writer.write(frame)
        if writer is not None:
            writer.release()


def write_signal_plot(out: str | Path, document: dict, segmenter: RepSegmenter, exercise: str) -> None:
    """PNG of the smoothed segmentation signal, the repetitions (shaded) and their scores."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out = Path(out)
    figure, axes = plt.subplots(figsize=(12, 4))
    if segmenter.trace:
        frames, heights, sizes = np.array(segmenter.trace).T
        axes.plot(frames / document["fps"], -heights / np.median(sizes), color="black", lw=1)
    for rep in document["reps"]:
        axes.axvspan(rep["start_time"], rep["end_time"], color="tab:green", alpha=0.2)
        axes.text(
            (rep["start_time"] + rep["end_time"]) / 2,
            1.0,
            f"{rep['index']}: {rep['score']:.0f}",
            ha="center",
            va="top",
            transform=axes.get_xaxis_transform(),
        )
    axes.set_xlabel("time (s)")
    axes.set_ylabel(f"{exercise} signal height (body sizes)")
    axes.set_title(f"{Path(document['video']).name}: {len(document['reps'])} reps")
    try:
        with atomic_output(out) as temp:
            figure.savefig(temp, dpi=100, bbox_inches="tight")
    finally:
        plt.close(figure)


# -- live ------------------------------------------------------------------------------------------


def live_session(
    source: str,
    exercise: str,
    score: ScoreFn,
    settings: PoseSettings,
    stride: int = 1,
    show: bool = False,
    on_rep: Callable[[dict], None] = lambda result: None,
) -> dict:
    """Score repetitions from a camera index / URL / file read as a stream, each as soon as it ends.

    Frames are read as they come; BlazePose tracks the person; the segmenter (the offline code) runs
    on every pose sample; a finished repetition is sampled, scored and passed to ``on_rep`` at once.
    ``show`` draws the skeleton, counter, scores and the "step into the frame" state in a window
    (needs a display; press q to stop). Returns the same document as ``score_session`` plus the
    measured pose and video frames/s and the latency of scoring (seconds from the repetition's detection).
    """
    results: list[dict] = []
    latencies: list[float] = []
    landmarks: list[np.ndarray] = []
    detected: list[bool] = []
    indices: list[int] = []
    began = time.perf_counter()
    total = 0
    with opened_source(source) as capture, PoseEstimator(settings) as estimator:
        fps = usable_fps(capture.get(cv2.CAP_PROP_FPS))
        segmenter = RepSegmenter(exercise, fps, stride)
        estimator.start_video()
        aspect = 0.0
        for index, frame in strided_frames(capture, stride, source):
            total = index + 1
            if frame is None:
                continue
            aspect = frame.shape[1] / frame.shape[0]
            found = estimator.track(frame)
            landmarks.append(np.zeros((NUM_LANDMARKS, LANDMARK_DIMS), np.float32) if found is None else found)
            detected.append(found is not None)
            indices.append(index)
            height, size = frame_signal(landmarks[-1][None], np.array([detected[-1]]), aspect, exercise)
            finished = segmenter.push(index, float(height[0]), float(size[0]))
            results += score_finished(
                finished, landmarks, detected, indices, aspect, fps, score, results, latencies, on_rep
            )
            if show and not shown(frame, found, results, segmenter):
                break
        finished = segmenter.finish()
        results += score_finished(
            finished, landmarks, detected, indices, aspect, fps, score, results, latencies, on_rep
        )
    seconds = time.perf_counter() - began
    if show:
        cv2.destroyAllWindows()
    return {
        "video": source,
        "fps": fps,
        "frames": total,
        "frames_with_person": int(sum(detected)),
        "frames_read": len(detected),
        "reps": results,
        "summary": summary(results),
        "frames_per_second": len(detected) / seconds if seconds > 0 else 0.0,  # pose samples (every stride-th)
        "video_frames_per_second": total / seconds if seconds > 0 else 0.0,  # a camera must deliver no more
        "max_scoring_latency_s": max(latencies, default=0.0),
    }


def score_finished(
    finished: list[Rep],
    landmarks: list[np.ndarray],
    detected: list[bool],
    indices: list[int],
    aspect: float,
    fps: float,
    score: ScoreFn,
    done: list[dict],
    latencies: list[float],
    on_rep: Callable[[dict], None],
) -> list[dict]:
    """Score repetitions that have just finished (numbered after ``done``); report each to ``on_rep``."""
    if not finished:
        return []
    began = time.perf_counter()
    sequence = PoseSequence(
        np.stack(landmarks), np.array(detected), np.array(indices, np.int64), indices[-1] + 1, aspect
    )
    new = rep_results(sequence, finished, fps, score)
    latencies.append(time.perf_counter() - began)
    for result in new:
        result["index"] += len(done)
        on_rep(result)
    return new


def shown(frame_rgb: np.ndarray, found: np.ndarray | None, results: list[dict], segmenter: RepSegmenter) -> bool:
    """Draw the live state in a window; False when the user pressed q."""
    frame = cv2.cvtColor(frame_rgb, cv2.COLOR_RGB2BGR)
    tracker = segmenter.tracker
    in_rep = tracker is not None and tracker.bottom is not None
    draw(frame, found, overlay_lines(results, in_rep, segmenter.gated or found is None))
    cv2.imshow("formscore", frame)
    return cv2.waitKey(1) & 0xFF != ord("q")


# -- command line (scripts/score_video.py --reps / --annotate / --live) --------------------------------


def print_set(document: dict) -> None:
    """Text report of one set: the summary line, then one line per repetition."""
    head = document["summary"]
    line = f"{document['video']}: {head['count']} reps"
    if head["count"]:
        line += f", mean {head['mean_score']:.1f}, worst rep {head['worst_rep']} ({head['worst_score']:.1f})"
    if "warning" in document:
        line += " WARNING: unreliable, see above"
    print(line, flush=True)
    for rep in document["reps"]:
        print_rep(rep)


def print_rep(rep: dict) -> None:
    print(
        f"  rep {rep['index']}: {rep['start_time']:.2f}-{rep['end_time']:.2f} s, score {rep['score']:.1f}/100 "
        f"(person in {rep['frames_with_person']}/{rep['num_frames']} frames)",
        flush=True,
    )


def run_sets(
    scorer: "Scorer",
    videos: list[str],
    as_json: bool,
    cache_dir: Path,
    annotate: str | None,
    live: str | None,
    stride: int,
    show: bool,
) -> int:
    """``score --reps / --annotate / --live`` (the options of ``serving.scorer.score``) with ``scorer``
    (closed here): 0 when every video was scored, 1 otherwise."""
    exercise = scorer.metadata["exercise"]
    documents, failed = [], False
    try:
        if live is not None:
            report = None if as_json else print_rep
            documents.append(
                live_session(
                    live,
                    exercise,
                    scorer.score_sequences,
                    scorer.settings,
                    stride,
                    show,
                    report or (lambda rep: None),
                )
            )
        if annotate and len(videos) != 1:
            raise VideoError(f"--annotate {annotate}: needs exactly one video, got {len(videos)}")
        for video in videos:
            try:
                document, stream, segmenter = score_session(
                    video, exercise, scorer.score_sequences, scorer.settings, cache_dir, None, stride
                )
            except VideoError as error:
                print(f"error: {error}", file=sys.stderr)
                failed = True
                continue
            documents.append(document)
            if "warning" in document:
                print(f"warning: {video}: {document['warning']}", file=sys.stderr)
            if annotate:
                out = Path(annotate)
                write_annotated(video, out, document, stream)
                write_signal_plot(out.with_name(f"{out.stem}_signal.png"), document, segmenter, exercise)
    except VideoError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    finally:
        scorer.close()
    if as_json:
        print(
            json.dumps(
                {"model": str(scorer.artifact), "backend": scorer.backend, "exercise": exercise, "results": documents},
                indent=2,
            )
        )
    else:
        for document in documents:
            if "frames_per_second" in document:
                print(
                    f"{document['video']}: {document['summary']['count']} reps live, "
                    f"{document['frames_per_second']:.1f} pose frames/s, "
                    f"{document['video_frames_per_second']:.1f} video frames/s"
                )
            else:
                print_set(document)
    return 1 if failed else 0
