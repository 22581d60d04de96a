"""``python scripts/score_video.py ...``: the same command as ``python cli.py score ...`` (see serving/command.py)."""

import sys

from cli import run_command
from serving.command import main

if __name__ == "__main__":
    sys.exit(run_command(main))
