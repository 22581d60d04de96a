"""Form measurements of one repetition (or a one-rep clip), per exercise, from raw BlazePose landmarks.

Every measurement is computed from the NUM_FRAMES pose samples the model scores (a training clip, or a
repetition sampled by ``serving.reps.rep_sequence``), in image coordinates with x stretched by the
frame's aspect, so 2-D angles are true image angles. Conventions:

- the **bottom** is the sample where the exercise's rep signal (``registry.RepSignal.points``: hips,
  shoulders, or hips and knees) is lowest in the image, the **top** where it is highest;
- a side-specific measurement uses the side whose landmarks BlazePose sees better; each of them needs a
  mean visibility of MIN_VISIBILITY over the valid samples;
- the **view** (front / oblique / side) is read from the pose itself (``view_of``): how far the
  shoulder and hip lines turn out of the image plane, from BlazePose's depth. A measurement lists the
  views that can show it (knee angles bend towards a front camera and foreshorten; knee travel inwards
  is across a side camera's line of sight), and from any other view it is *not measurable*, never a
  number. Reference ranges are kept per view, as one measurement reads differently from each.

``measure`` gives every measurement of an exercise as a ``Measured``: a value in its unit, or None
and the reason. Reference ranges learned from good reps (``learn_ranges``) are plain JSON-able dicts,
stored in the exported artifact's metadata (``form_ranges``).
"""

import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np

from preprocessing.cache import PoseSequence
from preprocessing.constants import VISIBILITY_THRESHOLD
from preprocessing.errors import DataValidationError
from preprocessing.features import clip_seconds
from preprocessing.files import atomic_output
from preprocessing.landmarks import ANKLE, ELBOW, FOOT, HEEL, HIP, KNEE, SHOULDER, WRIST
from preprocessing.normalize import valid_frames
from preprocessing.registry import EXERCISES

View = Literal["front", "oblique", "side"]
VIEWS: tuple[View, ...] = ("front", "oblique", "side")
ALL_VIEWS = VIEWS
PROFILE: tuple[View, ...] = ("oblique", "side")
FACING: tuple[View, ...] = ("front", "oblique")  # views that show sideways movement
FRONT: tuple[View, ...] = ("front",)
SIDE: tuple[View, ...] = ("side",)  # views that show bending in the body's sagittal plane
MIN_VISIBILITY = 0.5  # mean visibility of a measurement's landmarks over the valid samples
MIN_VALID = 8  # valid samples (of NUM_FRAMES) a measurement needs
# View from the body's yaw to the camera: the angle of the shoulder and hip lines out of the image plane,
# atan(|dz| / |dx|) with BlazePose's z (on x's scale), median over valid samples. Measured: the demo
# data's labelled views (front 2-19°, oblique 20-49°, side 52-81°) and the virtual cameras (2°, 45°, 88°).
FRONT_BELOW, SIDE_ABOVE = 20.0, 55.0
GOOD_SCORE = 80.0  # a training rep scored at or above this (or labelled correct: 90) is a good rep
RANGE_QUANTILES = (0.025, 0.5, 0.975)  # low, median, high of good reps' values (benchmarks/feedback.py --dev)
MIN_RANGE_REPS = 10  # good reps of one view a range needs
EPS = 1e-6
Pair = tuple[int, int]


