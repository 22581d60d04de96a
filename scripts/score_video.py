"""``python scripts/score_video.py ...``: the same command as ``python cli.py score ...`` (see export/scorer.py)."""

import sys

from cli import run_command
from export.scorer import main

if __name__ == "__main__":
    sys.exit(run_command(main))
