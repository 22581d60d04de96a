"""Score CSVs: load ``data/<exercise>_scores.csv`` and validate every row, naming file and row.

STUB: interface fixed by the lead; the implementation is owned by one helper.
"""

from pathlib import Path
from typing import Literal

import pandas as pd

Policy = Literal["fail", "skip"]

# exercise -> (train folder, test folder, scores CSV), all under the data dir (original layout).
EXERCISES: dict[str, tuple[str, str, str]] = {
    "squat": ("squats_train", "squats_test", "squat_scores.csv"),
    "pushup": ("PushUps_train", "PushUps_test", "pushup_scores.csv"),
    "lunge": ("lunges_train", "lunges_test", "lunge_scores.csv"),
}


class DataValidationError(ValueError):
    """Bad score CSV or bad video; the message names the file (and the CSV row when there is one)."""


def load_scores(csv_path: str | Path, data_dir: str | Path, policy: Policy = "fail") -> pd.DataFrame:
    """Validated rows: columns ``video`` (absolute path), ``score`` (0..100), ``split`` ("train"/"test"
    from the folder the video is in), and ``subject`` when the CSV has it.

    CSV columns: ``video`` (path relative to ``data_dir``, or absolute), ``score``, optional ``subject``.
    Checks: missing columns, missing files, duplicate rows, NaN, scores outside 0..100, non-video or
    unreadable files. ``policy="fail"`` raises DataValidationError listing every problem;
    ``"skip"`` drops bad rows with a logging.warning per row.
    """
    raise NotImplementedError
