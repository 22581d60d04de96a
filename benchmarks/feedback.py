"""Does the feedback name what is wrong? Form measurements against ranges learned on other people.

    python benchmarks/feedback.py            # the reported figures (README "Feedback: what to fix")
    python benchmarks/feedback.py --dev      # the dev sweep that chose the range quantiles
    python benchmarks/feedback.py --realism  # the generator beside real movement, measurement by measurement

Every figure scores reps with ranges learned from *other* people's good reps only:

- demo data (``data/``, ``cli.py demo``): ranges from the train folder's good reps (score >= GOOD_SCORE),
  scored on the test folder's 12 other subjects. The generator knows each rep's fault severities: how
  often the first item names the rep's main fault (the largest weight x severity, when it costs at
  least FAULT_POINTS), and how often a rep with no fault costing NO_FAULT_POINTS or more gets no item;
- ``../shared/real_pushups``: leave one recording (``group``) out, ranges from the other groups'
  correct clips; the share of incorrect and of correct clips with at least one item;
- ``../shared/real_mocap``: leave one subject out, squats and lunges, each rep through the three fixed
  virtual cameras (front / oblique / side), ranges per view from the other subjects' correct reps.

``--dev`` sweeps the upper quantile of the ranges (the lower one mirrors it) and the margin beyond the
bound an item needs on the demo train folder alone, four folds by subject, and prints the share of
good (>= GOOD_SCORE) and poor (< POOR_SCORE) reps flagged: that is where RANGE_QUANTILES and
serving.feedback.MIN_OUTSIDE were chosen.

``--realism`` compares the synthetic generator with real movement through the same measurements: per
exercise, measurement and view, the median over the demo train folder's good (>= GOOD_SCORE) and poor
(< POOR_SCORE) reps beside the median over the real correct and incorrect reps (push-ups: the clips of
``../shared/real_pushups``; squats and lunges: ``../shared/real_mocap`` through the virtual cameras).
A generator whose good reps sit where real correct ones do, and whose faults move a measurement the
way real incorrect reps move it, is one whose models can judge real people (README, "Sim-to-real").
"""

import argparse
import collections
import sys
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from demo.exercises import EXERCISE_MODELS  # noqa: E402
from preprocessing.constants import DEFAULT_CACHE_DIR  # noqa: E402
from preprocessing.features import clip_seconds, video_pose  # noqa: E402
from preprocessing.form import GOOD_SCORE, RANGE_QUANTILES, Measured, View, learn_ranges, measure  # noqa: E402
from preprocessing.pose import PoseSettings  # noqa: E402
from preprocessing.registry import EXERCISES  # noqa: E402
from preprocessing.virtual_camera import VIEWS as CAMERA_VIEWS  # noqa: E402
from serving.feedback import MIN_OUTSIDE, check_form  # noqa: E402

SHARED = REPO.parent / "shared"
FAULT_POINTS = 10.0  # a demo rep's main fault counts when it costs at least this many score points
NO_FAULT_POINTS = 5.0  # a demo rep "without faults": no fault costs this many points
POOR_SCORE = 55.0  # --dev: a demo rep below this is a poor one (the midpoint between labels 90 and 20)
LABEL_SCORE = {"correct": 90.0, "incorrect": 20.0}
# The demo generator's fault each measurement reads (hip_line: pike above the line, sag below it).
FAULT_OF = {
    "knee_angle": "depth",
    "hip_above_knee": "depth",
    "trunk_lean": "torso_lean",
    "knee_gap": "knee_valgus",
    "heel_lift": "heel_lift",
    "hip_tilt": "asymmetry",
    "duration": "tempo",
    "elbow_angle": "depth",
    "shoulder_drop": "depth",
    "hip_drop": "depth",
    "lockout": "lockout",
    "elbow_flare": "elbow_flare",
    "front_knee_angle": "depth",
    "knee_past_toe": "knee_over_toe",
    "back_knee_height": "back_knee",
    "sway": "balance",
}


@dataclass(frozen=True)
class Rep:
    """One measured rep: who (group), its score, view and measurements, and the demo's faults (if any)."""

    group: str
    score: float
    view: View
    measured: list[Measured]
    penalties: dict[str, float]


def measured_reps(exercise: str, videos: Iterable[str], groups: Iterable[str], scores: Iterable[float]) -> list[Rep]:
    settings, reps = PoseSettings(), []
    for video, group, score in zip(videos, groups, scores, strict=True):
        sequence = video_pose(video, settings, DEFAULT_CACHE_DIR)[0]
        view, measured = measure(sequence, exercise, clip_seconds(video, sequence))
        reps.append(Rep(str(group), float(score), view, measured, {}))
    return reps


