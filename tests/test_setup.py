"""scripts/setup.sh: an unsupported Python is refused at once, with the reason and the way out."""

import hashlib
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SETUP = ROOT / "scripts" / "setup.sh"
BASH = shutil.which("bash")
WAY_OUT = (
    "Python 3.11 or 3.12",
    "mediapipe 0.10.21",
    "uv python install 3.12",
    "pyenv install 3.12",
    "deadsnakes",
    "PYTHON=/path/to/python3.12",
)


def _python(version: str) -> str | None:
    """A working interpreter of `version` on this machine (PATH or pyenv), or None."""
    pyenv = Path(os.environ.get("PYENV_ROOT", Path.home() / ".pyenv"))
    for cand in (shutil.which(f"python{version}"), *sorted(pyenv.glob(f"versions/{version}.*/bin/python{version}"))):
        if cand and subprocess.run([cand, "-c", ""], capture_output=True).returncode == 0:
            return str(cand)
    return None


PY313 = _python("3.13")
needs_313 = pytest.mark.skipif(PY313 is None, reason="no Python 3.13 on this machine")


def _setup(tmp_path: Path, path: str, **env: str) -> tuple[subprocess.CompletedProcess, float]:
    """Run setup.sh with a clean environment (HOME in tmp_path: no pyenv or uv installs)."""
    assert BASH is not None, "no bash on PATH"
    start = time.monotonic()
    proc = subprocess.run(
        [BASH, str(SETUP)],
        capture_output=True,
        text=True,
        timeout=120,
        env={"HOME": str(tmp_path / "home"), "PATH": path, "VENV": str(tmp_path / "venv"), **env},
    )
    return proc, time.monotonic() - start


def _assert_refused(proc: subprocess.CompletedProcess, elapsed: float, because: str) -> None:
    assert proc.returncode == 1, proc.stderr
    assert because in proc.stderr
    for text in WAY_OUT:
        assert text in proc.stderr
    assert elapsed < 10  # stops before any venv or pip work


@needs_313
def test_only_python_313_on_path_is_refused_at_once(tmp_path: Path) -> None:
    # A machine whose only Python is 3.13 (Debian 13): python3 and python3.13, nothing else.
    assert PY313 is not None  # needs_313
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for tool in ("dirname", "cat", "grep"):
        found = shutil.which(tool)
        assert found is not None, tool
        (bin_dir / tool).symlink_to(found)
    for name in ("python3", "python3.13"):
        (bin_dir / name).symlink_to(PY313)
    proc, elapsed = _setup(tmp_path, str(bin_dir))
    _assert_refused(proc, elapsed, "none was found (python3 here is 3.13)")
    assert not (tmp_path / "venv").exists()


@needs_313
def test_python_313_named_by_path_is_refused(tmp_path: Path) -> None:
    assert PY313 is not None  # needs_313
    proc, elapsed = _setup(tmp_path, os.environ["PATH"], PYTHON=PY313)
    _assert_refused(proc, elapsed, f"PYTHON={PY313} is Python 3.13")
    assert not (tmp_path / "venv").exists()


def test_python_version_313_is_refused(tmp_path: Path) -> None:
    proc, elapsed = _setup(tmp_path, os.environ["PATH"], PYTHON="3.13")
    _assert_refused(proc, elapsed, "PYTHON=3.13 asks for another")
    assert not (tmp_path / "venv").exists()


@needs_313
def test_venv_made_with_python_313_is_refused_untouched(tmp_path: Path) -> None:
    assert PY313 is not None  # needs_313
    subprocess.run([PY313, "-m", "venv", "--without-pip", str(tmp_path / "venv")], check=True)
    proc, elapsed = _setup(tmp_path, os.environ["PATH"], PYTHON=sys.executable)
    _assert_refused(proc, elapsed, "was made with Python 3.13 (remove it: rm -rf")
    assert not (tmp_path / "venv" / ".formscore-installed").exists()
    assert not list((tmp_path / "venv" / "lib").glob("python3.13/site-packages/*"))


@pytest.mark.skipif(not (ROOT / "data" / "squat_scores.csv").exists(), reason="demo data not written yet")
def test_installed_venv_of_this_python_is_only_checked(tmp_path: Path) -> None:
    # The second run of setup.sh: a venv of a supported Python whose stamp matches pyproject.toml.
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    (venv / ".formscore-installed").write_text(hashlib.sha1((ROOT / "pyproject.toml").read_bytes()).hexdigest() + "\n")
    proc, elapsed = _setup(tmp_path, os.environ["PATH"], PYTHON=sys.executable)
    assert proc.returncode == 0, proc.stderr
    assert (proc.stdout, proc.stderr) == ("", "")
    assert elapsed < 10
