"""The tool used as a hostile user would: kills, races, forged or damaged files, odd inputs and options.

Each case asserts the exit status, the one ``error:`` line (no traceback) and that nothing was lost
or left behind. Kills are real: a child process SIGKILLs itself after step N of the publication
(``serving.published.publication_steps``), for every N, and the set is then read with the scorer's
own check (``serving.artifact.check_artifact``). One real export (a random-init network) is shared.
"""

import json
import os
import shutil
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import cv2
import onnx
import pytest
from checkpoint_files import random_checkpoint
from conftest import REPO, SquatExport, carphone_video

from cli import run_command
from export.metadata import write_metadata
from serving.artifact import artifact_digest, check_artifact, metadata_path
from serving.published import CURRENT, VERSIONS, pointed, repair

CARPHONE = carphone_video()
NAMES = ("squat_scorer.onnx", "squat_scorer.keras", "squat_scorer_savedmodel", "model.keras")
DROPPED = "squat_scorer_int8.tflite"  # in the old set only: the new one leaves it out
CHILD_ENV = {**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1"}
# Publishes the set in argv[2] into the folder argv[1] and SIGKILLs itself after step argv[3]
# (-1: never); prints the number of steps.
PUBLISH_AND_DIE = """
import os, shutil, signal, sys
from pathlib import Path
from preprocessing.locks import folder_lock
from serving.published import new_version, publication_steps
out, new, die = Path(sys.argv[1]), Path(sys.argv[2]), int(sys.argv[3])
with folder_lock(out, "test publish"), new_version(out) as version:
    for item in new.iterdir():
        (shutil.copytree if item.is_dir() else shutil.copy2)(item, version / item.name)
    steps = 0
    for steps, _ in enumerate(publication_steps(out, version, removed=[sys.argv[4]]), start=1):
        if steps == die:
            os.kill(os.getpid(), signal.SIGKILL)
print(steps)
"""
HOLD_LOCK = """
import sys
from preprocessing.locks import folder_lock
with folder_lock(sys.argv[1], "cli.py fit --config squat.yaml (held by the test)"):
    print("held", flush=True)
    sys.stdin.read()
"""


def run_main(main, argv: list[str], monkeypatch: pytest.MonkeyPatch) -> int:
    """``run_command(main)`` with ``argv`` as the command line: the exit status the shell would see."""
    monkeypatch.setattr(sys, "argv", ["cli.py", *argv])
    return run_command(main)


def score_main(argv: list[str] | None) -> int:
    from serving.command import main

    return main(argv)


def one_error(stderr: str) -> str:
    """The ``error:`` line of a failed command's stderr (asserting there is one and no traceback)."""
    assert "Traceback" not in stderr, stderr
    lines = [line for line in stderr.splitlines() if line.startswith("error: ")]
    assert len(lines) == 1, stderr
    return lines[0]


@pytest.fixture(scope="module")
def exported(squat_export: SquatExport) -> Path:
    """A real export of a random-init squat network (published, versioned layout); read only."""
    return squat_export.out_dir


def plain_copy(exported: Path, folder: Path) -> Path:
    """The published set as plain files (links followed), as an older formscore wrote it."""
    folder.mkdir(parents=True)
    for name in [p.name for p in exported.iterdir() if not p.name.startswith(".")]:
        source = exported / name
        (shutil.copytree if source.is_dir() else shutil.copy2)(source, folder / name)
    return folder


@pytest.fixture(scope="module")
def sets(exported: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """Two complete sets as plain folders: ``old`` (with an int8 TFLite entry the new set leaves out)
    and ``new`` (another ONNX file, so its digest and its metadata differ)."""
    root = tmp_path_factory.mktemp("sets")
    old, new = plain_copy(exported, root / "old"), plain_copy(exported, root / "new")
    (old / DROPPED).write_bytes(b"an int8 model of the old export")
    model = onnx.load(new / "squat_scorer.onnx")
    model.doc_string = "the new export"
    onnx.save(model, new / "squat_scorer.onnx")
    for folder in (old, new):
        metadata = json.loads((folder / "squat_scorer.meta.json").read_text())
        names = [p.name for p in folder.iterdir() if not p.name.endswith(".meta.json")]
        metadata["artifacts"] = {name: artifact_digest(folder / name) for name in names}
        metadata["created_at"] = folder.name
        for meta in ("squat_scorer.meta.json", "model.meta.json"):
            write_metadata(folder / meta, metadata)
    return old, new


def digests(folder: Path) -> dict[str, str]:
    """Published name -> digest of what a reader finds there (dangling links and hidden names left out)."""
    return {p.name: artifact_digest(p) for p in folder.iterdir() if not p.name.startswith(".") and p.exists()}


def publish_in_child(out_dir: Path, new: Path, die: int) -> subprocess.CompletedProcess:
    command = [sys.executable, "-c", PUBLISH_AND_DIE, str(out_dir), str(new), str(die), DROPPED]
    return subprocess.run(command, env=CHILD_ENV, capture_output=True, text=True, timeout=60)


def assert_old_or_new(out_dir: Path, old: dict[str, str], new: dict[str, str], step: int) -> str:
    """Every name reads the old set, or every name the new one; the scorer's check accepts each."""
    found = digests(out_dir)
    assert found in (old, new), f"kill after step {step}: a mixed set {sorted(found)}"
    for name in NAMES:
        check_artifact(out_dir / name)
    return "old" if found == old else "new"


@pytest.mark.parametrize("layout", ["versioned", "plain"])
def test_a_kill_at_every_step_of_publication_leaves_the_old_set_or_the_new_one(layout, sets, tmp_path) -> None:
    """For each step N: a fresh copy of the old set, a child publishing the new one killed (SIGKILL)
    after step N; then the set is old-or-new, a scorer's repair removes what the dead run left (dead
    versions, dangling links), and a later publication completes."""
    old_set, new_set = sets
    old, new = digests(old_set), digests(new_set)
    start = tmp_path / "start"
    if layout == "versioned":  # the old set published by this code
        start.mkdir()
        assert publish_in_child(start, old_set, -1).returncode == 0
        assert (start / CURRENT).is_symlink()
    else:  # the old set as an older formscore left it: plain files, adopted by the publication
        plain_copy(old_set, start)
    assert digests(start) == old
    total = int(publish_in_child(shutil.copytree(start, tmp_path / "count", symlinks=True), new_set, -1).stdout)
    assert total >= (4 if layout == "versioned" else 10)  # steps really stepped through, not one big one
    seen = []
    for step in range(1, total + 1):
        out_dir = shutil.copytree(start, tmp_path / f"kill-{step}", symlinks=True)
        died = publish_in_child(out_dir, new_set, step)
        assert died.returncode == -signal.SIGKILL, died.stderr
        seen.append(assert_old_or_new(out_dir, old, new, step))
        repair(out_dir)  # what a scorer does first
        assert assert_old_or_new(out_dir, old, new, step) == seen[-1]
        live = {pointed(out_dir, ".current"), pointed(out_dir, ".previous")}
        assert set((out_dir / VERSIONS).iterdir()) <= live  # no dead version left
        assert not [p for p in out_dir.iterdir() if p.is_symlink() and not p.exists()]  # no dangling link
        assert publish_in_child(out_dir, new_set, -1).returncode == 0  # the next export completes
        assert digests(out_dir) == new and len(list((out_dir / VERSIONS).iterdir())) <= 2
    assert seen[0] == "old" and seen[-1] == "new" and seen == sorted(seen, key=["old", "new"].index)


@contextmanager
def lock_held_by_child(folder: Path) -> Iterator[subprocess.Popen]:
    """Another live process holds ``folder``'s lock inside (it says so before we go on: no timing)."""
    child = subprocess.Popen(
        [sys.executable, "-c", HOLD_LOCK, str(folder)], env=CHILD_ENV, stdin=subprocess.PIPE, stdout=subprocess.PIPE
    )
    try:
        assert child.stdout is not None and child.stdout.readline() == b"held\n"
        yield child
    finally:
        child.kill()
        child.wait()


def test_a_second_export_into_a_held_folder_is_refused_at_once_naming_the_other_run(
    exported, sets, tmp_path, monkeypatch, capsys
) -> None:
    from export import main as export_main

    out_dir = shutil.copytree(exported, tmp_path / "out", symlinks=True)
    before = digests(out_dir)
    ckpt = random_checkpoint(tmp_path / "other.ckpt", {"exercise": "squat"}, seed=4)
    with lock_held_by_child(out_dir) as child:
        status = run_main(export_main, ["--ckpt_path", str(ckpt), "--out_dir", str(out_dir)], monkeypatch)
        error = one_error(capsys.readouterr().err)
    assert status == 7
    assert f"error: {out_dir}: in use by another run (pid {child.pid} on " in error and "held by the test" in error
    assert digests(out_dir) == before and len(list((out_dir / VERSIONS).iterdir())) == 1  # nothing started


def test_a_second_fit_into_a_held_checkpoint_folder_is_refused_before_training(tmp_path, monkeypatch, capsys) -> None:
    from cli import cli_main

    folder = tmp_path / "checkpoints" / "squat"
    folder.mkdir(parents=True)
    earlier = random_checkpoint(folder / "best.ckpt", {"exercise": "squat"}).read_bytes()
    monkeypatch.chdir(tmp_path)
    argv = ["fit", "--config", str(REPO / "squat.yaml"), "--data.data_dir", str(tmp_path / "no_data")]
    with lock_held_by_child(folder) as child:
        status = run_main(cli_main, [*argv, "--trainer.accelerator", "cpu"], monkeypatch)
    error = one_error(capsys.readouterr().err)
    assert status == 7 and f"{folder}: in use by another run (pid {child.pid} on " in error
    assert (folder / "best.ckpt").read_bytes() == earlier and not (folder / "earlier").exists()  # untouched
    assert not (tmp_path / "lightning_logs").exists()


def test_a_dead_runs_lock_is_taken_over(tmp_path) -> None:
    from preprocessing.locks import OWNER_NAME, folder_lock

    killed = f"""
import os, signal
from preprocessing.locks import folder_lock
with folder_lock({str(tmp_path)!r}, "a run killed holding the lock"):
    os.kill(os.getpid(), signal.SIGKILL)
"""
    died = subprocess.run([sys.executable, "-c", killed], env=CHILD_ENV, timeout=60)
    assert died.returncode == -signal.SIGKILL and (tmp_path / OWNER_NAME).exists()  # it left its record
    with folder_lock(tmp_path, "the next run"):
        assert json.loads((tmp_path / OWNER_NAME).read_text())["pid"] == os.getpid()
    assert not (tmp_path / OWNER_NAME).exists()


# -- artifacts a scorer is handed ------------------------------------------------------------------


@pytest.fixture(scope="module")
def cache_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("keypoints_cache")


def forge_metadata(artifact: Path, exported: Path, **changes: object) -> None:
    """A metadata file for ``artifact`` as a forger would write it: the real export's, with the
    artifact's own digest (anyone can compute one) and ``changes``."""
    metadata = json.loads((exported / "squat_scorer.meta.json").read_text())
    metadata["artifacts"] = {artifact.name: artifact_digest(artifact)}
    metadata.update(changes)
    metadata_path(artifact).write_text(json.dumps(metadata))


def writing_savedmodel(folder: Path, target: Path) -> Path:
    """A real SavedModel whose serving function writes ``target`` (a ``WriteFile`` op) and returns a score."""
    import tensorflow as tf

    class Writer(tf.Module):
        @tf.function(input_signature=[tf.TensorSpec([None, 16, 133], tf.float32, name="pose_features")])
        def serve(self, x):
            tf.io.write_file(str(target), "written by a model")
            return {"score": tf.sigmoid(tf.reduce_mean(x, axis=[1, 2]))[:, None]}

    module = Writer()
    tf.saved_model.save(module, str(folder), signatures={"serving_default": module.serve})
    return folder


def test_a_savedmodel_that_runs_a_foreign_op_is_refused_unless_trusted(
    exported, cache_dir, tmp_path, monkeypatch, capsys
) -> None:
    target = tmp_path / "written.txt"
    artifact = writing_savedmodel(tmp_path / "squat_scorer_savedmodel", target)
    forge_metadata(artifact, exported)
    argv = [str(CARPHONE), "--model", str(artifact), "--cache_dir", str(cache_dir)]
    assert run_main(score_main, argv, monkeypatch) == 6
    error = one_error(capsys.readouterr().err)
    assert f"error: {artifact}: its graph runs WriteFile (function " in error and "--trust_savedmodel" in error
    assert not target.exists()  # refused before TensorFlow ran any of it
    assert run_main(score_main, [*argv, "--trust_savedmodel"], monkeypatch) == 0  # the user said so
    assert target.read_text() == "written by a model" and "score" in capsys.readouterr().out


def test_what_a_forged_metadata_file_cannot_do(exported, tmp_path, monkeypatch, capsys) -> None:
    """Edited fields the scorer uses are refused (score_scale 1000 would print 543/100), and so is a
    truncated .keras file whose digest was forged to match, with what is wrong with it."""
    cases = {
        "score_scale": (1000, "score_scale is 1000, but an export writes 100.0"),
        "num_frames": (8, "num_frames is 8, but an export writes 16"),
        "exercise": ("yoga", "exercise 'yoga' is not one of"),
    }
    for field, (value, problem) in cases.items():
        folder = plain_copy(exported, tmp_path / field)
        forge_metadata(folder / "squat_scorer.onnx", exported, **{field: value})
        assert run_main(score_main, [str(CARPHONE), "--model", str(folder / "squat_scorer.onnx")], monkeypatch) == 6
        assert problem in one_error(capsys.readouterr().err)
    truncated = tmp_path / "truncated" / "squat_scorer.keras"
    truncated.parent.mkdir()
    truncated.write_bytes((exported / "squat_scorer.keras").read_bytes()[:30000])
    forge_metadata(truncated, exported)
    assert run_main(score_main, [str(CARPHONE), "--model", str(truncated)], monkeypatch) == 6
    assert f"{truncated}: not a complete .keras file (a damaged or truncated zip archive" in one_error(
        capsys.readouterr().err
    )


# -- inputs -----------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def cut_videos(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The carphone clip re-encoded as MJPG (one frame per chunk), whole and with its end cut off:
    25 % of its bytes gone (90 of 120 frames decode) and 70 % gone (35 of 120)."""
    folder = tmp_path_factory.mktemp("cut")
    capture = cv2.VideoCapture(str(CARPHONE))
    frames = []
    while (frame := capture.read()[1]) is not None:
        frames.append(frame)
    writer = cv2.VideoWriter(str(folder / "whole.avi"), cv2.VideoWriter.fourcc(*"MJPG"), 25, frames[0].shape[1::-1])
    for frame in frames:
        writer.write(frame)
    writer.release()
    data = (folder / "whole.avi").read_bytes()
    (folder / "cut25.avi").write_bytes(data[: int(len(data) * 0.75)])
    (folder / "cut70.avi").write_bytes(data[: int(len(data) * 0.3)])
    writer = cv2.VideoWriter(str(folder / "one.avi"), cv2.VideoWriter.fourcc(*"MJPG"), 25, frames[0].shape[1::-1])
    writer.write(frames[0])
    writer.release()
    return {name: folder / f"{name}.avi" for name in ("whole", "cut25", "cut70", "one")}


@pytest.mark.parametrize("reps", [False, pytest.param(True, marks=pytest.mark.slow)], ids=["16 frames", "--reps"])
def test_a_truncated_video_is_refused_or_scored_with_a_visible_warning(
    reps, exported, cut_videos, cache_dir, monkeypatch, capsys
) -> None:
    """Under 50 % of the header's frames: refused. Under 95 %: scored, with the warning in the text,
    on stderr and in the JSON. Whole: no warning. The same check on both paths."""
    model = ["--model", str(exported / "squat_scorer.onnx"), "--cache_dir", str(cache_dir), *(["--reps"] * reps)]
    assert run_main(score_main, [str(cut_videos["cut70"]), *model], monkeypatch) == 1
    assert "only 35 of the 120 frames its header announces can be decoded (fewer than 50%: refused)" in one_error(
        capsys.readouterr().err
    )
    assert run_main(score_main, [str(cut_videos["cut25"]), *model], monkeypatch) == 0
    text = capsys.readouterr()
    assert "WARNING" in text.out and "only 90 of the 120 frames its header announces decode (under 95%)" in text.err
    assert run_main(score_main, [str(cut_videos["cut25"]), *model, "--json"], monkeypatch) == 0
    (document,) = json.loads(capsys.readouterr().out)["results"]
    assert "truncated?" in document["warning"]
    assert run_main(score_main, [str(cut_videos["whole"]), *model, "--json"], monkeypatch) == 0
    (document,) = json.loads(capsys.readouterr().out)["results"]
    assert "warning" not in document


def test_folders_without_inputs_and_too_short_sets_are_errors_naming_them(
    exported, cut_videos, cache_dir, tmp_path, monkeypatch, capsys
) -> None:
    model = ["--model", str(exported / "squat_scorer.onnx"), "--cache_dir", str(cache_dir)]
    for folder in (tmp_path / "clip.mp4", tmp_path / "empty"):
        folder.mkdir()
        assert run_main(score_main, [str(folder), *model], monkeypatch) == 4
        assert one_error(capsys.readouterr().err) == f"error: {folder}: a folder with no video or *.pose.npz file in it"
    assert run_main(score_main, [str(cut_videos["one"]), *model, "--reps"], monkeypatch) == 1
    assert one_error(capsys.readouterr().err) == (
        f"error: {cut_videos['one']}: too short to find repetitions: 1 pose sample(s) from 1 frame(s) at "
        "stride 1, fewer than the 16 a repetition is scored on"
    )


@pytest.mark.parametrize(
    "command, option",
    [
        ("score", "--stride=0"),
        ("score", "--stride=-3"),
        ("score", "--threads=0"),
        ("score", "--limit=-1"),
        ("score", "--num_workers=0"),
        ("extract", "--num_workers=-1"),
        ("extract", "--time_limit=0"),
        ("cv", "--folds=1"),
        ("cv", "--repeats=0"),
    ],
)
def test_numeric_options_are_validated(command, option, capsys) -> None:
    from cli import cli_main

    with pytest.raises(SystemExit) as usage:
        cli_main([command, str(CARPHONE), option])
    assert usage.value.code == 2
    assert option[2:].split("=")[0] in capsys.readouterr().err


def test_extract_into_an_unwritable_cache_fails_before_posing_anything(
    cut_videos, tmp_path, monkeypatch, capsys
) -> None:
    from preprocessing.extract import main as extract_main

    (tmp_path / "cache").write_text("a file where the cache folder should be")
    argv = [str(cut_videos["whole"]), "--cache_dir", str(tmp_path / "cache"), "--num_workers", "0"]
    assert run_main(extract_main, argv, monkeypatch) == 7
    captured = capsys.readouterr()
    assert "keypoint cache folder cannot be written" in one_error(captured.err) and "failed" not in captured.out


# -- the command as a process -----------------------------------------------------------------------


def run_process(*args: str, cwd: Path = REPO, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=280,
        env={"PATH": "/usr/bin:/bin", "OMP_NUM_THREADS": "1", **env},
    )


@pytest.mark.slow
def test_a_successful_score_prints_nothing_on_stderr_unless_verbose(exported, tmp_path) -> None:
    """MediaPipe and TFLite print their start-up notes from native code; they stay off stderr."""
    model = ["--model", str(exported / "squat_scorer.onnx")]
    quiet = run_process("cli.py", "score", str(CARPHONE), *model, "--cache_dir", str(tmp_path / "a"))
    assert quiet.returncode == 0 and quiet.stderr == "" and "score" in quiet.stdout
    verbose = run_process("cli.py", "score", str(CARPHONE), *model, "--cache_dir", str(tmp_path / "b"), "--verbose")
    assert verbose.returncode == 0 and verbose.stderr != ""


def test_score_video_script_runs_the_code_of_its_checkout(tmp_path) -> None:
    """Run from elsewhere, with another formscore first on PYTHONPATH: the script's own checkout wins."""
    impostor = tmp_path / "serving"
    impostor.mkdir()
    (impostor / "__init__.py").write_text("")
    (impostor / "scorer.py").write_text("raise SystemExit('the impostor ran')\n")
    script = REPO / "scripts" / "score_video.py"
    process = run_process(str(script), "--help", cwd=tmp_path, PYTHONPATH=str(tmp_path))
    assert process.returncode == 0 and "--trust_savedmodel" in process.stdout, process.stderr


@pytest.mark.slow
def test_ctrl_c_in_fit_exits_130_with_one_line(demo_data_dir, tmp_path) -> None:
    process = run_process(
        str(REPO / "cli.py"),
        "fit",
        "--config",
        str(REPO / "squat.yaml"),
        "--data.data_dir",
        str(demo_data_dir),
        "--trainer.accelerator",
        "cpu",
        "--trainer.max_epochs",
        "1",
        "--trainer.callbacks+=interrupt_callback.InterruptAtTrainStart",
        cwd=tmp_path,
        PYTHONPATH=str(REPO / "tests"),
    )
    assert process.returncode == 130, process.stderr[-2000:]
    assert one_error(process.stderr) == "error: interrupted"


@pytest.mark.slow
def test_a_file_size_limit_during_export_is_one_line_and_keeps_the_previous_set(exported, tmp_path) -> None:
    """``ulimit -f`` below the size of the .keras file: the write fails (EFBIG), the export says so in
    one line and the folder still holds the previous set, nothing else."""
    out_dir = shutil.copytree(exported, tmp_path / "out", symlinks=True)
    before = digests(out_dir)
    ckpt = random_checkpoint(tmp_path / "other.ckpt", {"exercise": "squat"}, seed=5)
    limit_kb = (out_dir / "squat_scorer.onnx").stat().st_size // 1024 + 8  # the ONNX file fits, the .keras not
    command = (
        f"ulimit -f {limit_kb}; exec {sys.executable} {REPO / 'cli.py'} export --ckpt_path {ckpt} --out_dir {out_dir}"
    )
    process = subprocess.run(
        ["bash", "-c", command], capture_output=True, text=True, timeout=280, env={**CHILD_ENV, "PATH": "/usr/bin:/bin"}
    )
    assert process.returncode == 6
    assert "File too large" in one_error(process.stderr) and "ZipFile" not in process.stderr
    assert digests(out_dir) == before and len(list((out_dir / VERSIONS).iterdir())) == 1


class _Payload:
    """Pickled, it calls ``os.system`` when loaded: what a hostile checkpoint carries."""

    def __init__(self, target: Path) -> None:
        self.target = target

    def __reduce__(self):
        return os.system, (f"touch {self.target}",)


def test_a_checkpoint_that_would_run_code_is_refused_without_running_it(tmp_path, monkeypatch, capsys) -> None:
    import torch

    from export import main as export_main

    target = tmp_path / "ran.txt"
    ckpt = tmp_path / "hostile.ckpt"
    torch.save({"state_dict": {}, "payload": _Payload(target)}, ckpt)
    assert run_main(export_main, ["--ckpt_path", str(ckpt), "--out_dir", str(tmp_path / "out")], monkeypatch) == 5
    error = one_error(capsys.readouterr().err)
    assert error == (
        f"error: {ckpt}: holds Python objects besides weights and plain data; refused, since loading them "
        "would run code from the file"
    )
    assert not target.exists() and not (tmp_path / "out").exists()


def test_a_keras_file_with_a_lambda_layer_is_refused(exported, tmp_path, monkeypatch, capsys) -> None:
    """Keras's safe mode: a Lambda layer (Python code in the file) is not deserialised."""
    import keras

    inputs = keras.Input((16, 133), name="pose_features")
    outputs = keras.layers.Lambda(lambda x: keras.ops.mean(x, axis=(1, 2))[:, None], name="score")(inputs)
    artifact = tmp_path / "squat_scorer.keras"
    keras.Model(inputs, outputs).save(artifact)
    forge_metadata(artifact, exported)
    assert run_main(score_main, [str(CARPHONE), "--model", str(artifact)], monkeypatch) == 6
    error = one_error(capsys.readouterr().err)
    assert f"error: {artifact}: cannot be loaded with keras (" in error and "Lambda" in error


def test_an_older_formscores_stranded_export_is_repaired_by_the_next_score(sets, tmp_path, monkeypatch, capsys) -> None:
    """The old publication killed between its two renames: the ONNX file missing, its previous copy
    stranded in ``.export-*/.old/``. The next score puts it back, removes the staging folder, scores."""
    old_set, _ = sets
    out_dir = plain_copy(old_set, tmp_path / "checkpoints")
    stranded = out_dir / ".export-k1ll3d" / ".old"
    stranded.mkdir(parents=True)
    os.rename(out_dir / "squat_scorer.onnx", stranded / "2-squat_scorer.onnx")
    argv = [str(CARPHONE), "--model", str(out_dir / "squat_scorer.onnx"), "--cache_dir", str(tmp_path / "cache")]
    assert run_main(score_main, argv, monkeypatch) == 0
    assert "score" in capsys.readouterr().out
    assert digests(out_dir) == digests(old_set) and not (out_dir / ".export-k1ll3d").exists()
