"""Typed results of scoring: per clip, per repetition, per set, and the report of one model.

Each is a frozen dataclass; ``to_json`` turns any of them (or a list) into the JSON-able document the
``--json`` output prints. A field declared with ``OMIT_NONE`` is left out of the document while it is
None (a clip's ``warning``, a set's live timings); every other field is always there.
"""

from dataclasses import dataclass, field, fields, is_dataclass
from typing import Any

OMIT_NONE = {"omit_none": True}


@dataclass(frozen=True)
class FormMeasurement:
    """One form measurement of a rep (``preprocessing.form``): its value, or why it is not measurable,
    and the good reps' range for this view (low, median, high), when the model has one."""

    name: str
    unit: str
    value: float | None
    not_measurable: str | None = field(default=None, metadata=OMIT_NONE)
    good_range: list[float] | None = field(default=None, metadata=OMIT_NONE)


@dataclass(frozen=True)
class FeedbackItem:
    """What to fix: a measurement outside the good reps' range, how far (in multiples of the range's
    half-width beyond its bound), and the instruction with the numbers."""

    measurement: str
    value: float
    bound: float
    outside: float
    text: str


@dataclass(frozen=True)
class FormCheck:
    """A rep's form: the view it was seen from, its measurements, and at most three things to fix,
    the furthest outside first (none: ``summary`` says all were within range, or why none was compared)."""

    view: str
    measurements: list[FormMeasurement]
    feedback: list[FeedbackItem]
    summary: str


@dataclass(frozen=True)
class ClipResult:
    """One scored clip: its score 0..100 and what it rests on (frames with a person of the sampled ones)."""

    video: str
    frames_with_person: int
    num_frames: int
    distinct_frames: int
    total_frames: int
    warning: str | None = field(default=None, metadata=OMIT_NONE, kw_only=True)  # the score is unreliable: why
    score: float
    form: FormCheck | None = field(default=None, metadata=OMIT_NONE, kw_only=True)  # the clip taken as one rep


@dataclass(frozen=True)
class ClipFailure:
    """A clip that could not be scored, and why (the message names the file)."""

    video: str
    error: str


@dataclass(frozen=True)
class RepResult:
    """One scored repetition: video frames and times, depth (body sizes), score, frames with a person."""

    index: int
    start_frame: int
    bottom_frame: int
    end_frame: int
    start_time: float
    end_time: float
    depth: float
    score: float
    frames_with_person: int
    num_frames: int
    form: FormCheck | None = field(default=None, metadata=OMIT_NONE)


@dataclass(frozen=True)
class SetSummary:
    """Count, mean score and worst repetition of a set (None without repetitions)."""

    count: int
    mean_score: float | None
    worst_rep: int | None
    worst_score: float | None

    @classmethod
    def of(cls, reps: list[RepResult]) -> "SetSummary":
        if not reps:
            return cls(0, None, None, None)
        worst = min(reps, key=lambda rep: rep.score)
        return cls(len(reps), float(sum(rep.score for rep in reps) / len(reps)), worst.index, worst.score)


@dataclass(frozen=True)
class WorkoutSet:
    """One set of a recording: repetitions between rests longer than ``serving.sets.SET_REST_SECONDS``,
    numbered from 1; the rest before it (None for the first) and its summary."""

    index: int
    first_rep: int
    last_rep: int
    start_time: float
    end_time: float
    rest_before_s: float | None
    summary: SetSummary


@dataclass(frozen=True)
class SignalSpan:
    """Which segmentation signal was followed from ``start_frame`` to ``end_frame`` (the exercise's own,
    or its fallback while the landmarks behind it were out of the frame)."""

    signal: str
    start_frame: int
    end_frame: int


@dataclass(frozen=True)
class SetResult:
    """The repetitions of one video or live source, with its summary; live runs add their speed."""

    video: str
    fps: float
    frames: int
    frames_with_person: int
    frames_read: int
    reps: list[RepResult]
    summary: SetSummary
    sets: list[WorkoutSet] = field(default_factory=list)  # the repetitions grouped into sets by rests
    signals: list[SignalSpan] = field(default_factory=list)
    warning: str | None = field(default=None, metadata=OMIT_NONE)  # the video is truncated: the counts may be short
    # Live runs only: pose samples per second, video frames per second (a camera must not deliver more),
    # and the longest time from a repetition's close to its score.
    frames_per_second: float | None = field(default=None, metadata=OMIT_NONE)
    video_frames_per_second: float | None = field(default=None, metadata=OMIT_NONE)
    max_scoring_latency_s: float | None = field(default=None, metadata=OMIT_NONE)

    @property
    def live(self) -> bool:
        return self.frames_per_second is not None


@dataclass(frozen=True)
class Report:
    """What one model scored: the artifact, its runtime and exercise, and one result per input."""

    model: str
    backend: str
    exercise: str
    results: list[ClipResult | ClipFailure] | list[SetResult]


def to_json(value: Any) -> Any:
    """A result (or a list of them, or a plain value) as JSON-able dicts and lists, fields in order."""
    if is_dataclass(value) and not isinstance(value, type):
        return {
            spec.name: to_json(getattr(value, spec.name))
            for spec in fields(value)
            if not (spec.metadata.get("omit_none") and getattr(value, spec.name) is None)
        }
    if isinstance(value, list):
        return [to_json(item) for item in value]
    return value
