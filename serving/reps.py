"""Repetition segmentation on a pose stream: start / bottom / end frame of every complete repetition.

Signal: the height in the image of the point that moves most in the exercise (hip centre for squats
and lunges, shoulder centre for push-ups), y growing downwards, so a repetition is a bump: rest,
down to a bottom, back up. Heights are compared in *body sizes* (max of the 2-D torso length and
shoulder width, aspect-corrected; running median over SIZE_WINDOW_SECONDS), so thresholds do not
depend on resolution or distance to the camera.

Pipeline, one sample at a time (``RepSegmenter.push``), so the live path and the offline path are
the same code and give the same repetitions:

1. visibility gate: a frame counts when a person is detected and the exercise's landmark pair and
   the torso are visible; gaps up to MAX_GAP_SECONDS are filled linearly, a longer one (the person
   walked out) ends the segment and drops a repetition in progress;
2. Savitzky-Golay smoothing (order 2, ~SMOOTH_SECONDS, centred: a fixed lag of half a window;
   the segment's edges are padded with their first / last value);
3. hysteresis state machine: ``rest`` tracks the lowest height (the top of the movement); going
   ``enter`` body sizes below it starts a descent; a repetition counts once the descent reaches
   ``min_depth`` and the signal comes back within RETURN_FRACTION of the depth from the top; its end
   is where the ascent settles (its last new high by SETTLE_TOLERANCE before SETTLE_SECONDS without
   one, or before the next descent starts), its start is found the same way walking back from the
   descent, its bottom is the lowest frame. A dip that never reaches ``min_depth`` is ignored.

A repetition whose start is the first frame of its segment while that frame is more than
RETURN_FRACTION of the way down (the video, or the person's return, began mid-repetition) and one
not back within RETURN_FRACTION of the top when the segment ends are partial and ignored; one that
is back up when the segment ends (a clip cut right after the last rep) counts, ending at its last
new high.
"""

from collections import deque
from dataclasses import dataclass, field

import numpy as np
from scipy.signal import savgol_coeffs

from preprocessing.cache import PoseSequence
from preprocessing.constants import NUM_FRAMES, VISIBILITY_THRESHOLD
from preprocessing.landmarks import HIP, SHOULDER
from preprocessing.registry import EXERCISES, RepSignal
from preprocessing.video import VideoError

SMOOTH_SECONDS = 0.2
MAX_GAP_SECONDS = 0.5
SIZE_WINDOW_SECONDS = 2.0
SETTLE_SECONDS = 0.2
STALL_SECONDS = 3.0  # a descent that neither deepens into a repetition nor returns: re-anchor the top
EDGE_FRACTION = 0.05
RETURN_FRACTION = 0.25
SETTLE_TOLERANCE = 0.01  # body sizes: a new high must beat the last by this much to delay the end


@dataclass(frozen=True)
class Rep:
    """One complete repetition: video frame numbers and its depth in body sizes."""

    start: int
    bottom: int
    end: int
    depth: float


def signal_of(exercise: str) -> RepSignal:
    if exercise not in EXERCISES:
        raise ValueError(f"unknown exercise {exercise!r}; choose from {sorted(EXERCISES)}")
    return EXERCISES[exercise].signal


def frame_signal(
    landmarks: np.ndarray, detected: np.ndarray, aspect: float, exercise: str
) -> tuple[np.ndarray, np.ndarray]:
    """Height (image y, in frame heights) and body size per frame of (T, 33, 4) landmarks; NaN where
    the visibility gate fails (no person, the landmark pair or the torso not visible)."""
    points = list(signal_of(exercise).points)
    landmarks = np.asarray(landmarks, dtype=np.float64)
    visible = landmarks[:, :, 3] >= VISIBILITY_THRESHOLD
    torso = [*SHOULDER, *HIP]
    ok = np.asarray(detected, bool) & visible[:, points].any(axis=1) & visible[:, torso].any(axis=1)
    xy = landmarks[:, :, :2] * np.array([aspect if aspect > 0 else 1.0, 1.0])
    shoulders = xy[:, list(SHOULDER)]
    hips = xy[:, list(HIP)]
    torso_length = np.linalg.norm(shoulders.mean(axis=1) - hips.mean(axis=1), axis=1)
    shoulder_width = np.linalg.norm(shoulders[:, 0] - shoulders[:, 1], axis=1)
    height = landmarks[:, points, 1].mean(axis=1)
    size = np.maximum(torso_length, shoulder_width)
    ok &= size > 0
    return np.where(ok, height, np.nan), np.where(ok, size, np.nan)


def odd_window(seconds: float, rate: float, minimum: int = 5) -> int:
    """An odd number of samples covering about ``seconds`` at ``rate`` samples/s, at least ``minimum``."""
    samples = max(minimum, int(round(seconds * rate)))
    return samples if samples % 2 else samples + 1


