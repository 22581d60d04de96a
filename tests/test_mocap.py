"""3D skeletons as a data source: the Plug-in Gait -> BlazePose mapping on a known standing pose, the
virtual cameras' geometry, view augmentation, bad files and marker gaps, a manifest read as it is, and
``cv`` end to end on a few real motion-capture reps (skips where ../shared is absent)."""

import gzip
import json
import logging
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from conftest import REPO, run_in

from datamodules.exercise import ExerciseDataModule, SequenceDataset
from preprocessing.augment import AugmentationConfig, augment
from preprocessing.constants import MIN_VISIBLE_LANDMARKS, NUM_FRAMES
from preprocessing.dataset import DataValidationError
from preprocessing.features import feature_dims, sequence_features, video_pose
from preprocessing.landmarks import ANKLE, KNEE, MIRROR_PERMUTATION, SHOULDER, Landmark
from preprocessing.skeleton3d import PLUG_IN_GAIT, Skeleton3D, facing, load_skeleton, save_skeleton
from preprocessing.virtual_camera import VIEWS, Camera, RandomView, ViewAugmentation, render

REAL_MOCAP = REPO.parent / "shared" / "real_mocap"
L = Landmark

# A person standing upright facing +x, their left towards +y, z up (mm, typical Plug-in Gait positions).
STANDING_MM = {
    "LFHD": (80, 60, 1650), "RFHD": (80, -60, 1650), "LBHD": (-80, 60, 1660), "RBHD": (-80, -60, 1660),
    "C7": (-90, 0, 1450), "T10": (-110, 0, 1200), "CLAV": (60, 0, 1420), "STRN": (90, 0, 1250),
    "RBAK": (-100, -80, 1300), "LSHO": (0, 180, 1420), "LUPA": (-10, 200, 1270), "LELB": (-20, 200, 1100),
    "LFRM": (-10, 200, 980), "LWRA": (20, 210, 850), "LWRB": (-20, 190, 850), "LFIN": (0, 200, 750),
    "RSHO": (0, -180, 1420), "RUPA": (-10, -200, 1270), "RELB": (-20, -200, 1100), "RFRM": (-10, -200, 980),
    "RWRA": (20, -210, 850), "RWRB": (-20, -190, 850), "RFIN": (0, -200, 750), "LASI": (100, 130, 950),
    "RASI": (100, -130, 950), "LPSI": (-100, 50, 1000), "RPSI": (-100, -50, 1000), "LTHI": (30, 160, 700),
    "LKNE": (10, 150, 500), "LTIB": (20, 140, 300), "LANK": (-10, 140, 90), "LHEE": (-60, 110, 40),
    "LTOE": (130, 110, 40), "RTHI": (30, -160, 700), "RKNE": (10, -150, 500), "RTIB": (20, -140, 300),
    "RANK": (-10, -140, 90), "RHEE": (-60, -110, 40), "RTOE": (130, -110, 40),
}  # fmt: skip


def standing_markers() -> np.ndarray:
    """(39, 3) mm in PLUG_IN_GAIT order."""
    return np.array([STANDING_MM[name] for name in PLUG_IN_GAIT], dtype=float)


def squat_markers(frames: int = 60, depth_mm: float = 350.0) -> np.ndarray:
    """(frames, 39, 3): a sagittal squat (down and up): hips and everything above drop and move back,
    knees move forward and drop half as much; nothing moves sideways."""
    phase = np.sin(np.linspace(0, np.pi, frames))[:, None]
    markers = np.repeat(standing_markers()[None], frames, axis=0)
    upper = markers[0, :, 2] >= 900
    knees = np.isin(PLUG_IN_GAIT, ["LKNE", "RKNE", "LTHI", "RTHI"])
    markers[:, upper, 2] -= depth_mm * phase
    markers[:, upper, 0] -= 0.4 * depth_mm * phase
    markers[:, knees, 0] += 0.5 * depth_mm * phase
    markers[:, knees, 2] -= 0.2 * depth_mm * phase
    return markers


def write_vicon(path: Path, markers: np.ndarray) -> Path:
    lines = [",".join(f"{value:.6f}" for value in frame.ravel()) for frame in markers]
    with gzip.open(path, "wt") as handle:
        handle.write("\n".join(lines) + "\n")
    return path