def demo_reps(exercise: str, folder: str) -> list[Rep]:
    """The demo data's reps of one folder (train / test), with each fault's cost in score points."""
    spec, weights = EXERCISES[exercise], EXERCISE_MODELS[exercise].weights
    table = pd.read_csv(REPO / "data" / spec.scores_csv)
    table = table[table["video"].str.startswith(folder + "/")]
    reps = measured_reps(exercise, [str(REPO / "data" / v) for v in table["video"]], table["subject"], table["score"])
    costs = [{fault: weight * row[fault] for fault, weight in weights.items()} for _, row in table.iterrows()]
    return [Rep(r.group, r.score, r.view, r.measured, cost) for r, cost in zip(reps, costs, strict=True)]


def items_of(
    exercise: str, train: list[Rep], scored: list[Rep], quantiles: tuple[float, float, float], margin: float = 0.0
) -> list[list]:
    """The feedback items of each ``scored`` rep, with ranges from ``train``'s good reps (``margin``:
    --dev only, items at least this far outside beside the product's MIN_OUTSIDE)."""
    ranges = learn_ranges(exercise, [(r.view, r.measured) for r in train], [r.score for r in train], "", quantiles)
    checks = [check_form(r.measured, r.view, exercise, ranges).feedback for r in scored]
    return [[item for item in items if item.outside >= margin] for items in checks]


def by_group(exercise: str, reps: list[Rep], quantiles: tuple[float, float, float] = RANGE_QUANTILES) -> list[list]:
    """Each rep's items with ranges learned on every other group (leave one group out)."""
    out: list[list] = [[] for _ in reps]
    for group in sorted({r.group for r in reps}):
        held = [i for i, r in enumerate(reps) if r.group == group]
        train = [r for r in reps if r.group != group]
        for i, items in zip(held, items_of(exercise, train, [reps[i] for i in held], quantiles), strict=True):
            out[i] = items
    return out


def name_of(item: object) -> str:
    name = item.measurement  # type: ignore[attr-defined]
    if name == "hip_line":
        return "hip_pike" if item.value > item.bound else "hip_sag"  # type: ignore[attr-defined]
    return FAULT_OF[name]


def share(flags: list[bool]) -> str:
    return f"{np.mean(flags):.0%} ({sum(flags)}/{len(flags)})" if flags else "-"


def label_table(title: str, reps: list[Rep], items: list[list]) -> None:
    """Share of incorrect / correct reps with at least one item, overall and per view; top items."""
    print(f"\n{title}")
    print("| view | incorrect with an item | correct with an item |")
    print("|---|---|---|")
    for view in ("all", *sorted({r.view for r in reps})):
        chosen = [(r, i) for r, i in zip(reps, items, strict=True) if view in ("all", r.view)]
        bad = [bool(i) for r, i in chosen if r.score < POOR_SCORE]
        good = [bool(i) for r, i in chosen if r.score >= POOR_SCORE]
        print(f"| {view} | {share(bad)} | {share(good)} |")
    counts = collections.Counter(
        item.measurement for r, i in zip(reps, items, strict=True) if r.score < POOR_SCORE for item in i
    )
    print("items on incorrect reps:", ", ".join(f"{name} {n}" for name, n in counts.most_common()))


def demo_report(exercise: str) -> None:
    train, test = (
        demo_reps(exercise, EXERCISES[exercise].train_folder),
        demo_reps(exercise, EXERCISES[exercise].test_folder),
    )
    items = items_of(exercise, train, test, RANGE_QUANTILES)
    faulty = [(r, i) for r, i in zip(test, items, strict=True) if max(r.penalties.values()) >= FAULT_POINTS]
    named = [bool(i) and name_of(i[0]) == max(r.penalties, key=r.penalties.__getitem__) for r, i in faulty]
    named_any = [any(name_of(x) == max(r.penalties, key=r.penalties.__getitem__) for x in i) for r, i in faulty]
    clean = [not i for r, i in zip(test, items, strict=True) if max(r.penalties.values()) < NO_FAULT_POINTS]
    print(f"| {exercise} | {share(named)} | {share(named_any)} | {share(clean)} |")