@dataclass
class _Tracker:
    """State of the hysteresis machine within one segment (see the module docstring)."""

    first: tuple[int, float]  # first (frame, height) of the segment
    top: tuple[float, int, float] | None = None  # (height, frame, body size) of the rest level
    history: list[tuple[int, float]] = field(default_factory=list)  # (frame, height) since the top
    bottom: tuple[float, int] | None = None  # while descending / at the bottom
    settle: tuple[float, int] | None = None  # highest point of the ascent once it is back near the top


class RepSegmenter:
    """Streaming repetition segmentation: ``push`` one pose sample at a time, get the repetitions
    that have just finished; ``finish`` at the end of the stream.

    Samples are every ``stride``-th frame of a ``fps`` video. ``trace`` keeps the smoothed signal
    as (frame, height, body size) for plots.
    """

    def __init__(self, exercise: str, fps: float, stride: int = 1) -> None:
        rate = fps / stride  # samples per second
        self.signal = signal_of(exercise)
        self.window = odd_window(SMOOTH_SECONDS, rate)
        self.kernel = savgol_coeffs(self.window, 2)
        self.max_gap = max(1, int(round(MAX_GAP_SECONDS * rate)))
        self.settle_frames = max(1, int(round(SETTLE_SECONDS * fps)))
        self.stall_frames = int(round(STALL_SECONDS * fps))
        self.sizes: deque[float] = deque(maxlen=odd_window(SIZE_WINDOW_SECONDS, rate))
        self.raw: deque[tuple[int, float, float]] = deque(maxlen=self.window)
        self.pending: list[int] = []  # frames without a usable pose since the last good one
        self.tracker: _Tracker | None = None
        self.trace: list[tuple[int, float, float]] = []

    @property
    def gated(self) -> bool:
        """True while the visibility gate fails (no usable pose in the last sample)."""
        return bool(self.pending) or self.tracker is None

    # -- input: gate, gap filling, smoothing ---------------------------------------------------

    def push(self, frame: int, height: float, size: float) -> list[Rep]:
        """One pose sample (``height``/``size`` NaN when the gate failed); repetitions finished now."""
        if not (np.isfinite(height) and np.isfinite(size)):
            if len(self.pending) > self.max_gap:  # the person is gone: the segment has ended
                return []
            self.pending.append(frame)
            return self._end_segment() if len(self.pending) > self.max_gap else []
        reps: list[Rep] = []
        if self.pending and self.raw and len(self.pending) <= self.max_gap:
            last_frame, last_height, last_size = self.raw[-1]
            for gap_frame in self.pending:
                weight = (gap_frame - last_frame) / (frame - last_frame)
                reps += self._smooth(
                    gap_frame, last_height + weight * (height - last_height), last_size + weight * (size - last_size)
                )
        self.pending = []
        return reps + self._smooth(frame, height, size)

    def finish(self) -> list[Rep]:
        """End of the stream: flush the smoother; a repetition not yet back up is dropped."""
        return self._end_segment()

    def _smooth(self, frame: int, height: float, size: float) -> list[Rep]:
        if self.tracker is None:  # a new segment: pad its start with the first value
            self.tracker = _Tracker(first=(frame, height))
            self.raw.extend([(frame, height, size)] * (self.window // 2))
        self.raw.append((frame, height, size))
        return self._emit() if len(self.raw) == self.window else []

    def _emit(self) -> list[Rep]:
        frame, _, size = self.raw[self.window // 2]
        heights = np.array([value for _, value, _ in self.raw])
        self.sizes.append(size)
        return self._step(frame, float(self.kernel @ heights), float(np.median(self.sizes)))

    def _end_segment(self) -> list[Rep]:
        """Flush the smoother (padding with the last value) and forget the segment; a repetition
        already back within RETURN_FRACTION of the top is complete, ending at its last new high."""
        reps: list[Rep] = []
        state = self.tracker
        if state is not None and self.raw:
            last = self.raw[-1]
            for _ in range(self.window // 2):
                self.raw.append(last)
                reps += self._emit()
            if state.bottom is not None and state.settle is not None:
                reps += self._complete(state, state.settle[1], last[2])
        self.tracker = None
        self.raw.clear()
        self.sizes.clear()
        return reps

    # -- hysteresis state machine ----------------------------------------------------------------

    def _step(self, frame: int, height: float, size: float) -> list[Rep]:
        self.trace.append((frame, height, size))
        state = self.tracker
        assert state is not None
        state.history.append((frame, height))
        if state.bottom is None:
            self._rest(state, frame, height, size)
            return []
        assert state.top is not None  # a descent (bottom) starts only from a rest level (top)
        top_height, top_frame, top_size = state.top
        if height > state.bottom[0]:
            state.bottom, state.settle = (height, frame), None
        depth = state.bottom[0] - top_height
        if depth < self.signal.min_depth * top_size:  # not (yet) a repetition
            if height - top_height <= EDGE_FRACTION * depth or frame - state.bottom[1] > self.stall_frames:
                state.bottom = None
                self._rest(state, frame, height, size, anchor=True)
            return []
        if state.settle is None:
            if height - top_height <= RETURN_FRACTION * depth:
                state.settle = (height, frame)
            return []
        if height < state.settle[0] - SETTLE_TOLERANCE * top_size:
            state.settle = (height, frame)
        descending = height - state.settle[0] >= self.signal.enter * top_size
        if not descending and frame - state.settle[1] < self.settle_frames:
            return []
        return self._complete(state, state.settle[1], size)

    def _rest(self, state: _Tracker, frame: int, height: float, size: float, anchor: bool = False) -> None:
        """At the top: follow a new rest level, or start a descent."""
        if anchor or state.top is None or height <= state.top[0]:
            state.top = (height, frame, size)
            state.history = [(frame, height)]
        elif height - state.top[0] >= self.signal.enter * state.top[2]:
            state.bottom = (height, frame)

    def _start(self, state: _Tracker, top_size: float) -> int:
        """Where the descent began: walking back from its last frame within RETURN_FRACTION of the
        top, the last new high (by SETTLE_TOLERANCE) before SETTLE_SECONDS without one (the end is
        found the same way going forwards)."""
        assert state.top is not None and state.bottom is not None  # called for a complete repetition
        top_height = state.top[0]
        depth = state.bottom[0] - top_height
        before = [(f, h) for f, h in state.history if f <= state.bottom[1]]
        start, high = next((f, h) for f, h in reversed(before) if h - top_height <= RETURN_FRACTION * depth)
        for f, h in reversed(before):
            if start - f >= self.settle_frames:
                break
            if h < high - SETTLE_TOLERANCE * top_size:
                start, high = f, h
        return start

    def _complete(self, state: _Tracker, end: int, size: float) -> list[Rep]:
        """Close the repetition at ``end``; the samples after it start the next rest."""
        assert state.top is not None and state.bottom is not None  # called for a complete repetition
        top_height, _, top_size = state.top
        bottom_height, bottom = state.bottom
        depth = bottom_height - top_height
        start = self._start(state, top_size)
        after = [(f, h) for f, h in state.history if f >= end]
        end_height = after[0][1]
        state.top, state.bottom, state.settle, state.history = (after[0][1], end, size), None, None, []
        for f, h in after:
            state.history.append((f, h))
            if state.bottom is None:
                self._rest(state, f, h, size)
            elif h > state.bottom[0]:
                state.bottom = (h, f)
        if start == state.first[0] and state.first[1] - end_height > RETURN_FRACTION * (bottom_height - end_height):
            return []  # the segment began part-way down: a partial repetition
        return [Rep(start=start, bottom=bottom, end=end, depth=depth / top_size)]


def check_segmentable(sequence: PoseSequence, video: object, stride: int) -> None:
    """VideoError naming ``video`` when it has fewer pose samples than the NUM_FRAMES a repetition is
    sampled to (a 1-frame clip, or a short one at a large ``--stride``): no repetition fits in it."""
    samples = len(sequence.frame_indices)
    if samples < NUM_FRAMES:
        raise VideoError(
            f"{video}: too short to find repetitions: {samples} pose sample(s) from {sequence.total_frames} "
            f"frame(s) at stride {stride}, fewer than the {NUM_FRAMES} a repetition is scored on"
        )


def segment(sequence: PoseSequence, exercise: str, fps: float, stride: int = 1) -> tuple[list[Rep], RepSegmenter]:
    """The complete repetitions of a pose stream (every ``stride``-th frame of a ``fps`` video), and
    the segmenter (its ``trace`` holds the smoothed signal)."""
    heights, sizes = frame_signal(sequence.landmarks, sequence.detected, sequence.aspect, exercise)
    segmenter = RepSegmenter(exercise, fps, stride)
    reps: list[Rep] = []
    for frame, height, size in zip(sequence.frame_indices.tolist(), heights, sizes, strict=True):
        reps += segmenter.push(frame, float(height), float(size))
    return reps + segmenter.finish(), segmenter


def rep_sequence(sequence: PoseSequence, rep: Rep) -> PoseSequence:
    """NUM_FRAMES samples of one repetition, spread like a training clip's (``linspace`` over its
    frames, truncated), as a PoseSequence ready for ``sequence_features``."""
    frames = sequence.frame_indices
    first, last = np.searchsorted(frames, rep.start), np.searchsorted(frames, rep.end, side="right") - 1
    positions = np.linspace(first, last, NUM_FRAMES).astype(np.int64)
    return PoseSequence(
        sequence.landmarks[positions],
        sequence.detected[positions],
        frames[positions],
        sequence.total_frames,
        sequence.aspect,
    )