def test_standing_frame_gives_hips_between_and_below_the_pelvis_markers_and_left_is_left(tmp_path: Path) -> None:
    skeleton = load_skeleton(write_vicon(tmp_path / "standing.txt.gz", np.repeat(standing_markers()[None], 20, 0)))
    assert skeleton.positions.shape == (20, 33, 3) and skeleton.visible.all()
    frame, marker = skeleton.positions[0] * 1000, STANDING_MM
    pelvis = np.array([marker[name] for name in ("LASI", "RASI", "LPSI", "RPSI")])
    for hip in (frame[L.LEFT_HIP], frame[L.RIGHT_HIP]):
        assert pelvis[:, 0].min() < hip[0] < pelvis[:, 0].max(), "between the front and back pelvis markers"
        assert pelvis[:, 1].min() < hip[1] < pelvis[:, 1].max(), "between the left and right pelvis markers"
        assert hip[2] < pelvis[:, 2].min() - 50, "below the pelvis markers"
    assert frame[L.LEFT_HIP, 1] > 0 > frame[L.RIGHT_HIP, 1], "the left hip on the person's left (+y)"
    for left, right in (KNEE, ANKLE, SHOULDER):
        assert frame[left, 1] > 0 > frame[right, 1]
    assert 0 < frame[L.LEFT_KNEE, 1] < marker["LKNE"][1], "the knee centre is medial of the lateral marker"
    assert frame[L.LEFT_SHOULDER, 2] < marker["LSHO"][2], "the shoulder centre is below the acromion marker"
    np.testing.assert_allclose(frame[L.LEFT_WRIST], [0, 200, 850], atol=1e-3)  # mean of WRA and WRB
    assert frame[L.NOSE, 0] > frame[L.LEFT_EAR, 0] and frame[L.NOSE, 2] < marker["LFHD"][2], "nose in front, below"
    assert frame[L.LEFT_FOOT_INDEX, 0] > frame[L.LEFT_HEEL, 0], "toes in front of the heels"
    forward, left_axis = facing(skeleton)
    np.testing.assert_allclose(forward, [1, 0, 0], atol=1e-6)
    np.testing.assert_allclose(left_axis, [0, 1, 0], atol=1e-6)


def test_side_camera_sees_the_squat_depth_in_image_y_and_front_camera_keeps_the_knees_image_x(tmp_path: Path) -> None:
    skeleton = load_skeleton(write_vicon(tmp_path / "squat.txt.gz", squat_markers()))
    bottom = 30  # the deepest frame of squat_markers(60)
    side = render(skeleton, VIEWS["side"], num=60).landmarks
    front = render(skeleton, VIEWS["front"], num=60).landmarks
    hip_drop_side = side[bottom, L.LEFT_HIP, 1] - side[0, L.LEFT_HIP, 1]
    assert hip_drop_side > 0.05, "the hips go down the image (y grows downwards)"
    camera = VIEWS["side"]
    focal_x = 0.5 / np.tan(np.radians(camera.fov_deg) / 2) / camera.aspect
    expected = 0.5 * 0.350 * focal_x / camera.distance_m  # 175 mm forward at about the camera's distance
    knee_shift_side = side[bottom, L.LEFT_KNEE, 0] - side[0, L.LEFT_KNEE, 0]
    assert knee_shift_side == pytest.approx(-expected, rel=0.15), "seen from their left, they face image left"
    for knee in (L.LEFT_KNEE, L.RIGHT_KNEE):
        assert abs(front[bottom, knee, 0] - front[0, knee, 0]) < 0.005, "from the front a sagittal move keeps x"
    assert front[0, L.LEFT_KNEE, 0] > front[0, L.RIGHT_KNEE, 0], "facing the camera, the left knee is on image right"
    # BlazePose's z: relative to the hip midpoint, smaller = nearer, on x's scale
    assert front[0, L.LEFT_FOOT_INDEX, 2] < front[0, L.LEFT_HEEL, 2], "seen from the front the toes are nearer"
    np.testing.assert_allclose(front[:, [L.LEFT_HIP, L.RIGHT_HIP], 2].mean(1), 0.0, atol=1e-6)
    assert ((front[..., :2] > 0) & (front[..., :2] < 1)).all() and (front[..., 3] == 1).all()


def test_field_of_view_distance_and_aspect_scale_the_image_as_a_pinhole(tmp_path: Path) -> None:
    skeleton = load_skeleton(write_vicon(tmp_path / "standing.txt.gz", np.repeat(standing_markers()[None], 20, 0)))

    def height(camera: Camera) -> float:
        landmarks = render(skeleton, camera).landmarks[0]
        return float(landmarks[L.LEFT_HEEL, 1] - landmarks[L.NOSE, 1])

    def width(camera: Camera) -> float:
        landmarks = render(skeleton, camera).landmarks[0]
        return float(landmarks[L.LEFT_SHOULDER, 0] - landmarks[L.RIGHT_SHOULDER, 0])

    base = Camera(pitch_deg=0.0)
    assert height(Camera(pitch_deg=0.0, distance_m=7.0)) == pytest.approx(height(base) / 2, rel=0.05)
    tan = np.tan(np.radians(27.5)) / np.tan(np.radians(15.0))
    assert height(Camera(pitch_deg=0.0, fov_deg=30.0)) == pytest.approx(height(base) * tan, rel=1e-3)
    assert width(Camera(pitch_deg=0.0, aspect=9 / 16)) == pytest.approx(width(base) * (16 / 9) ** 2, rel=1e-3)
    assert render(skeleton, base).aspect == pytest.approx(16 / 9)