def dev_sweep(exercise: str) -> None:
    """Poor and good demo train reps flagged per (upper quantile, margin), four folds by subject."""
    reps = demo_reps(exercise, EXERCISES[exercise].train_folder)
    subjects = sorted({r.group for r in reps})
    fold_of = {subject: k % 4 for k, subject in enumerate(subjects)}
    for upper in (0.9, 0.95, 0.975, 0.99, 1.0):
        for margin in (MIN_OUTSIDE, 0.5, 1.0):
            quantiles = (1.0 - upper, 0.5, upper)
            items: list[list] = [[] for _ in reps]
            for fold in range(4):
                held = [i for i, r in enumerate(reps) if fold_of[r.group] == fold]
                train = [r for r in reps if fold_of[r.group] != fold]
                found = items_of(exercise, train, [reps[i] for i in held], quantiles, margin)
                for i, its in zip(held, found, strict=True):
                    items[i] = its
            good = [bool(i) for r, i in zip(reps, items, strict=True) if r.score >= GOOD_SCORE]
            poor = [bool(i) for r, i in zip(reps, items, strict=True) if r.score < POOR_SCORE]
            print(f"| {exercise} | {upper} | {margin} | {share(poor)} | {share(good)} |")


def real_reps(exercise: str) -> list[Rep]:
    """The measured real reps: push-ups from ``../shared/real_pushups``, squats and lunges from
    ``../shared/real_mocap`` through the three fixed virtual cameras."""
    if exercise == "pushup":
        table = pd.read_csv(SHARED / "real_pushups" / "manifest.csv")
        videos = [str(SHARED / "real_pushups" / v) for v in table["video"]]
        return measured_reps("pushup", videos, table["group"], table["label"].map(LABEL_SCORE))
    table = pd.read_csv(SHARED / "real_mocap" / "manifest.csv")
    table = table[table["exercise"] == exercise]
    videos, groups, scores = [], [], []
    for _, row in table.iterrows():
        for view in CAMERA_VIEWS:
            videos.append(f"{SHARED / 'real_mocap' / row['file']}#{view}")
            groups.append(row["subject"])
            scores.append(LABEL_SCORE[row["label"]])
    return measured_reps(exercise, videos, groups, scores)


def real_items(exercise: str) -> tuple[list[Rep], list[list]]:
    """The real reps and their items, leaving one recording (push-ups) or subject out."""
    reps = real_reps(exercise)
    return reps, by_group(exercise, reps)


def medians(reps: list[Rep], classes: dict[str, Callable[[float], bool]]) -> pd.DataFrame:
    """Median of each measured value per (measurement, view), one column per class of rep score."""
    rows = [
        {"measurement": m.name, "view": r.view, "class": name, "value": m.value}
        for r in reps
        for name, member in classes.items()
        if member(r.score)
        for m in r.measured
        if m.value is not None
    ]
    return pd.DataFrame(rows).groupby(["measurement", "view", "class"])["value"].median().unstack("class")


def realism_report() -> None:
    """The demo's good / poor reps beside real correct / incorrect ones, measurement by measurement."""
    demo_classes = {"demo good": lambda s: s >= GOOD_SCORE, "demo poor": lambda s: s < POOR_SCORE}
    real_classes = {"real correct": lambda s: s >= POOR_SCORE, "real incorrect": lambda s: s < POOR_SCORE}
    for exercise in EXERCISES:
        demo = medians(demo_reps(exercise, EXERCISES[exercise].train_folder), demo_classes)
        table = demo.join(medians(real_reps(exercise), real_classes), how="outer").reset_index()
        print(f"\n{exercise}: medians (units as in preprocessing/form.py)")
        print("| measurement | view | " + " | ".join(table.columns[2:]) + " |")
        print("|---|---|" + "---|" * (len(table.columns) - 2))
        for row in table.itertuples(index=False):
            values = " | ".join("-" if pd.isna(v) else f"{v:.1f}" for v in row[2:])
            print(f"| {row[0]} | {row[1]} | {values} |")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dev", action="store_true", help="the quantile sweep on the demo train folder")
    parser.add_argument("--realism", action="store_true", help="the generator's measurements beside real ones")
    args = parser.parse_args()
    if args.realism:
        if not SHARED.is_dir():
            print(f"{SHARED} is absent: nothing real to compare with")
            return 1
        realism_report()
        return 0
    if args.dev:
        print("| exercise | upper quantile | margin | poor reps (< 55) with an item | good reps (>= 80) with an item |")
        print("|---|---|---|---|---|")
        for exercise in EXERCISES:
            dev_sweep(exercise)
        return 0
    print(f"range quantiles {RANGE_QUANTILES}")
    print(
        "| exercise | first item names the main fault | main fault among the items | no item on a rep without faults |"
    )
    print("|---|---|---|---|")
    for exercise in EXERCISES:
        demo_report(exercise)
    if not SHARED.is_dir():
        print(f"{SHARED} is absent: no real-data figures")
        return 0
    label_table("real push-ups, leave one recording out (clips)", *real_items("pushup"))
    for exercise in ("squat", "lunge"):
        label_table(f"real {exercise}s (motion capture), leave one subject out, 3 views per rep", *real_items(exercise))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
