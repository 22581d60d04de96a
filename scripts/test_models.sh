#!/usr/bin/env bash
# Score up to five test videos of each exercise with that exercise's exported ONNX model, as the
# original project's test script did (`cli.py score --test_sets`). Run from anywhere:
#   bash scripts/test_models.sh                          # data/ and checkpoints/ of the repo
#   DATA_DIR=/path/data MODEL_DIR=/path/checkpoints bash scripts/test_models.sh
#   bash scripts/test_models.sh --json --cache_dir /tmp/cache    # extra arguments go to `cli.py score`
# An exercise whose test folder or model is missing is skipped with a message; the exit status is
# non-zero when a video could not be scored.
set -uo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-$( [ -x .venv/bin/python ] && echo .venv/bin/python || echo python3 )}
"$PYTHON" cli.py score --test_sets --data_dir "${DATA_DIR:-data}" --model_dir "${MODEL_DIR:-checkpoints}" \
    --limit 5 "$@"
