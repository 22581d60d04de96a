"""Reports of scoring on the terminal: text lines or one JSON document (``serving.results.to_json``)."""

import json
import sys

from preprocessing.constants import NUM_FRAMES
from serving.results import ClipFailure, ClipResult, FormCheck, Report, RepResult, SetResult, to_json


def print_json(report: Report) -> None:
    """The whole report as one indented JSON document on stdout."""
    print(json.dumps(to_json(report), indent=2), flush=True)


def print_clips(report: Report, as_json: bool) -> None:
    """Errors and warnings on stderr; the clip scores as one JSON document or as text lines on stdout."""
    for result in report.results:
        if isinstance(result, ClipFailure):
            print(f"error: {result.error}", file=sys.stderr)
        elif isinstance(result, ClipResult) and result.warning:
            print(f"warning: {result.video}: {result.warning}", file=sys.stderr)
    if as_json:
        print_json(report)
        return
    print(f"model: {report.model} ({report.exercise}, {report.backend})")
    for result in report.results:
        if isinstance(result, ClipResult):
            flag = " WARNING: unreliable, see above" if result.warning else ""
            print(
                f"{result.video}: score {result.score:.1f}/100 (person in {result.frames_with_person}/"
                f"{NUM_FRAMES} frames; {result.distinct_frames} distinct frames of {result.total_frames})"
                f"{flag}",
                flush=True,
            )
            for line in form_lines(result.form, "  "):
                print(line, flush=True)


def form_lines(form: FormCheck | None, indent: str) -> list[str]:
    """A form check as text: one ``fix:`` line per item, or its summary when there is none."""
    if form is None:
        return []
    if not form.feedback:
        return [f"{indent}form: {form.summary}"]
    return [f"{indent}fix: {item.text}" for item in form.feedback]


def print_rep(rep: RepResult) -> None:
    """One line per repetition and its feedback (also called live, as each repetition is scored)."""
    print(
        f"  rep {rep.index}: {rep.start_time:.2f}-{rep.end_time:.2f} s, score {rep.score:.1f}/100 "
        f"(person in {rep.frames_with_person}/{rep.num_frames} frames)",
        flush=True,
    )
    for line in form_lines(rep.form, "    "):
        print(line, flush=True)


def print_workout(result: SetResult) -> None:
    """The sets (when the rests split the repetitions into more than one) and, when the segmenter had
    to change signals (landmarks out of the frame), which signal it followed for which frames."""
    if len(result.sets) > 1:
        for part in result.sets:
            head = part.summary
            rest = "" if part.rest_before_s is None else f", after a {part.rest_before_s:.1f} s rest"
            print(
                f"  set {part.index}: reps {part.first_rep}-{part.last_rep} ({head.count}), "
                f"mean {head.mean_score:.1f}, worst rep {head.worst_rep} ({head.worst_score:.1f}){rest}",
                flush=True,
            )
    if len({span.signal for span in result.signals}) > 1:
        spans = "; ".join(f"{span.signal} frames {span.start_frame}-{span.end_frame}" for span in result.signals)
        print(f"  signal: {spans}", flush=True)


def print_set(result: SetResult) -> None:
    """A set: the summary line, then one line per repetition; a live run: its count and speed."""
    head = result.summary
    if result.live:
        print(
            f"{result.video}: {head.count} reps live, {result.frames_per_second:.1f} pose frames/s, "
            f"{result.video_frames_per_second:.1f} video frames/s"
        )
        print_workout(result)
        return
    line = f"{result.video}: {head.count} reps"
    if head.count:
        line += f", mean {head.mean_score:.1f}, worst rep {head.worst_rep} ({head.worst_score:.1f})"
    if result.warning:
        line += " WARNING: unreliable, see above"
    print(line, flush=True)
    print_workout(result)
    for rep in result.reps:
        print_rep(rep)


def print_sets(report: Report, as_json: bool) -> None:
    """The sets of a report as one JSON document or as text."""
    if as_json:
        print_json(report)
        return
    for result in report.results:
        assert isinstance(result, SetResult)
        print_set(result)
