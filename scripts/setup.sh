#!/usr/bin/env bash
# Set up formscore on a fresh machine: a virtualenv with every pinned dependency (only package
# registries), then the embedded demo data in data/. Idempotent and quick when done.
#   PYTHON=3.12 or PYTHON=/path/to/python   the interpreter (default: python3.12 or python3.11 on
#                                            PATH, then pyenv's and uv's installs of 3.12 or 3.11)
#   VENV=.venv-py3.12                        where the virtualenv goes (default .venv)
#   EDITABLE=0                               install the package itself (a wheel of this checkout),
#                                            not an editable link to it (default 1: editable)
set -euo pipefail
cd "$(dirname "$0")/.."

VENV=${VENV:-.venv}
EDITABLE=${EDITABLE:-1}
supported=(3.12 3.11)  # mediapipe 0.10.21, the last with BlazePose inside the wheel, stops at 3.12

version_of() { "$1" -c 'import sys; print("%d.%d" % sys.version_info[:2])' 2>/dev/null || true; }

refuse() {
    cat >&2 <<EOF
scripts/setup.sh: formscore runs on Python 3.11 or 3.12 only, and $1.
Why: the offline BlazePose pose model ships only inside mediapipe 0.10.21, which has no wheels
past Python 3.12 (and pandas 3 needs 3.11 or later).
Get a 3.12: \`uv python install 3.12\`, \`pyenv install 3.12\`, or \`apt install python3.12-venv\`
(Ubuntu 24.04; the deadsnakes PPA on older Ubuntu), then rerun, or name it: PYTHON=/path/to/python3.12 bash scripts/setup.sh
EOF
    exit 1
}

# The first interpreter of a wanted version: PATH first, then pyenv's and uv's installs.
find_python() {
    local v cand candidates=()
    for v in "$@"; do candidates+=("python$v"); done
    for v in "$@"; do
        candidates+=("${PYENV_ROOT:-$HOME/.pyenv}"/versions/"$v".*/bin/python"$v"
                     "$HOME"/.local/share/uv/python/cpython-"$v".*/bin/python"$v")
    done
    for cand in "${candidates[@]}"; do
        [[ " $* " == *" $(version_of "$cand") "* ]] && { command -v "$cand"; return; }
    done
    return 0
}

if [[ -z ${PYTHON:-} ]]; then
    python=$(find_python "${supported[@]}")
    [[ -n $python ]] || refuse "none was found (python3 here is $(version_of python3 | grep . || echo missing))"
elif [[ $PYTHON =~ ^[0-9]+\.[0-9]+$ ]]; then
    [[ " ${supported[*]} " == *" $PYTHON "* ]] || refuse "PYTHON=$PYTHON asks for another"
    python=$(find_python "$PYTHON")
    [[ -n $python ]] || refuse "no Python $PYTHON was found on PATH or in pyenv's or uv's installs"
else
    v=$(version_of "$PYTHON")
    [[ -n $v ]] || refuse "PYTHON=$PYTHON does not run"
    [[ " ${supported[*]} " == *" $v "* ]] || refuse "PYTHON=$PYTHON is Python $v"
    python=$PYTHON
fi

if [[ -x $VENV/bin/python ]]; then
    v=$(version_of "$VENV/bin/python")
    [[ " ${supported[*]} " == *" $v "* ]] || refuse "$VENV/ was made with Python ${v:-?} (remove it: rm -rf $VENV)"
    [[ -z ${PYTHON:-} || $v == "$(version_of "$python")" ]] ||
        { echo "scripts/setup.sh: $VENV/ is Python $v, not the $(version_of "$python") of PYTHON=$PYTHON: remove it or set VENV=" >&2; exit 1; }
else
    "$python" -m venv "$VENV"
fi

stamp=$VENV/.formscore-installed
target=(-e ".[test]")
[[ $EDITABLE == 1 ]] || target=(".[test]")
# A non-editable install is a copy of the code: redo it whenever a tracked file changed.
want=$(sha1sum pyproject.toml | cut -d' ' -f1)
[[ $EDITABLE == 1 ]] || want=$want-copy-$(git ls-files -s | sha1sum | cut -d' ' -f1)
if [[ "$(cat "$stamp" 2>/dev/null)" != "$want" ]]; then
    pip=("$VENV/bin/python" -m pip --quiet)
    "${pip[@]}" install --upgrade pip
    # Every wheel goes through a cache that outlives the venv: pip's own cache keeps nothing where the
    # registry sends no cache headers, and without a local CPU build of torch (only cp311 here) pip
    # pulls torch's CUDA build from PyPI, 2.6 GB of wheels with its nvidia-* libraries. Installs come
    # from that cache alone (no re-download of the newer wheels pip tries and rejects while resolving);
    # the registry is asked only when a wheel is missing. No byte-compiling of all ~18,000 files now
    # (2 CPU minutes): each module is compiled on first import.
    wheels=${XDG_CACHE_HOME:-$HOME/.cache}/formscore/wheels
    install=("${pip[@]}" install --no-compile --no-index --find-links "$wheels" "${target[@]}")
    if ! "${install[@]}" 2>/dev/null; then
        "${pip[@]}" download --dest "$wheels" --find-links "$wheels" ".[test]" "setuptools>=68" "wheel"
        "${install[@]}"
    fi
    echo "$want" > "$stamp"
fi

[[ -f data/squat_scores.csv ]] || "$VENV/bin/python" cli.py demo --data_dir data
