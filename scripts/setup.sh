#!/usr/bin/env bash
# Set up formscore on a fresh machine: a virtualenv in .venv with every dependency (offline-safe:
# only package registries), then the embedded demo data in data/. Idempotent and quick when done.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3.11}
command -v "$PYTHON" >/dev/null || PYTHON=python3
[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv

stamp=.venv/.formscore-installed
want=$(sha1sum pyproject.toml | cut -d' ' -f1)
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
    .venv/bin/python -m pip install --quiet --upgrade pip
    # torch first and alone: the pinned CPU build, never a CUDA build pulled in by a dependency.
    .venv/bin/python -m pip install --quiet "torch==2.13.0"
    .venv/bin/python -m pip install --quiet -e ".[test]"
    echo "$want" > "$stamp"
fi

[ -f data/squat_scores.csv ] || .venv/bin/python cli.py demo --data_dir data
