"""Repetition segmentation on a pose stream: start / bottom / end frame of every complete repetition.

Signal: the height in the image of the point that moves most in the exercise (hip centre for squats
and lunges, shoulder centre for push-ups), y growing downwards, so a repetition is a bump: rest,
down to a bottom, back up. Heights are compared in *body sizes* (max of the 2-D torso length and
shoulder width, aspect-corrected; running median over SIZE_WINDOW_SECONDS), so thresholds do not
depend on resolution or distance to the camera.

Pipeline, one sample at a time (``RepSegmenter.push``, fed by ``frame_samples``), so the live path
and the offline path are the same code and give the same repetitions:

1. visibility gate: a frame counts when a person is detected, one of the signal's landmarks and one
   of those its size needs are visible, and the centre of the signal's landmarks and of its anchors
   (shoulders for a torso size) lie inside the picture; gaps up to MAX_GAP_SECONDS are filled
   linearly, a longer one (the person walked out) ends the segment and drops a repetition in progress;
2. fallback signal (``RepSignal.fallback``: the knees, in shank lengths, for all three): when the
   exercise's own signal has been gone longer than a gap and the fallback is usable (a squat whose
   upper body left the top of the picture), the segment ends and a new one follows the fallback;
   back to the default once it has been usable SWITCH_BACK_SECONDS (gaps up to a gap allowed) while
   no repetition is in progress. ``spans`` says which signal was followed for which frames;
3. Savitzky-Golay smoothing (order 2, ~SMOOTH_SECONDS, centred: a fixed lag of half a window;
   the segment's edges are padded with their first / last value);
4. hysteresis state machine: ``rest`` tracks the lowest height (the top of the movement); going
   ``enter`` body sizes below it starts a descent; a repetition counts once the descent reaches
   ``min_depth`` and the signal comes back within RETURN_FRACTION of the depth from the top; its end
   is where the ascent settles (its last new high by SETTLE_TOLERANCE before SETTLE_SECONDS without
   one, or before the next descent starts), its start is found the same way walking back from the
   descent, its bottom is the lowest frame. A dip that never reaches ``min_depth`` is ignored; a
   deep descent that, STALL_SECONDS after leaving the top, goes down again by ``min_depth`` from a
   lower rebound without having come back (from a pike or from standing into the plank) moves the
   top to that rebound;
5. a movement deep enough is a repetition only if it is one of the exercise (``_rejection``; the
   rejected ones are kept in ``rejected`` with the reason): its bottom held at most MAX_HOLD_SECONDS
   (not lying down), the exercise's posture (``in_posture``: plank for push-ups, upright trunk for
   squats and lunges) in at least POSTURE_FRACTION of its deeper half (not resting on the knees, in
   a pike, bent over to the floor), and for squats and lunges the feet planted (not walking).

A repetition whose start is the first frame of its segment while that frame is more than
RETURN_FRACTION of the way down (the video, or the person's return, began mid-repetition) is partial
and ignored. The last repetition, cut short by the end of the recording (or the person leaving),
counts when the highest point of its ascent is back at least LAST_REP_UP (60 %) of its depth,
ending there: on generated workouts cut at every phase, a repetition 70 % or more back up always
counts, 60-70 % up 71 % of the time, under 40 % never; on the 173 hand-counted real push-up videos
0.6 keeps 155 exact and gives 170 within one (0.75, the rule before: 155 / 169).
"""

from collections import deque
from dataclasses import dataclass, field

import numpy as np
from scipy.signal import savgol_coeffs

from preprocessing.cache import PoseSequence
from preprocessing.constants import NUM_FRAMES, VISIBILITY_THRESHOLD
from preprocessing.landmarks import ANKLE, HIP, KNEE, SHOULDER, Landmark
from preprocessing.registry import EXERCISES, Posture, RepSignal
from preprocessing.video import VideoError

