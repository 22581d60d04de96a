"""Score CSVs: load ``data/<exercise>_scores.csv`` and validate every row, naming file and line.

Problems are reported as ``<csv> line <n>: <problem>`` where ``n`` is the line number in the CSV
file (the header is line 1; blank lines are ignored but counted; a quoted cell spanning lines would
shift later numbers); problems of files given directly (no CSV, e.g. videos to predict) as the
problem alone, which names the file. Problems with the file itself (missing,
not a CSV, missing columns) always raise; row problems follow the policy: ``"fail"`` raises one
DataValidationError listing every problem, ``"skip"`` drops the bad rows with a logging.warning each.
"""

import logging
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Literal

import pandas as pd

from preprocessing.cache import CorruptEntryError, load_pose
from preprocessing.constants import SCORE_SCALE
from preprocessing.errors import DataValidationError
from preprocessing.files import is_input_name, is_pose_file, is_skeleton_file
from preprocessing.registry import EXERCISES
from preprocessing.skeleton3d import load_skeleton
from preprocessing.video import VideoError, opened_video

Policy = Literal["fail", "skip"]
logger = logging.getLogger(__name__)

REQUIRED_COLUMNS = ("video",)
PATH_ALIASES = ("file",)  # taken as ``video`` when a CSV has no ``video`` column (a manifest's ``file``)
TARGET_COLUMNS = ("score", "label")  # at least one; a score wins over a label
GROUP_COLUMNS = ("subject", "group")  # the first present groups rows (no group on both sides of a split)
DEFAULT_LABEL_SCORES = {"correct": 90.0, "incorrect": 20.0, "1": 90.0, "0": 20.0}
FIRST_DATA_LINE = 2  # line number of the first data row (after the header)

Issue = tuple[int, str]  # (CSV line number, problem)
SPLITS = ("train", "test")


def layout_exercise(csv_path: str | Path) -> str | None:
    """The exercise whose data-layout scores CSV has this file name (``squat_scores.csv`` -> ``squat``), or None."""
    return next((spec.name for spec in EXERCISES.values() if Path(csv_path).name == spec.scores_csv), None)


def exercise_of(csv_path: str | Path) -> str:
    """As ``layout_exercise``; DataValidationError for any other file name."""
    exercise = layout_exercise(csv_path)
    if exercise is not None:
        return exercise
    names = ", ".join(spec.scores_csv for spec in EXERCISES.values())
    raise DataValidationError(f"{csv_path}: unknown scores CSV name (expected one of {names}, or pass exercise=)")


def read_csv(csv_path: Path) -> pd.DataFrame:
    """All cells as text (empty cells as ""), indexed by line number, blank lines dropped; raise
    DataValidationError for a missing or non-CSV file or missing columns."""
    if not csv_path.is_file():
        raise DataValidationError(f"{csv_path}: scores CSV not found")
    try:
        frame = pd.read_csv(csv_path, dtype=str, keep_default_na=False, skipinitialspace=True, skip_blank_lines=False)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as error:
        raise DataValidationError(f"{csv_path}: not a readable CSV file ({error})") from None
    frame.columns = [str(column).strip() for column in frame.columns]
    alias = next((name for name in PATH_ALIASES if name in frame.columns), None)
    if "video" not in frame.columns and alias is not None:
        frame = frame.rename(columns={alias: "video"})
    missing = [column for column in REQUIRED_COLUMNS if column not in frame.columns]
    if not any(column in frame.columns for column in TARGET_COLUMNS):
        missing.append(" or ".join(TARGET_COLUMNS))
    if missing:
        raise DataValidationError(
            f"{csv_path}: missing column(s) {', '.join(missing)} (found: {', '.join(frame.columns)})"
        )
    frame.index = pd.RangeIndex(FIRST_DATA_LINE, FIRST_DATA_LINE + len(frame))  # one row per line
    blank = (frame.apply(lambda column: column.str.strip()) == "").all(axis=1)
    return frame[~blank]


def keep_exercise(frame: pd.DataFrame, exercise: str | None, csv_path: Path) -> pd.DataFrame:
    """The rows of ``exercise`` when the CSV has an ``exercise`` column (a manifest of several), logging
    how many were left out; all rows otherwise."""
    if exercise is None or "exercise" not in frame.columns:
        return frame
    keep = frame["exercise"].str.strip().str.lower() == exercise
    if not keep.all():
        left_out = int((~keep).sum())
        message = "%s: %d of %d rows are not %s (exercise column), left out"
        logger.warning(message, csv_path, left_out, len(keep), exercise)
    return frame[keep]


