"""``python scripts/score_video.py ...``: the same command as ``python cli.py score ...`` (see serving/scorer.py)."""

import sys

from cli import run_command
from serving.scorer import main

if __name__ == "__main__":
    sys.exit(run_command(main))