SMOOTH_SECONDS = 0.2
MAX_GAP_SECONDS = 0.5
SIZE_WINDOW_SECONDS = 2.0
SETTLE_SECONDS = 0.2
STALL_SECONDS = 3.0  # a descent that neither deepens into a repetition nor returns: re-anchor the top
# (and one that did deepen but, this long after leaving the top, goes down again from a lower rebound)
EDGE_FRACTION = 0.05
RETURN_FRACTION = 0.25
SETTLE_TOLERANCE = 0.01  # body sizes: a new high must beat the last by this much to delay the end
LAST_REP_UP = 0.6  # a repetition the stream cuts short counts once back this fraction of its depth up
SWITCH_BACK_SECONDS = 3.0  # the default signal usable this long at rest: leave the fallback
# What tells a repetition from a rest or fidgeting (serving.reps._rejection, in_posture):
MAX_HOLD_SECONDS = 2.5  # at most this long within HOLD_FRACTION of the depth from the bottom
HOLD_FRACTION = 0.2
POSTURE_FRACTION = 0.5  # at least this share of the deeper half of a repetition in the posture
LINE_TOLERANCE = 0.5  # plank: body sizes the hip may be off the body line (real clips: 99 % of frames within 0.34)
TRUNK_DEGREES = 85.0  # upright: the trunk's largest angle from the image vertical (bad squats lean 70-80)
FEET_TOLERANCE = 0.5  # body sizes the feet may move during a repetition


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


def centres(xy: np.ndarray, seen: np.ndarray, pair: tuple[Landmark, ...]) -> tuple[np.ndarray, np.ndarray]:
    """Mean image point (T, 2) of ``pair`` and whether any of it is seen (visible and in the frame)."""
    return xy[:, list(pair)].mean(axis=1), seen[:, list(pair)].any(axis=1)


def inside(point: np.ndarray, aspect: float) -> np.ndarray:
    """(T,) True where an aspect-corrected image point lies in the frame."""
    return (point >= 0).all(axis=1) & (point[:, 0] <= aspect) & (point[:, 1] <= 1)


def torso_size(xy: np.ndarray) -> np.ndarray:
    """(T,) body size in the image: the larger of torso length and shoulder width."""
    shoulders, hips = xy[:, list(SHOULDER)], xy[:, list(HIP)]
    torso = np.linalg.norm(shoulders.mean(axis=1) - hips.mean(axis=1), axis=1)
    return np.maximum(torso, np.linalg.norm(shoulders[:, 0] - shoulders[:, 1], axis=1))


def signal_values(
    landmarks: np.ndarray, xy: np.ndarray, ok: np.ndarray, signal: RepSignal, aspect: float
) -> tuple[np.ndarray, np.ndarray]:
    """Height (image y, frame heights) and size (``signal.size`` units) of one signal per frame; NaN
    where none of its landmarks or of the ones its size needs is visible, or where the centre of its
    landmarks or of its anchors (shoulders for a torso size, knees and ankles for a shank size) is out
    of the frame."""
    points = list(signal.points)
    anchors = (SHOULDER,) if signal.size == "torso" else (KNEE, ANKLE)
    needs = [SHOULDER, HIP] if signal.size == "torso" else [KNEE, ANKLE]
    visible = landmarks[:, :, 3] >= VISIBILITY_THRESHOLD
    ok = ok & visible[:, points].any(axis=1) & visible[:, [mark for pair in needs for mark in pair]].any(axis=1)
    for centre in (xy[:, points].mean(axis=1), *(xy[:, list(pair)].mean(axis=1) for pair in anchors)):
        ok &= inside(centre, aspect)
    if signal.size == "torso":
        size = torso_size(xy)
    else:
        size = np.linalg.norm(xy[:, list(KNEE)] - xy[:, list(ANKLE)], axis=2).mean(axis=1)
    ok &= size > 0
    height = landmarks[:, points, 1].mean(axis=1)
    return np.where(ok, height, np.nan), np.where(ok, size, np.nan)


