"""``python scripts/score_video.py ...``: the same command as ``python cli.py score ...`` (see serving/command.py).

It runs the code of the checkout it sits in: that checkout goes first on ``sys.path``, before any copy
of formscore installed in the environment (an installed copy may be another version).
"""

import sys
from pathlib import Path

CHECKOUT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(CHECKOUT))

from cli import run_command  # noqa: E402  (after the checkout is first on sys.path)
from serving.command import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(run_command(main))
