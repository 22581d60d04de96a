"""scripts/score_video.py on a real video (MediaPipe really runs) with every back-end, and on bad input."""

import importlib.util
import json
import shutil
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
from checkpoint_files import random_checkpoint
from conftest import SquatExport, carphone_video, write_clip

from export.exporter import export_checkpoint, load_checkpoint
from export.parity import torch_predictor
from preprocessing.constants import NUM_FRAMES, SCORE_SCALE
from preprocessing.features import video_features
from preprocessing.video import read_sampled_frames
from serving.artifact import ArtifactError, metadata_path

REPO = Path(__file__).resolve().parents[1]
SCRIPT = REPO / "scripts" / "score_video.py"
CARPHONE = carphone_video()
# Runs a script like `python script args`, then reports which heavy packages it imported.
RUNNER = """
import runpy, sys
sys.argv = sys.argv[1:]
try:
    runpy.run_path(sys.argv[0], run_name="__main__")
    code = 0
except SystemExit as done:
    code = done.code
print("LOADED=" + ",".join(m for m in ("torch", "tensorflow", "keras") if m in sys.modules), file=sys.stderr)
sys.exit(code)
"""


def run_script(*args: str) -> tuple[subprocess.CompletedProcess, set[str]]:
    """Run score_video.py from the repo root in a fresh process; also return the heavy modules it loaded."""
    process = subprocess.run(
        [sys.executable, "-c", RUNNER, str(SCRIPT.relative_to(REPO)), *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
        env={"TF_CPP_MIN_LOG_LEVEL": "2", "PATH": "/usr/bin:/bin"},
    )
    loaded = process.stderr.rsplit("LOADED=", 1)[1].split()
    return process, set(loaded[0].split(",")) - {""} if loaded else set()


def load_script_module():
    spec = importlib.util.spec_from_file_location("score_video", SCRIPT)
    assert spec is not None and spec.loader is not None, SCRIPT
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def squat_ckpt(squat_export: SquatExport) -> Path:
    """A random-init squat model's checkpoint (ScoreRegressor layout, default pose settings)."""
    return squat_export.ckpt


@pytest.fixture(scope="module")
def export_dir(squat_export: SquatExport) -> Path:
    return squat_export.out_dir


@pytest.fixture(scope="module")
def bad_videos(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A missing file, a text file named .mp4, and a real video with nobody in it."""
    folder = tmp_path_factory.mktemp("bad")
    (folder / "notes.mp4").write_text("not a video\n")
    writer = cv2.VideoWriter(str(folder / "empty_room.mp4"), cv2.VideoWriter.fourcc(*"mp4v"), 25, (160, 120))
    for i in range(30):
        writer.write(np.full((120, 160, 3), 90 + i, np.uint8))
    writer.release()
    return {
        "missing": folder / "missing.mp4",
        "not_video": folder / "notes.mp4",
        "no_person": folder / "empty_room.mp4",
    }


@pytest.fixture(scope="module")
def cache_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("keypoints_cache")


@pytest.fixture(scope="module")
def onnx_run(export_dir, bad_videos, cache_dir) -> tuple[subprocess.CompletedProcess, set[str]]:
    """The real command line with the default back-end: the good video among the three bad ones."""
    videos = [bad_videos["missing"], CARPHONE, bad_videos["not_video"], bad_videos["no_person"]]
    return run_script(
        *map(str, videos), "--model", str(export_dir / "squat_scorer.onnx"), "--json", "--cache_dir", str(cache_dir)
    )


def test_help_imports_neither_torch_nor_tensorflow() -> None:
    process, loaded = run_script("--help")
    assert process.returncode == 0 and "--model" in process.stdout
    assert loaded == set()


def test_onnx_scores_the_real_video_and_reports_each_bad_one(onnx_run, squat_ckpt, bad_videos, cache_dir) -> None:
    process, loaded = onnx_run
    assert process.returncode == 1
    assert not loaded & {"torch", "tensorflow"}  # ONNX scoring needs neither
    document = json.loads(process.stdout)
    assert document["backend"] == "onnxruntime" and document["exercise"] == "squat"
    missing, good, not_video, no_person = document["results"]
    assert good["video"] == str(CARPHONE) and good["frames_with_person"] == NUM_FRAMES
    assert 0 <= good["score"] <= SCORE_SCALE
    features = video_features(CARPHONE, cache_dir=cache_dir)  # the cache entry the script wrote
    reference = torch_predictor(load_checkpoint(squat_ckpt).model)(features[None])
    assert abs(good["score"] - float(reference[0, 0]) * SCORE_SCALE) <= 1e-3
    assert missing["error"].startswith(f"{bad_videos['missing']}:") and "no such file" in missing["error"]
    assert not_video["error"].startswith(f"{bad_videos['not_video']}:") and "video" in not_video["error"]
    assert no_person["error"] == f"{bad_videos['no_person']}: no person found in any of the {NUM_FRAMES} sampled frames"
    for bad in (missing, not_video, no_person):
        assert f"error: {bad['error']}" in process.stderr


@pytest.mark.parametrize("artifact", ["squat_scorer.keras", "squat_scorer_savedmodel"])
def test_keras_and_savedmodel_give_the_onnx_score(artifact, onnx_run, export_dir, cache_dir, capsys) -> None:
    onnx_score = json.loads(onnx_run[0].stdout)["results"][1]["score"]
    argv = [str(CARPHONE), "--model", str(export_dir / artifact), "--json", "--cache_dir", str(cache_dir)]
    assert load_script_module().main(argv) == 0
    document = json.loads(capsys.readouterr().out)
    assert document["backend"] == ("keras" if artifact.endswith(".keras") else "savedmodel")
    (result,) = document["results"]
    assert 0 <= result["score"] <= SCORE_SCALE and abs(result["score"] - onnx_score) <= 1e-3


def test_text_output(export_dir, cache_dir, capsys) -> None:
    argv = [str(CARPHONE), "--model", str(export_dir / "squat_scorer.onnx"), "--cache_dir", str(cache_dir)]
    assert load_script_module().main(argv) == 0
    model, line = capsys.readouterr().out.strip().splitlines()
    assert model == f"model: {export_dir / 'squat_scorer.onnx'} (squat, onnxruntime)"  # which model scored
    total = int(cv2.VideoCapture(str(CARPHONE)).get(cv2.CAP_PROP_FRAME_COUNT))
    assert line.startswith(f"{CARPHONE}: score ")
    assert line.endswith(f"/100 (person in {NUM_FRAMES}/{NUM_FRAMES} frames; {NUM_FRAMES} distinct frames of {total})")


def test_no_confident_score_for_too_short_or_mostly_empty_clips(export_dir, tmp_path, capsys) -> None:
    """3 frames: an error (no score); a person in 4 of 16 frames: scored, flagged in JSON and on stderr;
    an unwritable cache (a file where the folder should be): still scored, with a warning."""
    person = read_sampled_frames(CARPHONE)[0]
    short = write_clip(tmp_path / "short.avi", person[:3])
    blank = np.full_like(person[0], 128)
    sparse = write_clip(tmp_path / "sparse.avi", person[:4] + [blank] * 12)
    not_a_folder = tmp_path / "cache_is_a_file"
    not_a_folder.write_text("")
    argv = [
        str(short),
        str(sparse),
        "--model",
        str(export_dir / "squat_scorer.onnx"),
        "--json",
        "--cache_dir",
        str(not_a_folder),
    ]
    assert load_script_module().main(argv) == 1
    captured = capsys.readouterr()
    too_short, flagged = json.loads(captured.out)["results"]
    assert too_short == {
        "video": str(short),
        "error": f"{short}: too short to score: 3 frame(s), fewer than the {NUM_FRAMES} the model samples",
    }
    assert 0 <= flagged["score"] <= SCORE_SCALE and flagged["distinct_frames"] == NUM_FRAMES
    assert flagged["frames_with_person"] < NUM_FRAMES // 2 and "the score is unreliable" in flagged["warning"]
    assert f"warning: {not_a_folder}: keypoint cache folder cannot be written" in captured.err
    assert f"warning: {sparse}: person in only {flagged['frames_with_person']} of {NUM_FRAMES} frames" in captured.err


def copy_artifact(export_dir: Path, folder: Path) -> Path:
    """The ONNX artifact and its metadata, copied into ``folder``."""
    folder.mkdir()
    for name in ("squat_scorer.onnx", "squat_scorer.meta.json"):
        shutil.copyfile(export_dir / name, folder / name)
    return folder / "squat_scorer.onnx"


def test_artifact_with_other_preprocessing_is_refused(export_dir, tmp_path, capsys) -> None:
    artifact = copy_artifact(export_dir, tmp_path / "other")
    metadata = json.loads(metadata_path(artifact).read_text())
    metadata["preprocessing"]["normalization"] = "something-else"
    metadata_path(artifact).write_text(json.dumps(metadata))
    with pytest.raises(ArtifactError, match=f"{artifact}: made with other preprocessing") as refused:
        load_script_module().main([str(CARPHONE), "--model", str(artifact)])
    assert "normalization: artifact 'something-else'" in str(refused.value)
    process, _ = run_script(str(CARPHONE), "--model", str(artifact))  # as a command: one error block, code 6
    assert process.returncode == 6 and "Traceback" not in process.stderr
    assert process.stderr.startswith(f"error: {artifact}: made with other preprocessing")


def test_artifact_that_does_not_match_its_metadata_is_refused(export_dir, tmp_path, capsys) -> None:
    artifact = copy_artifact(export_dir, tmp_path / "changed")
    with open(artifact, "ab") as handle:
        handle.write(b"\0")
    with pytest.raises(ArtifactError, match=f"{artifact}: does not match {metadata_path(artifact)}"):
        load_script_module().main([str(CARPHONE), "--model", str(artifact)])
    with pytest.raises(ArtifactError, match=f"{tmp_path / 'none.onnx'}: no such model artifact"):
        load_script_module().main([str(CARPHONE), "--model", str(tmp_path / "none.onnx")])


def test_test_models_script(export_dir, bad_videos, cache_dir, tmp_path) -> None:
    """scripts/test_models.sh scores each exercise's test folder with its ONNX model; skips what is missing."""
    squats = tmp_path / "data" / "squats_test"
    squats.mkdir(parents=True)
    (squats / "a_carphone.mp4").symlink_to(CARPHONE)
    shutil.copyfile(bad_videos["not_video"], squats / "b_notes.mp4")
    process = subprocess.run(
        ["bash", str(REPO / "scripts" / "test_models.sh"), "--cache_dir", str(cache_dir)],
        capture_output=True,
        text=True,
        timeout=300,
        env={
            "DATA_DIR": str(tmp_path / "data"),
            "MODEL_DIR": str(export_dir),
            "PYTHON": sys.executable,
            "TF_CPP_MIN_LOG_LEVEL": "2",
            "PATH": "/usr/bin:/bin",
        },
    )
    assert process.returncode == 1  # b_notes.mp4 is not a video
    assert f"== squat: 2 video(s) from {squats}" in process.stdout
    assert f"{squats / 'a_carphone.mp4'}: score " in process.stdout
    assert f"error: {squats / 'b_notes.mp4'}:" in process.stderr
    assert "== pushup: skipped, no test folder" in process.stdout


def test_model_of_another_exercise_is_refused(export_dir, capsys) -> None:
    artifact = export_dir / "squat_scorer.onnx"
    with pytest.raises(ArtifactError, match=f"{artifact}: is a squat model, not pushup"):
        load_script_module().main([str(CARPHONE), "--model", str(artifact), "--exercise", "pushup"])


def test_feature_set_mismatch_is_refused(export_dir, tmp_path) -> None:
    artifact = copy_artifact(export_dir, tmp_path / "claims-kinematic")
    metadata = json.loads(metadata_path(artifact).read_text())
    assert metadata["preprocessing"]["feature_set"] == "original"
    metadata["preprocessing"]["feature_set"] = "kinematic"  # a 133-wide model claiming the 36-wide set
    metadata_path(artifact).write_text(json.dumps(metadata))
    with pytest.raises(ArtifactError, match=f"{artifact}: made with other preprocessing") as refused:
        load_script_module().main([str(CARPHONE), "--model", str(artifact)])
    assert "feature_dims: artifact 133, scorer 36" in str(refused.value)
    metadata["preprocessing"]["feature_set"] = "skeleton-v9"
    metadata_path(artifact).write_text(json.dumps(metadata))
    with pytest.raises(ArtifactError, match="unknown feature set 'skeleton-v9'"):
        load_script_module().main([str(CARPHONE), "--model", str(artifact)])


def test_kinematic_model_exports_with_its_input_width_and_scores_through_its_features(
    demo_data_dir, tmp_path, capsys
) -> None:
    """A model of the view-robust feature set: (batch, 16, 36) artifacts, and the scorer computes those features."""
    width = 36
    datamodule_hparams = {"exercise": "pushup", "data_dir": str(demo_data_dir), "feature_set": "kinematic"}
    ckpt = random_checkpoint(tmp_path / "kinematic.ckpt", datamodule_hparams, seed=5, input_size=width)
    export_checkpoint(ckpt, tmp_path / "out", log=lambda _: None)
    artifact = tmp_path / "out" / "pushup_scorer.onnx"
    metadata = json.loads(metadata_path(artifact).read_text())
    assert metadata["preprocessing"]["feature_set"] == "kinematic" and metadata["input"]["shape"] == [
        "batch",
        16,
        width,
    ]
    load_script_module().main(
        [str(CARPHONE), "--model", str(artifact), "--json", "--cache_dir", str(tmp_path / "cache")]
    )
    scored = json.loads(capsys.readouterr().out)["results"][0]["score"]
    features = video_features(CARPHONE, cache_dir=tmp_path / "cache", name="kinematic")
    expected = torch_predictor(load_checkpoint(ckpt).model)(features[None])[0, 0] * SCORE_SCALE
    assert scored == pytest.approx(expected, abs=1e-3)
