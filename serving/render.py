"""Drawing a scored set: the skeleton, rep counter and scores on each frame, and the signal plot."""

from pathlib import Path

import cv2
import numpy as np

from preprocessing.constants import VISIBILITY_THRESHOLD
from preprocessing.files import atomic_output
from preprocessing.landmarks import BONES
from preprocessing.video import decoded_frames, opened_video
from serving.reps import RepSegmenter
from serving.results import RepResult, SetResult, WorkoutSet
from serving.stream import Stream

STEP_IN = "step into the frame"
JOINTS = sorted({mark for bone in BONES for mark in bone})


def wrapped(lines: list[str], width: int, scale: float) -> list[str]:
    """``lines`` broken at spaces so that each fits ``width`` pixels in the overlay font at ``scale``."""
    out: list[str] = []
    for line in lines:
        current = ""
        for word in line.split(" "):
            candidate = f"{current} {word}" if current else word
            fits = cv2.getTextSize(candidate, cv2.FONT_HERSHEY_SIMPLEX, scale, int(4 * scale) + 1)[0][0] <= width
            if current and not fits:
                out.append(current)
                candidate = "  " + word  # a continued line is indented
            current = candidate
        out.append(current)
    return out


def draw(frame: np.ndarray, landmarks: np.ndarray | None, lines: list[str]) -> None:
    """Skeleton (visible bones) and text lines on a BGR frame, in place."""
    height, width = frame.shape[:2]
    if landmarks is not None:
        points = (landmarks[:, :2] * (width, height)).astype(int)
        visible = landmarks[:, 3] >= VISIBILITY_THRESHOLD
        for a, b in BONES:
            if visible[a] and visible[b]:
                cv2.line(frame, tuple(points[a]), tuple(points[b]), (0, 255, 0), max(2, width // 400))
        for a in JOINTS:
            if visible[a]:
                cv2.circle(frame, tuple(points[a]), max(3, width // 300), (0, 0, 255), -1)
    scale = max(0.6, width / 1000)
    for row, text in enumerate(wrapped(lines, width - 20, scale)):
        origin = (10, int((row + 1) * 34 * scale))
        cv2.putText(frame, text, origin, cv2.FONT_HERSHEY_SIMPLEX, scale, (0, 0, 0), int(4 * scale) + 1)
        cv2.putText(frame, text, origin, cv2.FONT_HERSHEY_SIMPLEX, scale, (255, 255, 255), int(2 * scale))


def feedback_lines(rep: RepResult) -> list[str]:
    """A rep's things to fix, as drawable text (OpenCV's fonts have no degree sign)."""
    if rep.form is None:
        return []
    return [f"fix: {item.text}".replace("°", " deg") for item in rep.form.feedback]


def overlay_lines(done: list[RepResult], in_rep: bool, gated: bool, current: RepResult | None = None) -> list[str]:
    """Counter, last score and state shown on a frame, then the feedback of ``current`` (the rep whose
    frames these are, offline) or else of the last finished rep (live: known as it closes)."""
    lines = [f"reps: {len(done)}"]
    if done:
        lines.append(f"rep {done[-1].index}: {done[-1].score:.0f}/100")
    if gated:
        lines.append(STEP_IN)
    elif in_rep:
        lines.append("in a repetition")
    shown = current or (done[-1] if done else None)
    return lines + ([] if shown is None else feedback_lines(shown))


def set_lines(sets: list[WorkoutSet], done: int, signal: str) -> list[str]:
    """The set that the ``done``-th repetition belongs to, with its count so far, and the signal followed."""
    current = [part for part in sets if part.first_rep <= done]
    lines = [f"set {current[-1].index}: {done - current[-1].first_rep + 1} reps"] if current else []
    return lines + [f"signal: {signal}"]


def signal_at(result: SetResult, frame: int) -> str:
    """The signal followed at ``frame`` (the last one begun by then)."""
    begun = [span.signal for span in result.signals if span.start_frame <= frame]
    return begun[-1] if begun else (result.signals[0].signal if result.signals else "none")


def write_annotated(video: str | Path, out: str | Path, result: SetResult, stream: Stream) -> None:
    """``out`` (mp4): the video with the skeleton, rep counter, each rep's score and, on its frames, its
    feedback; written atomically."""
    out, video = Path(out), Path(video)
    sequence, reps = stream.sequence, result.reps
    with atomic_output(out) as temp, opened_video(video) as capture:
        writer = None
        for index, frame in decoded_frames(capture, video, lambda _: True):
            assert frame is not None  # every frame is wanted
            if writer is None:
                size = (frame.shape[1], frame.shape[0])
                writer = cv2.VideoWriter(str(temp), cv2.VideoWriter.fourcc(*"mp4v"), stream.fps, size)
            position = max(0, int(np.searchsorted(sequence.frame_indices, index, side="right")) - 1)
            found = bool(sequence.detected[position])
            done = [rep for rep in reps if rep.end_frame <= index]
            current = next((rep for rep in reps if rep.start_frame <= index <= rep.end_frame), None)
            in_rep = current is not None and index < current.end_frame
            lines = overlay_lines(done, in_rep, not found, current)
            lines += set_lines(result.sets, len(done), signal_at(result, index))
            draw(frame, sequence.landmarks[position] if found else None, lines)
            writer.write(frame)
        if writer is not None:
            writer.release()


def write_signal_plot(out: str | Path, result: SetResult, segmenter: RepSegmenter, exercise: str) -> None:
    """PNG of the smoothed segmentation signal, the repetitions (shaded) and their scores."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out = Path(out)
    figure, axes = plt.subplots(figsize=(12, 4))
    if segmenter.trace:
        frames, heights, sizes = np.array(segmenter.trace).T
        axes.plot(frames / result.fps, -heights / sizes, color="black", lw=1)  # each in its signal's size units
    for rep in result.reps:
        axes.axvspan(rep.start_time, rep.end_time, color="tab:green", alpha=0.2)
        axes.text(
            (rep.start_time + rep.end_time) / 2,
            1.0,
            f"{rep.index}: {rep.score:.0f}",
            ha="center",
            va="top",
            transform=axes.get_xaxis_transform(),
        )
    axes.set_xlabel("time (s)")
    axes.set_ylabel(f"{exercise} signal height (body sizes)")
    signals = ", ".join(dict.fromkeys(span.signal for span in result.signals))
    axes.set_title(f"{Path(result.video).name}: {len(result.reps)} reps, {len(result.sets)} set(s); signal: {signals}")
    try:
        with atomic_output(out) as temp:
            figure.savefig(temp, dpi=100, bbox_inches="tight")
    finally:
        plt.close(figure)