def test_view_augmentation_and_mirror_keep_shapes_and_the_validity_flag(tmp_path: Path) -> None:
    markers = squat_markers()
    markers[:, PLUG_IN_GAIT.index("LASI")] = 0.0  # a marker lost for good: the hips are never measured
    markers[:, PLUG_IN_GAIT.index("LSHO")][10:40] = 0.0  # and the left shoulder for half the rep
    skeleton = load_skeleton(write_vicon(tmp_path / "squat.txt.gz", markers))
    track = RandomView(skeleton, ViewAugmentation(yaw_deg=90), num=48)
    rng = np.random.default_rng(0)
    first, second = track.draw(rng), track.draw(rng)
    assert first.landmarks.shape == (48, 33, 4) and first.detected.shape == (48,)
    assert not np.allclose(first.landmarks, second.landmarks), "each sample is seen from another camera"
    assert first.aspect in ViewAugmentation().aspects
    torso = first.landmarks[:, [L.LEFT_SHOULDER, L.RIGHT_SHOULDER, L.LEFT_HIP, L.RIGHT_HIP], 3] > 0
    np.testing.assert_array_equal(first.detected, torso.sum(1) >= MIN_VISIBLE_LANDMARKS)
    assert not first.detected.all() and first.detected.any(), "no hips and no left shoulder: not a person"
    config = AugmentationConfig(mirror=1.0, temporal=True)
    sample = augment(first, config, rng)
    assert sample.landmarks.shape == (NUM_FRAMES, 33, 4)
    for name in ("original", "kinematic", "combined", "kinematic_no_arms"):
        features = sequence_features(sample, name)
        assert features.shape[1] == feature_dims(name)
        assert features.shape[0] == NUM_FRAMES and np.isfinite(features).all()
        np.testing.assert_array_equal(features[:, -1] > 0, sample.detected)
    combined = sequence_features(sample, "combined")
    np.testing.assert_array_equal(combined[:, -133:], sequence_features(sample, "original"))
    np.testing.assert_array_equal(combined[:, :35], sequence_features(sample, "kinematic")[:, :-1])
    plain = augment(first, AugmentationConfig(temporal=True), np.random.default_rng(5))
    mirrored = augment(first, config, np.random.default_rng(5))
    flipped = np.where(plain.detected[:, None], 1 - plain.landmarks[..., 0], 0)
    np.testing.assert_allclose(mirrored.landmarks[:, MIRROR_PERMUTATION, 0], flipped, atol=1e-6)


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        ("1,2,3\n" * 20, "line 1 has 3 values, expected 117"),
        (("1," * 116 + "x\n") * 20, "line 1 has a non-numeric value 'x'"),
        (("1," * 116 + "1\n") * 5, "5 frames, a repetition needs at least 16"),
    ],
)
def test_bad_vicon_files_are_one_error_naming_the_file_and_the_problem(
    tmp_path: Path, content: str, problem: str
) -> None:
    path = tmp_path / "bad.txt.gz"
    with gzip.open(path, "wt") as handle:
        handle.write(content)
    with pytest.raises(DataValidationError, match=f"{path}: {problem}"):
        load_skeleton(path)


def test_a_file_that_is_not_gzip_and_bad_generic_files_are_clear_errors(tmp_path: Path) -> None:
    (tmp_path / "plain.txt.gz").write_text("1,2,3\n")
    with pytest.raises(DataValidationError, match="plain.txt.gz: unreadable gzip text file"):
        load_skeleton(tmp_path / "plain.txt.gz")
    names = [mark.name.lower() for mark in Landmark]
    save_skeleton(tmp_path / "a.skeleton.npz", np.ones((20, 33, 3)), names, units="feet")
    with pytest.raises(DataValidationError, match="a.skeleton.npz: units 'feet' is not one of m, cm, mm"):
        load_skeleton(tmp_path / "a.skeleton.npz")
    save_skeleton(tmp_path / "b.skeleton.npz", np.ones((20, 5, 3)), names, units="m")
    with pytest.raises(DataValidationError, match=r"b.skeleton.npz: positions \(20, 5, 3\) must be"):
        load_skeleton(tmp_path / "b.skeleton.npz")
    save_skeleton(tmp_path / "c.skeleton.npz", np.ones((20, 2, 3)), ["spine", "head_top"], units="m")
    with pytest.raises(DataValidationError, match="c.skeleton.npz: no shoulder or hip among joint_names spine"):
        load_skeleton(tmp_path / "c.skeleton.npz")