def score_problem(text: str) -> str | None:
    """Why a score cell is not a number in 0..SCORE_SCALE, or None."""
    try:
        score = float(text)
    except ValueError:
        return f"score {text!r} is missing or not a number"
    if score != score:
        return "score is NaN"
    if not 0.0 <= score <= SCORE_SCALE:
        return f"score {score:g} is outside 0..{SCORE_SCALE:g}"
    return None


def label_score(text: str, label_scores: Mapping[str, float]) -> float | str:
    """The score of a label cell (case and surrounding spaces ignored), or why there is none."""
    key = text.strip().lower()
    if key in label_scores:
        return float(label_scores[key])
    return f"label {text!r} is not one of {', '.join(label_scores)}"


def targets(frame: pd.DataFrame, label_scores: Mapping[str, float]) -> tuple[list[float], list[str | None]]:
    """Per row: the score (NaN when unusable) and why it is unusable (or None). A ``score`` column is
    used as it is; otherwise the ``label`` column is mapped through ``label_scores``."""
    if "score" in frame.columns:
        problems = [score_problem(text) for text in frame["score"]]
        return pd.to_numeric(frame["score"], errors="coerce").tolist(), problems
    mapped = [label_score(text, label_scores) for text in frame["label"]]
    return (
        [value if isinstance(value, float) else float("nan") for value in mapped],
        [value if isinstance(value, str) else None for value in mapped],
    )


def split_of(video: Path, train_folder: str, test_folder: str) -> str | None:
    """ "train" / "test" from the nearest enclosing folder named like the exercise's folders, or None."""
    for parent in video.parents:
        if parent.name == train_folder:
            return "train"
        if parent.name == test_folder:
            return "test"
    return None


def unreadable_reason(path: Path) -> str | None:
    """Why a pose file or video cannot be read (a video must open and decode a first frame), or None.
    The reason names the file."""
    try:
        if is_skeleton_file(path):
            load_skeleton(path)
            return None
        if is_pose_file(path):
            load_pose(path)
            return None
        with opened_video(path) as capture:
            return None if capture.read()[0] else f"{path}: unreadable video (no decodable frame)"
    except (CorruptEntryError, VideoError, DataValidationError) as error:
        return str(error)


def resolve_video(text: str, data_dir: str | Path) -> Path:
    """Absolute path of a CSV ``video`` entry (relative to ``data_dir``, or absolute)."""
    return Path(os.path.abspath(Path(data_dir, text.strip())))


def video_problem(video: Path, folders: tuple[str, str] | None) -> str | None:
    """Why a listed video cannot be used (extension, folder when ``folders`` decide the split,
    missing, unreadable), or None."""
    if not is_input_name(video):
        return f"{video}: not a video file (extension {video.suffix or 'none'!r})"
    if folders is not None and split_of(video, *folders) is None:
        train_folder, test_folder = folders
        return f"{video}: not inside {train_folder}/ or {test_folder}/, cannot tell train from test"
    if not video.is_file():
        return f"{video}: file not found"
    return unreadable_reason(video)


def apply_policy(issues: list[Issue], csv_path: Path, policy: Policy) -> set[int]:
    """Raise one DataValidationError listing ``issues`` ("fail"), or warn about each ("skip");
    return the CSV line numbers to drop."""
    if policy not in ("fail", "skip"):
        raise ValueError(f"policy must be 'fail' or 'skip', not {policy!r}")
    if issues and policy == "fail":
        listing = "\n".join(f"  {csv_path} line {line}: {problem}" for line, problem in issues)
        raise DataValidationError(
            f"{len(issues)} problem(s) in {csv_path} (policy 'skip' drops these rows):\n{listing}"
        )
    for line, problem in issues:
        logger.warning("%s line %d: %s; row skipped", csv_path, line, problem)
    return {line for line, _ in issues}


def apply_file_policy(problems: list[str], policy: Policy) -> None:
    """As ``apply_policy`` for files given directly, not listed in a CSV (each problem names its file)."""
    if policy not in ("fail", "skip"):
        raise ValueError(f"policy must be 'fail' or 'skip', not {policy!r}")
    if problems and policy == "fail":
        listing = "\n".join(f"  {problem}" for problem in problems)
        raise DataValidationError(f"{len(problems)} unusable file(s) (policy 'skip' drops them):\n{listing}")
    for problem in problems:
        logger.warning("%s; file skipped", problem)


def drop_problems(
    rows: pd.DataFrame, problems: Mapping[str, str], csv_path: Path | None, policy: Policy = "fail"
) -> pd.DataFrame:
    """``rows`` without those whose ``video`` has a problem (video -> problem naming the file), which
    fail or are skipped per ``policy``. ``csv_path``: the CSV the rows come from (messages name it and
    the row's ``line``), or None for files given directly."""
    bad = rows["video"].isin(list(problems))
    if csv_path is None:
        apply_file_policy([problems[video] for video in rows.loc[bad, "video"]], policy)
    else:
        lines, videos = rows.loc[bad, "line"], rows.loc[bad, "video"]
        issues = [(int(line), problems[video]) for line, video in zip(lines, videos, strict=True)]
        apply_policy(issues, csv_path, policy)
    return rows[~bad].reset_index(drop=True)