@dataclass(frozen=True)
class Pose:
    """One repetition's samples ready for measuring: aspect-corrected 2-D points, visibility, validity,
    bottom and top sample, the view, and the repetition's duration (None when unknown)."""

    xy: np.ndarray  # (T, 33, 2)
    visibility: np.ndarray  # (T, 33)
    valid: np.ndarray  # (T,) bool
    bottom: int
    top: int
    view: View
    seconds: float | None

    def seen(self, *joints: Pair) -> int | None:
        """The side (0 left, 1 right) whose least-seen joint of ``joints`` is seen better, or None when
        on neither side every joint has a mean visibility of MIN_VISIBILITY."""
        seen = self.visibility[self.valid]
        scores = [float(seen[:, [joint[side] for joint in joints]].mean(0).min()) for side in (0, 1)]
        side = int(np.argmax(scores))
        return side if scores[side] >= MIN_VISIBILITY else None

    def both_seen(self, *joints: Pair, threshold: float = MIN_VISIBILITY) -> bool:
        """Whether both sides of ``joints`` are seen enough (each a mean visibility of ``threshold``)."""
        marks = [joint[side] for joint in joints for side in (0, 1)]
        return bool(self.visibility[self.valid][:, marks].mean(0).min() >= threshold)

    def mid(self, joint: Pair) -> np.ndarray:
        """(T, 2) midpoint of a left/right pair."""
        return (self.xy[:, joint[0]] + self.xy[:, joint[1]]) / 2.0


def _angle(a: np.ndarray, b: np.ndarray, c: np.ndarray) -> np.ndarray:
    """Angle at b (degrees) of 2-D points, any leading shape."""
    u, v = a - b, c - b
    cross = u[..., 0] * v[..., 1] - u[..., 1] * v[..., 0]
    return np.degrees(np.arctan2(np.abs(cross), (u * v).sum(-1)))


def _from_vertical(lower: np.ndarray, upper: np.ndarray) -> np.ndarray:
    """Angle (degrees) of the segment lower -> upper from straight up in the image."""
    d = upper - lower
    return np.degrees(np.arctan2(np.abs(d[..., 0]), -d[..., 1] + EPS))


