"""Sets of repetitions: segment a video's pose stream and score each repetition like a training clip.

The model is passed in as ``score`` (NUM_FRAMES pose samples -> scores 0..100, e.g.
``Scorer.score_sequences``, which computes the model's own feature set), so this module loads
nothing itself. Each repetition found by ``serving.reps`` is sampled to NUM_FRAMES frames
(``rep_sequence``). Repetitions are grouped into sets (``group_sets``): a pause of more than
SET_REST_SECONDS between one repetition's end and the next one's start begins a new set (within a
set people pause 0.3-4 s, resting on the knees included; between sets, a minute or more).
"""

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from preprocessing.cache import PoseSequence
from preprocessing.constants import NUM_FRAMES
from preprocessing.pose import PoseEstimator, PoseSettings
from preprocessing.video import VideoError, decode_warning
from serving.reps import Rep, RepSegmenter, check_segmentable, rep_sequence, segment
from serving.results import FormCheck, RepResult, SetResult, SetSummary, SignalSpan, WorkoutSet
from serving.stream import Chunking, Stream, video_stream

ScoreFn = Callable[[list[PoseSequence]], list[float]]  # NUM_FRAMES pose samples -> scores (the model's features)
FormFn = Callable[[PoseSequence, float | None], FormCheck | None]  # a rep's samples and seconds -> its form check


SET_REST_SECONDS = 8.0  # a pause longer than this from one repetition's end to the next one's start: a new set


def group_sets(reps: list[RepResult], rest_seconds: float = SET_REST_SECONDS) -> list[WorkoutSet]:
    """The repetitions grouped into sets: a new set after a pause over ``rest_seconds``."""
    groups: list[list[RepResult]] = []
    for rep in reps:
        if groups and rep.start_time - groups[-1][-1].end_time <= rest_seconds:
            groups[-1].append(rep)
        else:
            groups.append([rep])
    return [
        WorkoutSet(
            index=number,
            first_rep=group[0].index,
            last_rep=group[-1].index,
            start_time=group[0].start_time,
            end_time=group[-1].end_time,
            rest_before_s=round(group[0].start_time - groups[number - 2][-1].end_time, 3) if number > 1 else None,
            summary=SetSummary.of(group),
        )
        for number, group in enumerate(groups, start=1)
    ]


def signal_spans(segmenter: RepSegmenter) -> list[SignalSpan]:
    """The signals the segmenter followed, frame spans in order."""
    return [SignalSpan(name, first, last) for name, first, last in segmenter.spans]


def rep_results(
    sequence: PoseSequence, reps: list[Rep], fps: float, score: ScoreFn, first: int = 1, form: FormFn | None = None
) -> list[RepResult]:
    """Per repetition, numbered from ``first``: frames and times, depth, score, frames with a person, and
    its form check (``form``, when given)."""
    samples = [rep_sequence(sequence, rep) for rep in reps]
    scores = score(samples) if reps else []
    return [
        RepResult(
            index=number,
            start_frame=rep.start,
            bottom_frame=rep.bottom,
            end_frame=rep.end,
            start_time=round(rep.start / fps, 3),
            end_time=round(rep.end / fps, 3),
            depth=round(rep.depth, 3),
            score=value,
            frames_with_person=int(sample.detected.sum()),
            num_frames=NUM_FRAMES,
            form=None if form is None else form(sample, (rep.end - rep.start) / fps),
        )
        for number, (rep, sample, value) in enumerate(zip(reps, samples, scores, strict=True), start=first)
    ]


@dataclass(frozen=True)
class ScoredSet:
    """A scored set with what drawing it needs: the pose stream and the segmenter (its signal trace)."""

    result: SetResult
    stream: Stream
    segmenter: RepSegmenter


def score_session(
    video: str | Path,
    exercise: str,
    score: ScoreFn,
    settings: PoseSettings,
    cache_dir: str | Path | None,
    estimator: PoseEstimator | None = None,
    stride: int = 1,
    form: FormFn | None = None,
    chunking: Chunking | None = None,
) -> ScoredSet:
    """Segment a video's pose stream into repetitions and score (and with ``form``, check) each;
    VideoError naming the file when no frame has a person. ``chunking``: a long video's stream in
    parallel chunks (``video_stream``)."""
    stream, _ = video_stream(video, settings, cache_dir, estimator, stride, chunking)
    sequence = stream.sequence
    if not sequence.detected.any():
        raise VideoError(f"{video}: no person found in any of the {len(sequence.detected)} frames read")
    check_segmentable(sequence, video, stride)
    warning = decode_warning(video, sequence.total_frames)  # the 16-frame path's check, on the whole stream
    reps, segmenter = segment(sequence, exercise, stream.fps, stride)
    results = rep_results(sequence, reps, stream.fps, score, form=form)
    result = SetResult(
        video=str(video),
        fps=stream.fps,
        frames=sequence.total_frames,
        frames_with_person=int(sequence.detected.sum()),
        frames_read=len(sequence.detected),
        reps=results,
        summary=SetSummary.of(results),
        sets=group_sets(results),
        signals=signal_spans(segmenter),
        warning=warning,
    )
    return ScoredSet(result, stream, segmenter)
