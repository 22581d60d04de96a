"""Feedback in words: a rep's form measurements against the good reps' ranges in the model's metadata.

For each measurement of the rep's exercise (``preprocessing.form``) with a range for the rep's view, a
value beyond the bound on its bad side (``high``: above the range's high quantile, ``low``: below its
low one) by at least MIN_OUTSIDE is an item; ``outside`` is the distance beyond the bound in
half-widths of the range (bound - median), so a depth 20° past a tight range ranks above a tempo 0.2 s
past a loose one. At most MAX_ITEMS, the furthest outside first.
"""

from preprocessing.cache import PoseSequence
from preprocessing.form import MEASUREMENTS, Measured, Measurement, measure
from serving.results import FeedbackItem, FormCheck, FormMeasurement

MAX_ITEMS = 3
MIN_HALF_WIDTH = 1e-3
# Half-widths beyond the bound an item needs: chosen on the demo train folder (benchmarks/feedback.py
# --dev), where 0.25 halves the good reps flagged and keeps the poor ones.
MIN_OUTSIDE = 0.25


def _format(value: float, unit: str) -> str:
    if unit == "°":
        return f"{value:.0f}°"
    if unit == "s":
        return f"{value:.1f} s"
    return f"{value:.0f} {unit}"


def _item(spec: Measurement, value: float, bounds: dict[str, float]) -> FeedbackItem | None:
    """The item for ``value`` when it is beyond the range's bound on one of the measurement's bad sides."""
    for side in ("high", "low"):
        if spec.bad not in (side, "both"):
            continue
        bound, median = bounds[side], bounds["median"]
        beyond = value - bound if side == "high" else bound - value
        outside = beyond / max(abs(bound - median), MIN_HALF_WIDTH)
        if outside < MIN_OUTSIDE:
            continue
        shown = abs if spec.bad == "both" else float  # a two-sided measurement reads as a size on either side
        text = spec.advice[side].format(value=_format(shown(value), spec.unit), bound=_format(shown(bound), spec.unit))
        return FeedbackItem(spec.name, value, bound, round(outside, 2), text)
    return None


def check_form(measured: list[Measured], view: str, exercise: str, ranges: dict | None) -> FormCheck:
    """The FormCheck of one rep's measurements (``preprocessing.form.measure``) against ``ranges``."""
    specs = {spec.name: spec for spec in MEASUREMENTS[exercise]}
    known = {} if ranges is None else ranges["measurements"]
    rows, items, compared = [], [], 0
    for found in measured:
        bounds = known.get(found.name, {}).get(view)
        good = None if bounds is None else [bounds["low"], bounds["median"], bounds["high"]]
        rows.append(FormMeasurement(found.name, found.unit, found.value, found.reason, good))
        if found.value is not None and bounds is not None:
            compared += 1
            item = _item(specs[found.name], found.value, bounds)
            if item is not None:
                items.append(item)
    items = sorted(items, key=lambda item: -item.outside)[:MAX_ITEMS]
    if ranges is None:
        summary = "no form reference ranges in this model"
    elif not compared:
        summary = f"no measurement with a reference range from a {view} view"
    elif items:
        summary = f"{len(items)} to fix"
    else:
        summary = f"within the good reps' ranges ({compared} measurements, {view} view)"
    return FormCheck(view, rows, items, summary)


def rep_form(sequence: PoseSequence, exercise: str, seconds: float | None, ranges: dict | None) -> FormCheck:
    """Measure one rep's NUM_FRAMES samples (``seconds``: its duration) and check them against ``ranges``."""
    view, measured = measure(sequence, exercise, seconds)
    return check_form(measured, view, exercise, ranges)