def test_marker_gaps_are_interpolated_when_short_and_invisible_when_long(tmp_path: Path) -> None:
    markers = squat_markers()
    knee, ankle = PLUG_IN_GAIT.index("LKNE"), PLUG_IN_GAIT.index("RANK")
    truth = markers[20:24, knee].copy()
    markers[20:24, knee] = 0.0  # 4 frames = 0.04 s at 100 fps: filled
    markers[5:45, ankle] = np.nan  # 0.4 s: too long to make up
    markers[0:2, PLUG_IN_GAIT.index("LTOE")] = 0.0  # at the start: nothing to interpolate from
    skeleton = load_skeleton(write_vicon(tmp_path / "gaps.txt.gz", markers))
    assert skeleton.visible[20:24, L.LEFT_KNEE].all()
    medial = skeleton.positions[20:24, L.LEFT_KNEE] * 1000 - truth
    np.testing.assert_allclose(np.linalg.norm(medial, axis=1), 50.0, atol=2.0)  # the gap's true path, moved medially
    assert not skeleton.visible[5:45, L.RIGHT_ANKLE].any() and skeleton.visible[:5, L.RIGHT_ANKLE].all()
    assert not skeleton.visible[:2, L.LEFT_FOOT_INDEX].any() and skeleton.visible[2:, L.LEFT_FOOT_INDEX].all()
    assert np.isfinite(skeleton.positions).all()
    hidden = skeleton.positions[5:45, L.RIGHT_ANKLE]
    centre = np.mean([skeleton.positions[5:45][t][skeleton.visible[5:45][t]] for t in range(40)], axis=1)
    np.testing.assert_allclose(hidden, centre, atol=1e-5)  # the frame's centre, never a number from the gap
    seen = render(skeleton, VIEWS["front"], num=60)
    assert (seen.landmarks[5:45, L.RIGHT_ANKLE, 3] == 0).all() and (seen.landmarks[:5, L.RIGHT_ANKLE, 3] == 1).all()


def test_generic_npz_with_blazepose_names_in_y_up_centimetres(tmp_path: Path) -> None:
    reference = load_skeleton(write_vicon(tmp_path / "squat.txt.gz", squat_markers()))
    z_up_cm = reference.positions * 100.0
    y_up = np.stack([z_up_cm[..., 0], z_up_cm[..., 2], -z_up_cm[..., 1]], axis=-1)  # (x, up, towards -left)
    names = [mark.name.lower() for mark in Landmark] + ["spine"]
    positions = np.concatenate([y_up, np.zeros((len(y_up), 1, 3))], axis=1)
    positions[:, L.NOSE] = np.nan  # no nose
    save_skeleton(tmp_path / "k.skeleton.npz", positions, names, units="cm", fps=30.0, up_axis="y")
    generic = load_skeleton(tmp_path / "k.skeleton.npz")
    assert isinstance(generic, Skeleton3D) and generic.fps == 30.0
    seen = generic.visible[:, [mark for mark in Landmark if mark != L.NOSE]]
    assert seen.all() and not generic.visible[:, L.NOSE].any()
    np.testing.assert_allclose(generic.positions[:, L.LEFT_KNEE], reference.positions[:, L.LEFT_KNEE], atol=1e-5)
    rendered, expected = (render(skeleton, VIEWS["oblique"]).landmarks for skeleton in (generic, reference))
    np.testing.assert_allclose(rendered[:, L.LEFT_KNEE], expected[:, L.LEFT_KNEE], atol=1e-4)


