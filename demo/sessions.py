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
from demo.skeleton import Joints, lerp
from demo.timeline import Timeline, movement_depth
from preprocessing.cache import PoseSequence

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
    model = EXERCISE_MODELS[exercise]
    rng = subject_rng(seed, exercise, SESSION_SUBJECT)
    subject = sample_subject("session", model, rng)
    camera = jitter_camera(subject.camera, rng)
    stance = sample_severities(subject.habits, 0.0, rng)

    def piece(start: float, index: int) -> Piece:
        severity = sample_severities(subject.habits, 0.1 * index / max(reps - 1, 1), rng)
        severity |= {fault: stance[fault] for fault in STANCE_FAULTS.get(exercise, ())}
        severity |= faults[index] if 0 <= index < len(faults) else {}
        severity = model.performed(subject, severity)
        seconds = float(lerp(subject.comfortable_seconds, model.fast_seconds, severity["tempo"]))
        hold = float(rng.uniform(0.0, 0.18) * (1.0 - severity["tempo"]))
        return Piece(start, seconds * float(rng.uniform(0.93, 1.07)), float(rng.uniform(0.38, 0.52)), hold, severity)

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
