#!/usr/bin/env bash
# Score up to five test videos of each exercise with that exercise's exported ONNX model, as the
# original project's test script did. Run from anywhere:
#   bash scripts/test_models.sh                          # data/ and checkpoints/ of the repo
#   DATA_DIR=/path/data MODEL_DIR=/path/checkpoints bash scripts/test_models.sh
#   bash scripts/test_models.sh --json --cache_dir /tmp/cache    # extra arguments go to score_video.py
# An exercise whose test folder or model is missing is skipped with a message; the exit status is
# non-zero when a video could not be scored. File kinds: preprocessing.constants.VIDEO_EXTENSIONS and
# the demo data's pre-extracted *.pose.npz files.
set -uo pipefail
cd "$(dirname "$0")/.."
DATA_DIR=${DATA_DIR:-data}
MODEL_DIR=${MODEL_DIR:-checkpoints}
PYTHON=${PYTHON:-$( [ -x .venv/bin/python ] && echo .venv/bin/python || echo python3 )}
MAX_VIDEOS=5

status=0
for entry in squat:squats_test pushup:PushUps_test lunge:lunges_test; do
    exercise=${entry%%:*}
    folder="$DATA_DIR/${entry#*:}"
    model="$MODEL_DIR/${exercise}_scorer.onnx"
    if [ ! -d "$folder" ]; then echo "== $exercise: skipped, no test folder $folder"; continue; fi
    if [ ! -f "$model" ]; then echo "== $exercise: skipped, no model $model (python cli.py export ...)"; continue; fi
    mapfile -t videos < <(find -L "$folder" -maxdepth 1 -type f \( -iname '*.mp4' -o -iname '*.avi' \
        -o -iname '*.mov' -o -iname '*.mkv' -o -iname '*.webm' -o -iname '*.m4v' -o -iname '*.mpg' \
        -o -iname '*.mpeg' -o -name '*.pose.npz' \) | sort | head -n "$MAX_VIDEOS")
    if [ "${#videos[@]}" -eq 0 ]; then echo "== $exercise: skipped, no videos in $folder"; continue; fi
    echo "== $exercise: ${#videos[@]} video(s) from $folder with $model"
    "$PYTHON" scripts/score_video.py --model "$model" "$@" "${videos[@]}" || status=1
done
exit $status