def in_posture(xy: np.ndarray, seen: np.ndarray, posture: Posture) -> np.ndarray:
    """(T,) True where the body is in the exercise's posture, or where too little is seen to judge.

    plank: the hip and the knee at most LINE_TOLERANCE body sizes off the shoulder-ankle line, or
    the hip off the shoulder-knee line (a push-up from the knees; the hand-counted real clips hold
    some), so no pike and no sitting back on the heels; judged where the shoulder-ankle line is at
    least half a body size long (not in a front view, where the body is foreshortened to a point:
    there a rest on the knees cannot be told by posture). upright: the trunk (hip centre to
    shoulder centre) within TRUNK_DEGREES of the image vertical (not bent over to the floor).
    """
    (shoulder, seen_s), (hip, seen_h) = centres(xy, seen, SHOULDER), centres(xy, seen, HIP)
    trunk = shoulder - hip
    if posture == "upright":
        upright = -trunk[:, 1] >= np.cos(np.radians(TRUNK_DEGREES)) * np.linalg.norm(trunk, axis=1)
        return ~(seen_s & seen_h) | upright
    (knee, seen_k), (ankle, seen_a) = centres(xy, seen, KNEE), centres(xy, seen, ANKLE)
    size = torso_size(xy)
    length = np.linalg.norm(ankle - shoulder, axis=1)

    def off(point: np.ndarray, start: np.ndarray, end: np.ndarray) -> np.ndarray:
        line, relative = end - start, point - start
        length = np.maximum(np.linalg.norm(line, axis=1), 1e-9)
        return np.abs(line[:, 0] * relative[:, 1] - line[:, 1] * relative[:, 0]) / length / np.maximum(size, 1e-9)

    on_line = (off(hip, shoulder, ankle) <= LINE_TOLERANCE) & (~seen_k | (off(knee, shoulder, ankle) <= LINE_TOLERANCE))
    straight = on_line | (seen_k & (off(hip, shoulder, knee) <= LINE_TOLERANCE))  # or a knee push-up
    judged = seen_s & seen_h & seen_a & (length >= size / 2) & (size > 0)
    return ~judged | straight


@dataclass(frozen=True)
class Sample:
    """One pose sample for the segmenter: height and size of the exercise's signal and of its
    fallback (NaN where unusable), whether the body is in the exercise's posture (True where it cannot
    be judged), and the feet (ankle centre, aspect-corrected image units; NaN where not seen)."""

    heights: tuple[float, float]
    sizes: tuple[float, float]
    posture: bool
    feet: tuple[float, float]


def frame_samples(landmarks: np.ndarray, detected: np.ndarray, aspect: float, exercise: str) -> list[Sample]:
    """The segmenter's sample of every frame of (T, 33, 4) landmarks (see ``Sample``)."""
    signal = signal_of(exercise)
    landmarks = np.asarray(landmarks, dtype=np.float64)
    aspect = aspect if aspect > 0 else 1.0
    xy = landmarks[:, :, :2] * np.array([aspect, 1.0])
    seen = (landmarks[:, :, 3] >= VISIBILITY_THRESHOLD) & inside(xy.reshape(-1, 2), aspect).reshape(xy.shape[:2])
    detected = np.asarray(detected, bool)
    signals = [signal] if signal.fallback is None else [signal, signal.fallback]
    values = [signal_values(landmarks, xy, detected, each, aspect) for each in signals]
    heights = np.stack([height for height, _ in values] + [np.full(len(xy), np.nan)] * (2 - len(values)), axis=1)
    sizes = np.stack([size for _, size in values] + [np.full(len(xy), np.nan)] * (2 - len(values)), axis=1)
    posture = ~detected | in_posture(xy, seen, signal.posture)
    ankle, seen_ankle = centres(xy, seen, ANKLE)
    feet = np.where((detected & seen_ankle)[:, None], ankle, np.nan)
    return [
        Sample((h[0], h[1]), (z[0], z[1]), bool(p), (f[0], f[1]))
        for h, z, p, f in zip(heights.tolist(), sizes.tolist(), posture.tolist(), feet.tolist(), strict=True)
    ]


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
    rebound: tuple[float, int] | None = None  # highest point since the bottom while not back near the top


