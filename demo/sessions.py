"""Demo sessions: several repetitions chained in one pose stream, with known boundaries and faults.

Built from the demo generator's pieces (``demo.exercises``, ``demo.camera``): one subject, one camera,
rest between repetitions, optionally a pause, a partial repetition at the start (the video begins
mid-ascent) or at the end (it stops mid-descent), and seconds without the person (walking in / out).
Every frame is posed (SESSION_FPS), as ``serving.stream`` gives a real video at stride 1, and
each repetition's frames come from the exercise's kinematics with that repetition's own fault
severities, so its score is known. Saved as a ``*.pose.npz`` file, a session is read like a video's
pose stream (``score_video.py --reps``).
"""

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

import numpy as np

from demo.camera import Camera, jitter_camera, observe
from demo.exercises import (
    EXERCISE_MODELS,
    Exercise,
    Subject,
    form_score,
    sample_severities,
    sample_subject,
    subject_rng,
)
from demo.skeleton import (
    FORWARD,
    LEFT_AXIS,
    SIDES,
    UP,
    Body,
    Joints,
    arms_forward,
    lerp,
    trunk,
    two_link,
    unit,
)
from demo.timeline import Timeline, ease, movement_depth
from preprocessing.cache import PoseSequence
from preprocessing.landmarks import HIP, SHOULDER

SESSION_FPS = 30  # = preprocessing.video.DEFAULT_FPS, the rate a *.pose.npz stream is read at
SESSION_SUBJECT = 1000  # subject number of sessions (apart from the data set's 1..60)
REST_SECONDS = (0.3, 0.8)  # between repetitions
LEAD_SECONDS = (0.6, 1.2)  # before the first repetition
PARTIAL_START_PHASE = 0.6  # a partial first repetition: the video begins at this phase (ascending)
PARTIAL_END_PHASE = 0.3  # a partial last repetition: the video ends at this phase (descending)
# Faults that place the feet, shared by a session's repetitions: the lunge model puts the back foot
# where the repetition's depth and knee angles need it, and a person keeps one split stance per set.
STANCE_FAULTS = {"lunge": ("depth", "knee_over_toe", "back_knee")}


@dataclass(frozen=True)
class Piece:
    """One repetition on the session's time line (seconds)."""

    start: float
    seconds: float
    descent: float  # fraction of the repetition going down
    hold: float  # fraction held at the bottom
    severity: dict[str, float]


@dataclass(frozen=True)
class Session:
    """A generated session: every frame's pose, and the complete repetitions' ground truth."""

    sequence: PoseSequence
    reps: list[tuple[int, int, int]]  # (start, bottom, end) frames of each complete repetition
    scores: list[float]
    severities: list[dict[str, float]]


def piece_frames(piece: Piece, fps: int) -> tuple[int, int, int]:
    """(start, bottom, end) frames of a piece: first frame moving, middle of the hold, last frame moving."""
    bottom = piece.start + (piece.descent + piece.hold / 2) * piece.seconds
    return (
        int(np.ceil(piece.start * fps)),
        int(round(bottom * fps)),
        int(np.floor((piece.start + piece.seconds) * fps)),
    )