def _length(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.linalg.norm(a - b, axis=-1)


def view_of(landmarks: np.ndarray, valid: np.ndarray) -> View:
    """front / oblique / side from the yaw of the shoulder and hip lines (see FRONT_BELOW, SIDE_ABOVE)."""
    yaws = []
    for pair in (SHOULDER, HIP):
        d = landmarks[valid][:, pair[0], :3] - landmarks[valid][:, pair[1], :3]
        yaws.append(np.degrees(np.arctan2(np.abs(d[:, 2]), np.abs(d[:, 0]))))
    yaw = float(np.median(np.concatenate(yaws))) if valid.any() else 0.0
    return "front" if yaw < FRONT_BELOW else "side" if yaw > SIDE_ABOVE else "oblique"


def rep_pose(sequence: PoseSequence, exercise: str, seconds: float | None) -> Pose:
    """The samples of ``sequence`` prepared for measuring (see the module docstring)."""
    landmarks = np.asarray(sequence.landmarks, dtype=np.float64)
    valid = valid_frames(landmarks, sequence.detected)
    aspect = sequence.aspect if sequence.aspect > 0 else 1.0
    xy = landmarks[:, :, :2] * np.array([aspect, 1.0])
    height = xy[:, list(EXERCISES[exercise].signal.points), 1].mean(1)
    height = np.where(valid, height, np.nan)
    bottom = int(np.nanargmax(height)) if valid.any() else 0
    top = int(np.nanargmin(height)) if valid.any() else 0
    return Pose(xy, landmarks[:, :, 3], valid, bottom, top, view_of(landmarks, valid), seconds)


# --------------------------------------------------------------------------------------------------
# The measurements: each takes a Pose and returns a value, or a string saying why it is not measurable.

Value = float | str
NOT_SEEN = "its landmarks are not visible enough"


def _side_angles(pose: Pose, side: int | None, a: Pair, b: Pair, c: Pair) -> np.ndarray | None:
    """The angle at ``b`` (degrees) on ``side`` in every valid sample, or None without a side."""
    if side is None:
        return None
    xy = pose.xy[pose.valid]
    return _angle(xy[:, a[side]], xy[:, b[side]], xy[:, c[side]])


def knee_angle(pose: Pose) -> Value:
    """Smallest knee angle (hip-knee-ankle) over the repetition, on the better-seen leg; 180° is a
    straight leg, smaller is deeper."""
    angles = _side_angles(pose, pose.seen(HIP, KNEE, ANKLE), HIP, KNEE, ANKLE)
    return NOT_SEEN if angles is None else float(angles.min())


def hip_above_knee(pose: Pose) -> Value:
    """Height of the hip centre above the knee centre at the bottom, in % of the thigh's longest
    image length over the repetition (its length standing); below 0: hips below the knees."""
    if pose.seen(HIP, KNEE) is None:
        return NOT_SEEN
    hip, knee = pose.mid(HIP), pose.mid(KNEE)
    thigh = float(_length(hip, knee)[pose.valid].max())
    return float(100.0 * (knee[pose.bottom, 1] - hip[pose.bottom, 1]) / (thigh + EPS))


def trunk_lean(pose: Pose) -> Value:
    """Angle of the trunk (hip centre -> shoulder centre) from vertical at the bottom, degrees."""
    if pose.seen(SHOULDER, HIP) is None:
        return NOT_SEEN
    return float(_from_vertical(pose.mid(HIP), pose.mid(SHOULDER))[pose.bottom])


def _width_ratio(pose: Pose, part: Pair, reference: Pair) -> Value:
    """The left-right width of ``part`` at the bottom in % of ``reference``'s (all four points seen)."""
    if not pose.both_seen(part, reference):
        return NOT_SEEN
    bottom = pose.xy[pose.bottom]
    width = _length(bottom[part[0]], bottom[part[1]])
    return float(100.0 * width / (_length(bottom[reference[0]], bottom[reference[1]]) + EPS))


def knee_gap(pose: Pose) -> Value:
    """Knee width at the bottom in % of ankle width (knees travelling inwards make it smaller)."""
    return _width_ratio(pose, KNEE, ANKLE)


def heel_lift(pose: Pose) -> Value:
    """Rise of the heel against the toes from the top to the bottom, in % of the foot's image length
    (heel above the foot index grows when the heel leaves the floor), better-seen foot."""
    side = pose.seen(HEEL, FOOT)
    if side is None:
        return NOT_SEEN
    heel, toe = pose.xy[:, HEEL[side]], pose.xy[:, FOOT[side]]
    foot = float(_length(heel, toe)[pose.valid].max())
    raised = toe[:, 1] - heel[:, 1]
    return float(100.0 * (raised[pose.bottom] - raised[pose.top]) / (foot + EPS))


def hip_tilt(pose: Pose) -> Value:
    """Tilt of the hip line from horizontal at the bottom, degrees (one side dropping or shifting)."""
    if not pose.both_seen(HIP):
        return NOT_SEEN
    d = pose.xy[pose.bottom, HIP[0]] - pose.xy[pose.bottom, HIP[1]]
    return float(np.degrees(np.arctan2(abs(d[1]), abs(d[0]) + EPS)))


def duration(pose: Pose) -> Value:
    """Seconds of the repetition (the clip, for a one-rep clip)."""
    return "its frame times are unknown" if pose.seconds is None else float(pose.seconds)


def elbow_angle(pose: Pose) -> Value:
    """Smallest elbow angle (shoulder-elbow-wrist) over the repetition, better-seen arm; smaller is deeper."""
    angles = _side_angles(pose, pose.seen(SHOULDER, ELBOW, WRIST), SHOULDER, ELBOW, WRIST)
    return NOT_SEEN if angles is None else float(angles.min())


def lockout(pose: Pose) -> Value:
    """Largest elbow angle over the repetition (the arms at the top), better-seen arm; 180° is straight."""
    angles = _side_angles(pose, pose.seen(SHOULDER, ELBOW, WRIST), SHOULDER, ELBOW, WRIST)
    return NOT_SEEN if angles is None else float(angles.max())


def hip_line(pose: Pose) -> Value:
    """Mean offset of the hip centre from the shoulder-ankle line, in % of that line's length: above 0
    the hips are above the line (pike), below 0 they sag."""
    if pose.seen(SHOULDER, HIP, ANKLE) is None:
        return NOT_SEEN
    shoulder, hip, ankle = pose.mid(SHOULDER), pose.mid(HIP), pose.mid(ANKLE)
    line, to_hip = ankle - shoulder, hip - shoulder
    cross = line[:, 0] * to_hip[:, 1] - line[:, 1] * to_hip[:, 0]
    offset = cross / (np.linalg.norm(line, axis=-1) ** 2 + EPS) * -np.sign(line[:, 0] + EPS)
    return float(100.0 * offset[pose.valid].mean())


def elbow_flare(pose: Pose) -> Value:
    """Elbow width at the bottom in % of shoulder width (elbows flaring out make it larger)."""
    return _width_ratio(pose, ELBOW, SHOULDER)


def shoulder_drop(pose: Pose) -> Value:
    """How far the shoulders come down towards the hands: the wrists-to-shoulders image height at the
    bottom in % of the same at the top (100: no descent; smaller is deeper). Any view: a front camera
    sees it as the shoulders sinking towards the hands."""
    if pose.seen(SHOULDER, WRIST) is None:
        return NOT_SEEN
    height = pose.mid(WRIST)[:, 1] - pose.mid(SHOULDER)[:, 1]
    return float(100.0 * height[pose.bottom] / (height[pose.top] + EPS))


def hip_drop(pose: Pose) -> Value:
    """How far the hips go down: hip-centre descent from the top to the bottom, in % of the leg's
    longest image length (hip to ankle) over the repetition. Any view."""
    if pose.seen(HIP, ANKLE) is None:
        return NOT_SEEN
    hip = pose.mid(HIP)
    leg = float(_length(hip, pose.mid(ANKLE))[pose.valid].max())
    return float(100.0 * (hip[pose.bottom, 1] - hip[pose.top, 1]) / (leg + EPS))


def _legs(pose: Pose) -> tuple[int, int]:
    """(front, back) leg of a lunge: the back knee is the one lower in the image at the bottom."""
    back = int(np.argmax(pose.xy[pose.bottom, list(KNEE), 1]))
    return 1 - back, back


def front_leg(pose: Pose, *joints: Pair) -> int | None:
    """The lunge's front leg when both knees are found and the front leg's ``joints`` are seen, else None."""
    if not pose.both_seen(KNEE, threshold=VISIBILITY_THRESHOLD):
        return None
    front, _ = _legs(pose)
    seen = pose.visibility[pose.valid][:, [joint[front] for joint in joints]].mean(0)
    return front if bool(seen.min() >= MIN_VISIBILITY) else None


def front_knee_angle(pose: Pose) -> Value:
    """Smallest knee angle of the front leg over the repetition (the back knee is the lower one at the bottom)."""
    angles = _side_angles(pose, front_leg(pose, HIP, KNEE, ANKLE), HIP, KNEE, ANKLE)
    return NOT_SEEN if angles is None else float(angles.min())


def knee_past_toe(pose: Pose) -> Value:
    """How far the front knee is ahead of the front foot's toes at the bottom, in % of the shank's
    image length (forward: the way the toes point from the heel); below 0 the knee is behind them."""
    front = front_leg(pose, KNEE, ANKLE, HEEL, FOOT)
    if front is None:
        return NOT_SEEN
    b = pose.bottom
    forward = np.sign(pose.xy[b, FOOT[front], 0] - pose.xy[b, HEEL[front], 0] + EPS)
    shank = float(_length(pose.xy[:, KNEE[front]], pose.xy[:, ANKLE[front]])[pose.valid].max())
    return float(100.0 * forward * (pose.xy[b, KNEE[front], 0] - pose.xy[b, FOOT[front], 0]) / (shank + EPS))


def back_knee_height(pose: Pose) -> Value:
    """Height of the back knee above the floor (the front foot's lowest point) at the bottom, in % of
    the front shank's image length."""
    front = front_leg(pose, KNEE, ANKLE, HEEL, FOOT)
    if front is None:
        return NOT_SEEN
    back = 1 - front
    b = pose.bottom
    floor = max(pose.xy[b, HEEL[front], 1], pose.xy[b, FOOT[front], 1])
    shank = float(_length(pose.xy[:, KNEE[front]], pose.xy[:, ANKLE[front]])[pose.valid].max())
    return float(100.0 * (floor - pose.xy[b, KNEE[back], 1]) / (shank + EPS))


def sway(pose: Pose) -> Value:
    """Side-to-side travel of the hip centre over the repetition (max - min of its image x), in % of hip width."""
    if not pose.both_seen(HIP):
        return NOT_SEEN
    x = pose.mid(HIP)[pose.valid, 0]
    width = float(np.median(_length(pose.xy[:, HIP[0]], pose.xy[:, HIP[1]])[pose.valid]))
    return float(100.0 * (x.max() - x.min()) / (width + EPS))


Bad = Literal["high", "low", "both"]


@dataclass(frozen=True)
class Measurement:
    """One form measurement: how it is computed (``compute``, whose docstring says how), its unit, the
    views that show it, which side of the good reps' range is a fault, and the advice for each side
    (``{value}`` and ``{bound}`` are filled in, with the unit; a signed value reads as a size on its side)."""

    name: str
    unit: str
    views: tuple[View, ...]
    bad: Bad
    compute: Callable[[Pose], Value]
    advice: Mapping[str, str]

    @property
    def doc(self) -> str:
        return (self.compute.__doc__ or "").strip()


def _m(
    name: str, unit: str, views: tuple[View, ...], bad: Bad, compute: Callable[[Pose], Value], **advice: str
) -> Measurement:
    return Measurement(name, unit, views, bad, compute, advice)


def _trunk(advice: str) -> Measurement:
    """Trunk lean (squat and lunge alike), with the exercise's own advice."""
    return _m("trunk_lean", "°", PROFILE, "high", trunk_lean, high=advice)


TEMPO = _m(
    "duration",
    "s",
    ALL_VIEWS,
    "low",
    duration,
    low="too fast: {value} for the rep; good reps here take {bound} or more",
)
MEASUREMENTS: dict[str, tuple[Measurement, ...]] = {
    "squat": (
        _m(
            "knee_angle",
            "°",
            PROFILE,
            "high",
            knee_angle,
            high="not deep enough: knees bent to {value}; good reps here reach {bound} or less",
        ),
        _m(
            "hip_above_knee",
            "% of a thigh",
            ALL_VIEWS,
            "high",
            hip_above_knee,
            high="go lower: hips stop at {value} above knee height; good reps here reach {bound} or lower",
        ),
        _trunk("keep your chest up: trunk {value} from vertical at the bottom; good reps here stay within {bound}"),
        _m(
            "knee_gap",
            "% of ankle width",
            FRONT,
            "low",
            knee_gap,
            low="push your knees out: they are {value} apart at the bottom; good reps here keep {bound} or more",
        ),
        _m(
            "heel_lift",
            "% of a foot",
            PROFILE,
            "high",
            heel_lift,
            high="keep your heels down: they rise {value}; good reps here stay within {bound}",
        ),
        _m(
            "hip_tilt",
            "°",
            FACING,
            "high",
            hip_tilt,
            high="sit down evenly: hips tilted {value} at the bottom; good reps here stay within {bound}",
        ),
        TEMPO,
    ),
    "pushup": (
        _m(
            "elbow_angle",
            "°",
            PROFILE,
            "high",
            elbow_angle,
            high="go lower: elbows bend to {value}; good reps here reach {bound} or less",
        ),
        _m(
            "hip_line",
            "% of body length",
            PROFILE,
            "both",
            hip_line,
            high="lower your hips: {value} above the shoulder-ankle line; good reps here stay within {bound}",
            low="keep your hips up: they sag {value} below the shoulder-ankle line; good reps here stay within {bound}",
        ),
        _m(
            "shoulder_drop",
            "% of the top",
            ALL_VIEWS,
            "high",
            shoulder_drop,
            high="go lower: shoulders come down only to {value} of their height above the hands; "
            "good reps here reach {bound} or less",
        ),
        _m(
            "lockout",
            "°",
            PROFILE,
            "low",
            lockout,
            low="straighten your arms at the top: elbows open to {value}; good reps here reach {bound} or more",
        ),
        _m(
            "elbow_flare",
            "% of shoulder width",
            FRONT,
            "high",
            elbow_flare,
            high="tuck your elbows: {value} apart at the bottom; good reps here stay within {bound}",
        ),
        TEMPO,
    ),
    "lunge": (
        _m(
            "front_knee_angle",
            "°",
            PROFILE,
            "high",
            front_knee_angle,
            high="not deep enough: front knee bent to {value}; good reps here reach {bound} or less",
        ),
        _m(
            "hip_drop",
            "% of leg length",
            ALL_VIEWS,
            "low",
            hip_drop,
            low="go lower: hips drop {value}; good reps here drop {bound} or more",
        ),
        _m(
            "knee_past_toe",
            "% of a shank",
            SIDE,
            "high",
            knee_past_toe,
            high="keep the front knee over the ankle: it ends {value} past the toes; good reps here: {bound} or less",
        ),
        _trunk("keep your trunk upright: {value} from vertical at the bottom; good reps here stay within {bound}"),
        _m(
            "back_knee_height",
            "% of a shank",
            ALL_VIEWS,
            "high",
            back_knee_height,
            high="drop the back knee lower: it stays {value} above the floor; good reps here reach {bound} or less",
        ),
        _m(
            "sway",
            "% of hip width",
            FACING,
            "high",
            sway,
            high="keep your hips steady: they sway {value} sideways; good reps here stay within {bound}",
        ),
        TEMPO,
    ),
}
if set(MEASUREMENTS) != set(EXERCISES):
    raise AssertionError(f"form measurements for {sorted(MEASUREMENTS)}, exercises {sorted(EXERCISES)}")


@dataclass(frozen=True)
class Measured:
    """One measurement of one repetition: its value in ``unit``, or None and why not."""

    name: str
    unit: str
    value: float | None
    reason: str | None = None


def measure(sequence: PoseSequence, exercise: str, seconds: float | None = None) -> tuple[View, list[Measured]]:
    """The view and every measurement of ``exercise`` on one repetition's samples (``seconds``: its duration)."""
    pose = rep_pose(sequence, exercise, seconds)
    results = []
    for spec in MEASUREMENTS[exercise]:
        if int(pose.valid.sum()) < MIN_VALID:
            value: Value = f"the person is seen in fewer than {MIN_VALID} of its frames"
        elif pose.view not in spec.views:
            value = f"a {pose.view} view cannot show it"
        else:
            value = spec.compute(pose)
        if isinstance(value, str):
            results.append(Measured(spec.name, spec.unit, None, value))
        else:
            results.append(Measured(spec.name, spec.unit, round(value, 2)))
    return pose.view, results


# --------------------------------------------------------------------------------------------------
# Reference ranges from good reps


def is_good(score: float) -> bool:
    """A training rep whose score (or label score) is at least GOOD_SCORE."""
    return bool(score >= GOOD_SCORE)


def learn_ranges(
    exercise: str,
    reps: Sequence[tuple[View, list[Measured]]],
    scores: Sequence[float],
    source: str,
    quantiles: tuple[float, float, float] = RANGE_QUANTILES,
) -> dict:
    """Reference ranges of ``exercise``'s measurements over the good reps among ``reps`` (their
    ``measure`` results, with their ``scores``): per measurement and view with at least MIN_RANGE_REPS
    values, the ``quantiles`` (``low``, ``median``, ``high``) and the count. JSON-able."""
    values: dict[str, dict[str, list[float]]] = {spec.name: {} for spec in MEASUREMENTS[exercise]}
    good = 0
    for (view, measured), score in zip(reps, scores, strict=True):
        if not is_good(score):
            continue
        good += 1
        for item in measured:
            if item.value is not None:
                values[item.name].setdefault(view, []).append(item.value)
    ranges: dict[str, dict[str, dict[str, float]]] = {}
    for name, found_by_view in values.items():
        for seen_from, found in sorted(found_by_view.items()):
            if len(found) >= MIN_RANGE_REPS:
                low, median, high = (float(q) for q in np.quantile(found, quantiles))
                ranges.setdefault(name, {})[seen_from] = {
                    "low": round(low, 2),
                    "median": round(median, 2),
                    "high": round(high, 2),
                    "count": len(found),
                }
    return {
        "exercise": exercise,
        "good_score": GOOD_SCORE,
        "quantiles": list(quantiles),
        "good_reps": good,
        "source": source,
        "measurements": ranges,
    }


def clip_ranges(exercise: str, clips: Iterable[tuple[str, PoseSequence, float]], source: str) -> dict:
    """``learn_ranges`` over (video, pose samples, score) clips, each taken as one repetition."""
    reps, scores = [], []
    for video, sequence, score in clips:
        reps.append(measure(sequence, exercise, clip_seconds(video, sequence)))
        scores.append(score)
    return learn_ranges(exercise, reps, scores, source)


def check_ranges(ranges: object, exercise: str | None, where: str) -> str | None:
    """Why ``ranges`` (from ``where``) is not a reference-range document (of ``exercise``; None: of any
    exercise), or None."""
    if not isinstance(ranges, dict) or not isinstance(ranges.get("measurements"), dict):
        return f"{where}: form_ranges is not a reference-range document"
    if ranges.get("exercise") not in MEASUREMENTS or exercise not in (None, ranges["exercise"]):
        return f"{where}: form_ranges are for {ranges.get('exercise')!r}, not {exercise or 'an exercise'}"
    known = {spec.name for spec in MEASUREMENTS[ranges["exercise"]]}
    for name, by_view in ranges["measurements"].items():
        if name not in known or not isinstance(by_view, dict):
            return f"{where}: form_ranges has an unknown measurement {name!r}"
        for view, bounds in by_view.items():
            if view not in VIEWS or not isinstance(bounds, dict):
                return f"{where}: form_ranges.{name} has an unknown view {view!r}"
            numbers = [bounds.get(key) for key in ("low", "median", "high")]
            if not all(isinstance(n, int | float) and np.isfinite(n) for n in numbers) or not (
                numbers[0] <= numbers[1] <= numbers[2]  # type: ignore[operator]
            ):
                return f"{where}: form_ranges.{name}.{view} needs finite low <= median <= high"
    return None


def read_ranges(path: str | Path, exercise: str | None = None) -> dict:
    """A reference-range file (``write_ranges``); DataValidationError naming it when it is unreadable or
    not one (of ``exercise``)."""
    try:
        document = json.loads(Path(path).read_text())
    except (OSError, ValueError) as error:
        raise DataValidationError(f"{path}: not a readable form-range file ({error})") from None
    problem = check_ranges(document, exercise, str(path))
    if problem:
        raise DataValidationError(problem)
    return document


def write_ranges(path: str | Path, ranges: dict) -> None:
    """Write a reference-range document as indented JSON, atomically."""
    with atomic_output(path) as temp:
        temp.write_text(json.dumps(ranges, indent=2, sort_keys=True) + "\n")