class RepSegmenter:
    """Streaming repetition segmentation: ``push`` one pose sample at a time, get the repetitions
    that have just finished; ``finish`` at the end of the stream.

    Samples are every ``stride``-th frame of a ``fps`` video. ``trace`` keeps the smoothed signal
    as (frame, height, body size) for plots; ``spans`` the signal followed, as (name, first frame,
    last frame); ``rejected`` the movements deep enough but not repetitions, with the reason.
    ``last_rep_up``: how far back up (fraction of the depth) a repetition the stream cuts short must be.
    """

    def __init__(self, exercise: str, fps: float, stride: int = 1, last_rep_up: float = LAST_REP_UP) -> None:
        rate = fps / stride  # samples per second
        default = signal_of(exercise)
        self.signals = [default] if default.fallback is None else [default, default.fallback]
        self.mode = 0  # index in signals of the one followed
        self.last_rep_up = last_rep_up
        self.window = odd_window(SMOOTH_SECONDS, rate)
        self.kernel = savgol_coeffs(self.window, 2)
        self.max_gap = max(1, int(round(MAX_GAP_SECONDS * rate)))
        self.switch_back = int(round(SWITCH_BACK_SECONDS * rate))
        self.sample_seconds = 1.0 / rate
        self.settle_frames = max(1, int(round(SETTLE_SECONDS * fps)))
        self.stall_frames = int(round(STALL_SECONDS * fps))
        self.sizes: deque[float] = deque(maxlen=odd_window(SIZE_WINDOW_SECONDS, rate))
        self.raw: deque[tuple[int, float, float]] = deque(maxlen=self.window)
        self.pending: list[int] = []  # frames without a usable pose since the last good one
        self.streaks = [0, 0]  # samples since each signal was last unusable for longer than a gap
        self.misses = [0, 0]  # samples in a row each signal has been unusable
        self.poses: dict[int, tuple[bool, float, float]] = {}  # frame -> (posture, feet x, feet y)
        self.tracker: _Tracker | None = None
        self.trace: list[tuple[int, float, float]] = []
        self.spans: list[tuple[str, int, int]] = []
        self.rejected: list[tuple[Rep, str]] = []

    @property
    def signal(self) -> RepSignal:
        """The signal followed now."""
        return self.signals[self.mode]

    @property
    def in_rep(self) -> bool:
        """True while a descent is deep enough to be a repetition and began under STALL_SECONDS ago."""
        state = self.tracker
        if state is None or state.bottom is None or state.top is None or not self.trace:
            return False
        recent = self.trace[-1][0] - state.top[1] <= self.stall_frames
        return recent and state.bottom[0] - state.top[0] >= self.signal.min_depth * state.top[2]

    @property
    def gated(self) -> bool:
        """True while the visibility gate fails (no usable pose in the last sample)."""
        return bool(self.pending) or self.tracker is None

    # -- input: signal choice, gate, gap filling, smoothing --------------------------------------

    def push(self, frame: int, sample: Sample) -> list[Rep]:
        """One pose sample; the repetitions finished now."""
        reps = self._choose(sample)
        height, size = sample.heights[self.mode], sample.sizes[self.mode]
        if not (np.isfinite(height) and np.isfinite(size)):
            if len(self.pending) > self.max_gap:  # the person is gone: the segment has ended
                return reps
            self.pending.append(frame)
            return reps + (self._end_segment() if len(self.pending) > self.max_gap else [])
        self.poses[frame] = (sample.posture, *sample.feet)
        name = self.signal.name
        if self.spans and self.spans[-1][0] == name and len(self.pending) <= self.max_gap:
            self.spans[-1] = (name, self.spans[-1][1], frame)
        else:
            self.spans.append((name, frame, frame))
        if self.pending and self.raw and len(self.pending) <= self.max_gap:
            last_frame, last_height, last_size = self.raw[-1]
            for gap_frame in self.pending:
                weight = (gap_frame - last_frame) / (frame - last_frame)
                reps += self._smooth(
                    gap_frame, last_height + weight * (height - last_height), last_size + weight * (size - last_size)
                )
        self.pending = []
        return reps + self._smooth(frame, height, size)

    def _choose(self, sample: Sample) -> list[Rep]:
        """Switch signals (ending the segment) when the one followed has been gone longer than a gap
        and the other is usable, or the default has been usable SWITCH_BACK_SECONDS (gaps up to
        MAX_GAP_SECONDS allowed) while no repetition is in progress."""
        usable = [bool(np.isfinite(h) and np.isfinite(z)) for h, z in zip(sample.heights, sample.sizes, strict=True)]
        self.misses = [0 if ok else count + 1 for count, ok in zip(self.misses, usable, strict=True)]
        self.streaks = [
            0 if miss > self.max_gap else count + 1 for count, miss in zip(self.streaks, self.misses, strict=True)
        ]
        if len(self.signals) == 1:
            return []
        other = 1 - self.mode
        gone = len(self.pending) > self.max_gap and not usable[self.mode] and usable[other]
        resting = not self.in_rep
        if not (gone or (other == 0 and self.streaks[0] >= self.switch_back and resting)):
            return []
        reps = self._end_segment()
        self.pending, self.mode = [], other
        return reps

    def finish(self) -> list[Rep]:
        """End of the stream: flush the smoother; a repetition cut short counts by ``last_rep_up``."""
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
        whose highest point since its bottom is back ``last_rep_up`` of its depth is complete."""
        reps: list[Rep] = []
        state = self.tracker
        if state is not None and self.raw:
            last = self.raw[-1]
            for _ in range(self.window // 2):
                self.raw.append(last)
                reps += self._emit()
            if state.bottom is not None and state.top is not None:
                (top_height, _, top_size), (bottom_height, bottom) = state.top, state.bottom
                high, end = min((h, f) for f, h in state.history if f >= bottom)
                depth = bottom_height - top_height
                if depth >= self.signal.min_depth * top_size and bottom_height - high >= self.last_rep_up * depth:
                    reps += self._complete(state, end if state.settle is None else state.settle[1], last[2])
        self.tracker = None
        self.raw.clear()
        self.sizes.clear()
        self.poses.clear()
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
            state.bottom, state.settle, state.rebound = (height, frame), None, None
        depth = state.bottom[0] - top_height
        if depth < self.signal.min_depth * top_size:  # not (yet) a repetition
            if height - top_height <= EDGE_FRACTION * depth or frame - state.bottom[1] > self.stall_frames:
                state.bottom = None
                self._rest(state, frame, height, size, anchor=True)
            return []
        if state.settle is None:
            if height - top_height <= RETURN_FRACTION * depth:
                state.settle = (height, frame)
            elif state.rebound is None or height < state.rebound[0]:
                state.rebound = (height, frame)
            elif (
                height - state.rebound[0] >= self.signal.min_depth * top_size and frame - top_frame > self.stall_frames
            ):
                self._restart(state, state.rebound[1], size)  # down again, STALL_SECONDS after leaving the top
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
            self.poses = {f: pose for f, pose in self.poses.items() if f >= frame}
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

    def _rejection(self, state: _Tracker, start: int, end: int, top_size: float) -> str | None:
        """Why the movement from ``start`` to ``end`` is not a repetition of the exercise, or None: its
        bottom held over MAX_HOLD_SECONDS (lying down, sitting), the posture missing in more than
        1 - POSTURE_FRACTION of its deeper half, or (standing exercises) the feet moving over
        FEET_TOLERANCE body sizes (10th to 90th percentile of the ankle centre)."""
        assert state.top is not None and state.bottom is not None  # called for a complete repetition
        top_height, bottom_height = state.top[0], state.bottom[0]
        depth = bottom_height - top_height
        during = [(f, h) for f, h in state.history if start <= f <= end]
        held = sum(bottom_height - h <= HOLD_FRACTION * depth for _, h in during) * self.sample_seconds
        if held > MAX_HOLD_SECONDS:
            return f"held at the bottom ({held:.1f} s)"
        deep = [self.poses[f][0] for f, h in during if h - top_height >= depth / 2 and f in self.poses]
        if deep and np.mean(deep) < POSTURE_FRACTION:
            return f"not in the {self.signal.posture} posture"
        feet = np.array([self.poses[f][1:] for f, _ in during if f in self.poses]).reshape(-1, 2)
        feet = feet[np.isfinite(feet).all(axis=1)]
        spread = np.percentile(feet, 90, axis=0) - np.percentile(feet, 10, axis=0) if len(feet) else np.zeros(2)
        if self.signal.posture == "upright" and float(spread.max()) > FEET_TOLERANCE * top_size:
            return "the feet moved"
        return None

    def _restart(self, state: _Tracker, frame: int, size: float) -> float:
        """A new rest level at ``frame`` (a repetition's end, or where an ascent that never got back
        near the top turned down again: getting into a lower position, e.g. from a pike to the
        plank); the samples after it are replayed. Returns the height at ``frame``."""
        after = [(f, h) for f, h in state.history if f >= frame]
        state.top, state.bottom, state.settle, state.rebound = (after[0][1], frame, size), None, None, None
        state.history = []
        for f, h in after:
            state.history.append((f, h))
            if state.bottom is None:
                self._rest(state, f, h, size)
            elif h > state.bottom[0]:
                state.bottom = (h, f)
        return after[0][1]

    def _complete(self, state: _Tracker, end: int, size: float) -> list[Rep]:
        """Close the repetition at ``end``; the samples after it start the next rest."""
        assert state.top is not None and state.bottom is not None  # called for a complete repetition
        top_height, _, top_size = state.top
        bottom_height, bottom = state.bottom
        depth = bottom_height - top_height
        start = self._start(state, top_size)
        rejection = self._rejection(state, start, end, top_size)
        end_height = self._restart(state, end, size)
        if start == state.first[0] and state.first[1] - end_height > RETURN_FRACTION * (bottom_height - end_height):
            return []  # the segment began part-way down: a partial repetition
        rep = Rep(start=start, bottom=bottom, end=end, depth=depth / top_size)
        if rejection is not None:
            self.rejected.append((rep, rejection))
            return []
        return [rep]


def check_segmentable(sequence: PoseSequence, video: object, stride: int) -> None:
    """VideoError naming ``video`` when it has fewer pose samples than the NUM_FRAMES a repetition is
    sampled to (a 1-frame clip, or a short one at a large ``--stride``): no repetition fits in it."""
    samples = len(sequence.frame_indices)
    if samples < NUM_FRAMES:
        raise VideoError(
            f"{video}: too short to find repetitions: {samples} pose sample(s) from {sequence.total_frames} "
            f"frame(s) at stride {stride}, fewer than the {NUM_FRAMES} a repetition is scored on"
        )


def segment(
    sequence: PoseSequence, exercise: str, fps: float, stride: int = 1, last_rep_up: float = LAST_REP_UP
) -> tuple[list[Rep], RepSegmenter]:
    """The complete repetitions of a pose stream (every ``stride``-th frame of a ``fps`` video), and
    the segmenter (its ``trace`` holds the smoothed signal)."""
    samples = frame_samples(sequence.landmarks, sequence.detected, sequence.aspect, exercise)
    segmenter = RepSegmenter(exercise, fps, stride, last_rep_up)
    reps: list[Rep] = []
    for frame, sample in zip(sequence.frame_indices.tolist(), samples, strict=True):
        reps += segmenter.push(frame, sample)
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