def test_a_manifest_is_read_as_it_is_one_row_per_view_and_other_exercises_left_out(tmp_path: Path, caplog) -> None:
    for name in ("a", "b", "c"):
        write_vicon(tmp_path / f"{name}.txt.gz", squat_markers(40 + len(name)))
    manifest = pd.DataFrame(
        {
            "file": ["a.txt.gz", "b.txt.gz", "c.txt.gz"],
            "exercise": ["squat", "lunge", "squat"],
            "label": ["correct", "incorrect", "incorrect"],
            "subject": ["s1", "s1", "s2"],
            "split": ["train", "train", "test"],
        }
    )
    manifest.to_csv(tmp_path / "manifest.csv", index=False)
    csv, cache = str(tmp_path / "manifest.csv"), str(tmp_path / "cache")
    data = ExerciseDataModule(exercise="squat", csv=csv, cache_dir=cache, val_fraction=0.0)
    with caplog.at_level(logging.WARNING):
        data.prepare_data()
    assert "1 of 3 rows are not squat (exercise column), left out" in caplog.text
    assert not (tmp_path / "cache").exists(), "nothing to extract with MediaPipe"
    data.setup("fit")
    data.setup("test")
    train, test = data.tables["train"], data.tables["test"]
    assert train["view"].tolist() == test["view"].tolist() == ["front", "oblique", "side"]
    assert train["video"].iloc[2] == f"{tmp_path / 'a.txt.gz'}#side" and (test["score"] == 20.0).all()
    test_set = data.datasets["test"]
    assert isinstance(test_set, SequenceDataset) and test_set.features.shape == (3, NUM_FRAMES, 133)
    side, from_file = video_pose(f"{tmp_path / 'c.txt.gz'}#side")
    assert from_file and np.allclose(side.landmarks, data.sequences[test["video"].iloc[2]].landmarks)
    with pytest.raises(DataValidationError, match="unknown view 'top'"):
        video_pose(f"{tmp_path / 'c.txt.gz'}#top")


@pytest.mark.parametrize("exercise", ["squat", "lunge"])
def test_mocap_recipe_layers_on_the_exercise_config_whose_defaults_stay(
    exercise: str, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    printed = []
    for recipe in ([], ["--config", str(REPO / "mocap.yaml")]):
        with pytest.raises(SystemExit):
            run_in(["fit", "--config", str(REPO / f"{exercise}.yaml"), *recipe, "--print_config"], tmp_path)
        printed.append(yaml.safe_load(capsys.readouterr().out))
    plain, mocap = printed
    assert plain["data"]["view_augmentation"] is None and plain["data"]["feature_set"] == "original"
    assert plain["model"]["backbone"] == "bilstm" and plain["data"]["views"] is None
    assert mocap["data"]["exercise"] == exercise and mocap["data"]["view_augmentation"]["yaw_deg"] == 90.0
    assert (mocap["model"]["backbone"], mocap["data"]["feature_set"], mocap["data"]["val_fraction"]) == (
        "tcn",
        "kinematic",
        0.0,
    )


@pytest.mark.slow
def test_cv_runs_end_to_end_on_real_mocap_reps_with_figures_per_view(tmp_path: Path) -> None:
    """mocap.yaml on 12 real squat reps of 3 subjects, 3 folds by subject, two epochs."""
    manifest = REAL_MOCAP / "manifest.csv"
    if not manifest.is_file():
        pytest.skip(f"{REAL_MOCAP} is absent (team material, not part of the project)")
    rows = pd.read_csv(manifest)
    rows = rows[rows["subject"].isin(["s01", "s02", "s04"])].groupby(["subject", "label"]).head(2)
    rows = pd.concat([rows, pd.read_csv(manifest).query("exercise == 'lunge'").head(2)])
    rows.assign(file=[str(REAL_MOCAP / file) for file in rows["file"]]).to_csv(tmp_path / "subset.csv", index=False)
    run = tmp_path / "run"
    args = ["cv", "--config", str(REPO / "squat.yaml"), "--config", str(REPO / "mocap.yaml")]
    args += ["--data.csv", str(tmp_path / "subset.csv"), "--data.cache_dir", str(tmp_path / "cache"), "--folds", "3"]
    args += ["--trainer.max_epochs", "2", "--trainer.accelerator", "cpu", "--run_dir", str(run)]
    assert run_in(args, tmp_path) == 0
    oof = pd.read_csv(run / "oof_predictions.csv")
    assert len(oof) == 12 * 3 and sorted(oof["view"].unique()) == ["front", "oblique", "side"]
    assert (oof.groupby("group")["fold"].nunique() == 1).all() and oof["fold"].nunique() == 3
    assert oof[["model", "majority", "random_forest"]].apply(lambda c: c.between(0, 100)).all().all()
    by_view = pd.read_csv(run / "summary_by_view.csv")
    assert len(by_view) == 9 and set(by_view["view"]) == set(VIEWS)
    assert by_view[["roc_auc_mean", "accuracy_mean"]].notna().all().all()
    summary = json.loads((run / "summary.json").read_text())
    assert summary["clips"] == 36 and summary["groups"] == 3 and "side/model" in summary["by_view"]