def session_depth(pieces: Sequence[Piece], times: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Movement depth at ``times`` and the piece that owns each time (the nearest one)."""
    depth = np.zeros_like(times)
    centres = np.array([piece.start + piece.seconds / 2 for piece in pieces])
    owner = np.abs(times[:, None] - centres[None]).argmin(axis=1)
    for piece in pieces:
        inside = (times >= piece.start) & (times <= piece.start + piece.seconds)
        depth[inside] = movement_depth(times[inside], piece.start, piece.seconds, piece.descent, piece.hold)
    return depth, owner


def make_session(
    exercise: str,
    seed: int = 0,
    reps: int = 5,
    partial_start: bool = False,
    partial_end: bool = False,
    pause_seconds: float = 0.0,
    absent_seconds: tuple[float, float] = (0.0, 0.0),
    faults: Sequence[dict[str, float]] = (),
) -> Session:
    """A session of ``reps`` complete repetitions of ``exercise`` (see the module docstring).

    ``pause_seconds`` of extra rest after the middle repetition; ``absent_seconds`` (before, after)
    without the person; ``faults``: severities forced on the first repetitions (others drawn from
    the subject's habits, a little worse with fatigue, as in the data set).
    """
    model, subject, camera, rng = session_subject(exercise, seed)
    piece = piece_maker(exercise, subject, rng, reps, faults)
    pieces, complete, cursor = schedule(piece, reps, rng, partial_start, partial_end, pause_seconds, absent_seconds)
    total = int(round(cursor * SESSION_FPS))
    frames = np.arange(total)
    times = frames / SESSION_FPS
    joints = session_joints(pieces, model, subject, frames, times)
    landmarks, detected = render_session(joints, subject, camera, times, absent_seconds, rng)
    sequence = PoseSequence(landmarks, detected, frames.astype(np.int64), total, camera.aspect)
    return Session(
        sequence=sequence,
        reps=[piece_frames(part, SESSION_FPS) for part in complete],
        scores=[form_score(part.severity, model.weights, rng) for part in complete],
        severities=[part.severity for part in complete],
    )


def session_subject(exercise: str, seed: int) -> tuple[Exercise, Subject, Camera, np.random.Generator]:
    """The exercise model, the session's subject and camera, and the random stream that goes on."""
    model = EXERCISE_MODELS[exercise]
    rng = subject_rng(seed, exercise, SESSION_SUBJECT)
    subject = sample_subject("session", model, rng)
    return model, subject, jitter_camera(subject.camera, rng), rng


def piece_maker(
    exercise: str, subject: Subject, rng: np.random.Generator, reps: int, faults: Sequence[dict[str, float]]
) -> Callable[[float, int], Piece]:
    """``piece(start, index)``: repetition ``index`` of ``reps`` starting at ``start`` (-1: a partial
    one): the subject's habits, a little worse with fatigue, ``faults`` forced on the first ones."""
    model = EXERCISE_MODELS[exercise]
    stance = sample_severities(subject.habits, 0.0, rng)

    def piece(start: float, index: int) -> Piece:
        severity = sample_severities(subject.habits, 0.1 * index / max(reps - 1, 1), rng)
        severity |= {fault: stance[fault] for fault in STANCE_FAULTS.get(exercise, ())}
        severity |= faults[index] if 0 <= index < len(faults) else {}
        severity = model.performed(subject, severity)
        seconds = float(lerp(subject.comfortable_seconds, model.fast_seconds, severity["tempo"]))
        hold = float(rng.uniform(0.0, 0.18) * (1.0 - severity["tempo"]))
        return Piece(start, seconds * float(rng.uniform(0.93, 1.07)), float(rng.uniform(0.38, 0.52)), hold, severity)

    return piece


def schedule(
    piece: Callable[[float, int], Piece],
    reps: int,
    rng: np.random.Generator,
    partial_start: bool,
    partial_end: bool,
    pause_seconds: float,
    absent_seconds: tuple[float, float],
) -> tuple[list[Piece], list[Piece], float]:
    """Every piece of the session in time order (partial ones included), the complete repetitions,
    and the session's length in seconds; ``piece(start, index)`` draws one (index -1: a partial one)."""
    pieces: list[Piece] = []
    if partial_start:
        first = piece(0.0, -1)
        pieces.append(replace(first, start=-PARTIAL_START_PHASE * first.seconds))
        cursor = pieces[0].start + pieces[0].seconds + float(rng.uniform(*REST_SECONDS))
    else:
        cursor = absent_seconds[0] + float(rng.uniform(*LEAD_SECONDS))
    complete: list[Piece] = []
    for index in range(reps):
        complete.append(piece(cursor, index))
        cursor += complete[-1].seconds + float(rng.uniform(*REST_SECONDS))
        cursor += pause_seconds if index == reps // 2 - 1 else 0.0
    pieces += complete
    if partial_end:
        pieces.append(piece(cursor, -1))
        cursor += PARTIAL_END_PHASE * pieces[-1].seconds
    else:
        cursor += absent_seconds[1]
    return pieces, complete, cursor


def session_joints(
    pieces: list[Piece], model: Exercise, subject: Subject, frames: np.ndarray, times: np.ndarray
) -> Joints:
    """The joints of every frame: each frame moves as the piece that owns it (rests hold still)."""
    depth, owner = session_depth(pieces, times)
    chunks: list[Joints] = []
    for number, part in enumerate(pieces):
        mine = owner == number
        timeline = Timeline(frames[mine], len(frames), times[mine], depth[mine])
        chunks.append(model.joints(subject, part.severity, timeline))
    return {key: np.concatenate([chunk[key] for chunk in chunks]) for key in chunks[0]}


def render_session(
    joints: Joints,
    subject: Subject,
    camera: Camera,
    times: np.ndarray,
    absent_seconds: tuple[float, float],
    rng: np.random.Generator,
) -> tuple[np.ndarray, np.ndarray]:
    """Joints of every frame -> BlazePose-like landmarks (T, 33, 4) and detected flags: scattered
    misses at the subject's miss rate, nobody during the absent seconds at either end."""
    landmarks = observe(joints, subject.body, camera, rng)
    detected = rng.random(len(times)) >= subject.miss_rate
    detected &= (times >= absent_seconds[0]) & (times <= times[-1] - absent_seconds[1])
    landmarks[~detected] = 0.0
    return landmarks, detected


# --------------------------------------------------------------------------------------------------
# Workouts: sets of repetitions with rests in the postures people take, walking out and in, partial
# framing, and a recording cut at any phase of a last repetition.

REST_POSTURES = {
    "pushup": ("kneel", "pike", "lie"),  # from the plank: sit back on the knees, hips up, lie down
    "squat": ("stand", "walk", "drink", "bend"),  # stand still, step aside and back, a bottle to the mouth, bend over
    "lunge": ("stand", "walk", "drink", "bend"),
}
REST_MOVE_SECONDS = 1.0  # into a rest posture, and out of it again
REST_HOLD_SECONDS = {"lie": 4.0}  # held in the posture; others REST_HOLD_DEFAULT
REST_HOLD_DEFAULT = 1.0
SET_BREAK_SECONDS = 12.0  # between sets: standing (or in the plank) around the rest postures
WALK_METRES = 0.6  # "walk": sideways and back
ABSENT_SECONDS = 3.0  # walking out: this long out of the picture, at the far end of the walk
DIRECTIONS = ("head_up", "head_forward", "front", "finger", "thumb")  # unit vectors among the joints


@dataclass(frozen=True)
class RestMove:
    """A rest movement on the session's time line (seconds): into ``posture``, held, back."""

    posture: str
    start: float
    hold: float

    @property
    def seconds(self) -> float:
        return 2 * REST_MOVE_SECONDS + self.hold

    def weight(self, times: np.ndarray) -> np.ndarray:
        """0 (the exercise's rest pose) .. 1 (the rest posture) at ``times``."""
        into = ease((times - self.start) / REST_MOVE_SECONDS)
        back = ease((times - self.start - REST_MOVE_SECONDS - self.hold) / REST_MOVE_SECONDS)
        return into - back


@dataclass(frozen=True)
class Workout:
    """A generated workout: the session (counted repetitions only), the repetitions per set, the rest
    movements as (posture, first frame, last frame), and how far down (0..1) the recording's cut
    leaves a last repetition (None: no cut repetition; 0 at its start and end, 1 at its bottom)."""

    session: Session
    sets: list[int]
    rests: list[tuple[str, int, int]]
    cut_depth: float | None
    cut_ascending: bool


def rest_pose(posture: str, joints: Joints, body: Body) -> Joints:
    """The joints of a rest ``posture`` reached from the exercise's rest pose ``joints`` (plank or standing)."""
    pose = {key: value.copy() for key, value in joints.items()}
    down = np.broadcast_to(-UP, joints["head"].shape)
    if posture in ("stand", "walk"):
        if posture == "walk":
            pose = {
                key: value + WALK_METRES * LEFT_AXIS if key not in DIRECTIONS else value for key, value in pose.items()
            }
        return pose
    if posture == "drink":  # the left hand to the mouth
        mouth = joints["head"] + 0.1 * joints["head_forward"] - 0.08 * joints["head_up"]
        pose["wrist"][:, 0] = mouth
        pose["elbow"][:, 0] = two_link(joints["shoulder"][:, 0], mouth, body.upper_arm, body.forearm, -UP - FORWARD)
        return pose
    if posture == "bend":  # hips back and down, trunk past horizontal, arms hanging: to the floor
        pose["hip"] = joints["hip"] - 0.25 * FORWARD - 0.1 * UP
        pose["knee"] = np.stack(
            [two_link(pose["hip"][:, s], joints["ankle"][:, s], body.thigh, body.shank, FORWARD) for s in SIDES], axis=1
        )
        zero = np.zeros(len(joints["head"]))
        pose.update(trunk(pose["hip"], zero + 110.0, zero, 0.0, zero, body))
        pose.update(arms_forward(pose["shoulder"], zero + 5.0, 10.0, body))
        return pose
    ankle, shoulder, hip = joints["ankle"], joints["shoulder"], joints["hip"]
    wrists = joints["wrist"].mean(axis=1)
    if posture == "lie":
        for key, height in (("ankle", 0.08), ("heel", 0.04), ("toe", 0.02), ("knee", 0.1), ("hip", 0.12)):
            pose[key][..., 1] = height
        pose["shoulder"][..., 1] = 0.15
        pose["head"][..., 1] = 0.17
        pose["elbow"] = (pose["shoulder"] + joints["wrist"]) / 2 + 0.15 * UP
        pose["front"] = down
        return pose
    arm = 0.98 * (body.upper_arm + body.forearm)  # arms nearly straight, hands planted
    if posture == "kneel":  # knees down, sitting back on the heels, hands planted
        knee = joints["knee"] + 0.05 * FORWARD
        knee[..., 1] = 0.05
        new_ankle = knee - body.shank * FORWARD
        new_ankle[..., 1] = 0.08
        shift = new_ankle - ankle
        pose.update(knee=knee, ankle=new_ankle, heel=joints["heel"] + shift, toe=joints["toe"] + shift)
        pose["hip"] = new_ankle + 0.4 * UP + 0.1 * FORWARD
        centre = pose["hip"].mean(axis=1)
        top = two_link(centre, wrists, body.torso, arm, UP)
    else:  # pike: shoulders back over the hands (arms 40 degrees from vertical), hips up
        leg, tilt = body.thigh + body.shank, np.radians(40.0)
        top = wrists + arm * (np.cos(tilt) * UP - np.sin(tilt) * FORWARD)
        centre = two_link(ankle.mean(axis=1), top, leg, body.torso, UP)
        pose["hip"] = hip + (centre - hip.mean(axis=1))[:, None]
        pose["knee"] = ankle + body.shank / leg * (pose["hip"] - ankle)
    along = unit(top - centre)
    pose["shoulder"] = shoulder + (centre + body.torso * along - shoulder.mean(axis=1))[:, None]
    pose["elbow"] = (pose["shoulder"] + joints["wrist"]) / 2 + 0.03 * UP
    pose["head"] = pose["shoulder"].mean(axis=1) + body.neck * along
    pose.update(head_up=along, head_forward=down, front=down)
    return pose


def blend(joints: Joints, pose: Joints, weight: np.ndarray) -> Joints:
    """Joints moving from ``joints`` (weight 0) to ``pose`` (weight 1); directions stay unit vectors."""
    out = {}
    for key, value in joints.items():
        shape = (-1,) + (1,) * (value.ndim - 1)
        mixed = lerp(value, pose[key], weight.reshape(shape))
        out[key] = unit(mixed) if key in DIRECTIONS else mixed
    return out


def make_workout(
    exercise: str,
    seed: int = 0,
    sets: Sequence[int] = (4, 4),
    rests: Sequence[str] = (),
    breaks: Sequence[str] = (),
    walk_out: bool = False,
    upper_body_out: bool = False,
    cut_phase: float | None = None,
    faults: dict[str, float] | None = None,
) -> Workout:
    """A workout of ``sets`` (repetitions per set) of ``exercise`` by one subject.

    ``rests``: a rest movement in each set after its second repetition (cycling through them); ``breaks``:
    the rest movements in each break of SET_BREAK_SECONDS between sets; ``walk_out``: each break
    also walks out of the picture (ABSENT_SECONDS) and back; ``upper_body_out``: framed so that the
    standing shoulders are above the top edge (``frame_low``); ``cut_phase``: the recording ends that
    far (0..1) into one more repetition; ``faults``: severities forced on every repetition.
    """
    unknown = sorted((set(rests) | set(breaks)) - set(REST_POSTURES[exercise]))
    if unknown:
        raise ValueError(f"no rest posture {unknown} for {exercise}: choose from {REST_POSTURES[exercise]}")
    model, subject, camera, rng = session_subject(exercise, seed)
    total = sum(sets) + (cut_phase is not None)
    piece = piece_maker(exercise, subject, rng, total, [dict(faults or {})] * total)
    cursor = float(rng.uniform(*LEAD_SECONDS))
    pieces: list[Piece] = []
    moves: list[RestMove] = []
    absent: list[tuple[float, float]] = []

    def move(posture: str, at: float, hold: float | None = None) -> float:
        moves.append(RestMove(posture, at, REST_HOLD_SECONDS.get(posture, REST_HOLD_DEFAULT) if hold is None else hold))
        return at + moves[-1].seconds + float(rng.uniform(*REST_SECONDS))

    for number, count in enumerate(sets):
        if number:
            began, cursor = cursor, cursor + 2.0
            for posture in breaks:
                cursor = move(posture, cursor)
            if walk_out:
                absent.append((cursor + REST_MOVE_SECONDS, cursor + REST_MOVE_SECONDS + ABSENT_SECONDS))
                cursor = move("walk", cursor, ABSENT_SECONDS)
            cursor = max(cursor, began + SET_BREAK_SECONDS)
        for index in range(count):
            pieces.append(piece(cursor, len(pieces)))
            cursor += pieces[-1].seconds + float(rng.uniform(*REST_SECONDS))
            if index == 1 and rests:
                cursor = move(rests[number % len(rests)], cursor)
    complete = list(pieces)
    cut_depth, ascending = None, False
    if cut_phase is not None:
        pieces.append(piece(cursor, len(pieces)))
        last = pieces[-1]
        cursor = last.start + cut_phase * last.seconds
        cut_depth = float(movement_depth(np.array([cursor]), last.start, last.seconds, last.descent, last.hold)[0])
        ascending = cut_phase > last.descent + last.hold
    else:
        cursor += float(rng.uniform(*LEAD_SECONDS))
    frames = np.arange(int(round(cursor * SESSION_FPS)) + 1)
    times = frames / SESSION_FPS
    joints = session_joints(pieces, model, subject, frames, times)
    for rest in moves:
        inside = (times >= rest.start) & (times <= rest.start + rest.seconds)
        mine = {key: value[inside] for key, value in joints.items()}
        for key, value in blend(mine, rest_pose(rest.posture, mine, subject.body), rest.weight(times[inside])).items():
            joints[key][inside] = value
    landmarks, detected = render_session(joints, subject, camera, times, (0.0, 0.0), rng)
    for start, end in absent:
        detected &= (times < start) | (times > end)
    if upper_body_out:
        landmarks = frame_low(landmarks, detected, rng)
    landmarks[~detected] = 0.0
    sequence = PoseSequence(landmarks, detected, frames.astype(np.int64), len(frames), camera.aspect)
    session = Session(
        sequence=sequence,
        reps=[piece_frames(part, SESSION_FPS) for part in complete],
        scores=[form_score(part.severity, model.weights, rng) for part in complete],
        severities=[part.severity for part in complete],
    )
    spans = [
        (rest.posture, int(np.ceil(rest.start * SESSION_FPS)), int((rest.start + rest.seconds) * SESSION_FPS))
        for rest in moves
    ]
    return Workout(session, list(sets), spans, cut_depth, ascending)


def frame_low(landmarks: np.ndarray, detected: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """The picture framed low: everything shifted up so that the standing shoulders are just above the
    top edge. Points outside the picture keep their visibility (real BlazePose output does: a
    front-view push-up's hips above the frame stay at 0.7-0.9) but drift, and so do the hips while
    both shoulders are out (the detector has lost the torso)."""
    shoulders = landmarks[:, list(SHOULDER), 1].mean(axis=1)
    out = landmarks.copy()
    out[..., 1] -= np.percentile(shoulders[detected], 10) + 0.04
    outside = (out[..., :2] < 0).any(axis=-1) | (out[..., :2] > 1).any(axis=-1)
    lost = outside.copy()
    lost[:, list(HIP)] |= outside[:, list(SHOULDER)].all(axis=1)[:, None]
    drift = np.clip(np.cumsum(rng.normal(0.0, 0.02, size=out.shape[:2] + (2,)), axis=0), -0.2, 0.2)
    drift[:, list(SHOULDER), 1] = -np.abs(drift[:, list(SHOULDER), 1])  # the shoulders stay out of the picture
    out[..., :2] += np.where(lost[..., None], drift, 0.0)
    return out