def row_issues(
    frame: pd.DataFrame, videos: list[Path], target_problems: list[str | None], folders: tuple[str, str] | None
) -> list[Issue]:
    """Every problem of every row (score or label, split, duplicate, video), in CSV order."""
    issues: list[Issue] = []
    first_line: dict[Path, int] = {}
    splits = frame["split"].str.strip().str.lower() if "split" in frame.columns and folders is None else None
    for position, (line, text, video) in enumerate(zip(frame.index, frame["video"], videos, strict=False)):
        problems = [target_problems[position]]
        if splits is not None and splits.iloc[position] not in SPLITS:
            problems.append(f"split {frame['split'].iloc[position]!r} is not one of {', '.join(SPLITS)}")
        if not text.strip():
            problems.append("empty video path")
        elif video in first_line:
            problems.append(f"{video}: duplicate of line {first_line[video]}")
        else:
            first_line[video] = line
            problems.append(video_problem(video, folders))
        issues += [(line, problem) for problem in problems if problem is not None]
    return issues


def load_scores(
    csv_path: str | Path,
    data_dir: str | Path,
    policy: Policy = "fail",
    exercise: str | None = None,
    label_scores: Mapping[str, float] | None = None,
    split_by_folder: bool = True,
) -> pd.DataFrame:
    """Validated rows: columns ``video`` (absolute path), ``score`` (0..100), ``split`` ("train"/"test"),
    ``group`` when the CSV has a ``subject`` or ``group`` column, ``label`` when it has one, and
    ``line`` (the row's line number in the CSV, for later messages such as check_detections').

    CSV columns: ``video`` (or ``file``; path relative to ``data_dir``, or absolute), ``score`` or ``label``
    (mapped to a score by ``label_scores``, default DEFAULT_LABEL_SCORES), optional ``subject`` or
    ``group``. The split comes from the exercise's train / test folder a video is in
    (``split_by_folder``), else from a ``split`` column (train / test), else every row is "train".
    A CSV with an ``exercise`` column keeps only ``exercise``'s rows.
    Checks: missing columns, missing files, duplicate rows, NaN, scores outside 0..100, unknown labels,
    non-video or unreadable files, videos outside the exercise's folders. ``exercise`` None: taken from
    the CSV file name (see EXERCISES). ``policy="fail"`` raises DataValidationError listing every
    problem; ``"skip"`` drops bad rows with a logging.warning per row.
    """
    csv_path = Path(csv_path)
    folders = EXERCISES[exercise or exercise_of(csv_path)].folders if split_by_folder else None
    frame = keep_exercise(read_csv(csv_path), exercise, csv_path)
    videos = [resolve_video(text, data_dir) for text in frame["video"]]
    scores, target_problems = targets(frame, {k.lower(): v for k, v in (label_scores or DEFAULT_LABEL_SCORES).items()})
    bad_lines = apply_policy(row_issues(frame, videos, target_problems, folders), csv_path, policy)
    if folders is not None:
        splits = [split_of(video, *folders) for video in videos]
    elif "split" in frame.columns:
        splits = frame["split"].str.strip().str.lower().tolist()
    else:
        splits = ["train"] * len(videos)
    rows = pd.DataFrame(
        {"video": [str(video) for video in videos], "score": scores, "split": splits, "line": frame.index.to_numpy()}
    )
    group_column = next((column for column in GROUP_COLUMNS if column in frame.columns), None)
    if group_column is not None:
        rows["group"] = frame[group_column].str.strip().tolist()
    if "label" in frame.columns:
        rows["label"] = frame["label"].str.strip().str.lower().tolist()
    return rows[~rows["line"].isin(bad_lines)].reset_index(drop=True)


def check_detections(
    df: pd.DataFrame, detected_any: Mapping[str, bool], csv_path: str | Path | None, policy: Policy = "fail"
) -> pd.DataFrame:
    """Rows of ``df`` (from load_scores, or files given directly: ``csv_path`` None) whose video had a
    person in at least one sampled frame.

    ``detected_any`` maps each ``df.video`` to whether any frame had a detection (after pose
    extraction). Videos without a person are problems, reported and handled as in ``drop_problems``.
    """
    problems = {
        video: f"{video}: no person detected in any sampled frame" for video in df["video"] if not detected_any[video]
    }
    return drop_problems(df, problems, None if csv_path is None else Path(csv_path), policy)
