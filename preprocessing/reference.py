"""``cli.py ranges``: learn form reference ranges from any data set's good reps, into a JSON file.

    python cli.py ranges --csv ../shared/real_mocap/manifest.csv --exercise squat --out squat_ranges.json

The file is what ``fit`` stores in the exported model's metadata (``preprocessing.form.learn_ranges``);
``cli.py export --form_ranges`` puts it there instead, ``cli.py score --form_ranges`` uses it directly.
"""

from pathlib import Path
from typing import Literal

from preprocessing.command import run_function
from preprocessing.constants import DEFAULT_CACHE_DIR, DEFAULT_DATA_DIR
from preprocessing.dataset import layout_exercise, load_scores
from preprocessing.errors import DataValidationError
from preprocessing.features import video_pose
from preprocessing.form import MEASUREMENTS, clip_ranges, write_ranges
from preprocessing.pose import PoseSettings
from preprocessing.registry import Exercise
from preprocessing.virtual_camera import VIEWS, expand_views


def ranges(
    csv: Path,
    out: Path,
    exercise: Exercise | None = None,
    data_dir: Path = Path(DEFAULT_DATA_DIR),
    cache_dir: Path = Path(DEFAULT_CACHE_DIR),
    split: Literal["train", "test", "all"] = "train",
) -> int:
    """Learn the form reference ranges of a data set's good reps and write them to ``out``.

    Args:
        csv: a data layout's scores CSV (videos relative to data_dir, split by folder) or any manifest
            (paths relative to its own folder; its ``split`` column, else every row is train)
        out: the JSON file to write
        exercise: default: the layout CSV's (a manifest with an exercise column needs it)
        data_dir: base of a layout CSV's videos
        cache_dir: keypoint cache folder (poses are extracted on first use)
        split: which rows to learn from
    """
    if not csv.is_file():
        raise DataValidationError(f"{csv}: no such CSV file")
    layout = layout_exercise(csv)
    exercise = exercise or layout  # type: ignore[assignment]
    if exercise is None:
        raise DataValidationError(f"{csv}: not a data layout's scores CSV; say which exercise (--exercise)")
    rows = load_scores(csv, data_dir if layout else csv.parent, exercise=exercise, split_by_folder=layout is not None)
    rows = expand_views(rows, list(VIEWS))
    if split != "all":
        rows = rows[rows["split"] == split]
    if rows.empty:
        raise DataValidationError(f"{csv}: no {exercise} rows in the {split} split")
    settings = PoseSettings()
    clips = (
        (video, video_pose(video, settings, cache_dir)[0], score)
        for video, score in zip(rows["video"], rows["score"], strict=True)
    )
    document = clip_ranges(exercise, clips, f"{split} split of {csv}")
    write_ranges(out, document)
    learned = document["measurements"]
    print(
        f"{out}: ranges of {len(learned)} of {len(MEASUREMENTS[exercise])} measurements "
        f"from {document['good_reps']} good reps"
    )
    for name, by_view in learned.items():
        for view, bounds in by_view.items():
            print(f"  {name} ({view}): {bounds['low']} .. {bounds['median']} .. {bounds['high']} (n={bounds['count']})")
    return 0


def main(argv: list[str] | None = None) -> int:
    return run_function(ranges, argv, "cli.py ranges")
