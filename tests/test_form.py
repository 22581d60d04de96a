"""Form measurements, reference ranges and feedback: constructed poses with known answers, views that
cannot show a measurement, ranges through the checkpoint and the artifact metadata, feedback ordering,
live == offline, and a real clip end to end (skips without ../shared)."""

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from conftest import REPO, FitRun, SquatExport

from demo.sessions import SESSION_FPS, make_session
from preprocessing.cache import PoseSequence
from preprocessing.constants import NUM_FRAMES
from preprocessing.errors import DataValidationError
from preprocessing.form import (
    MIN_RANGE_REPS,
    NOT_SEEN,
    Measured,
    View,
    check_ranges,
    learn_ranges,
    measure,
    read_ranges,
    write_ranges,
)
from preprocessing.landmarks import Landmark
from serving.artifact import ArtifactError
from serving.feedback import MAX_ITEMS, check_form, rep_form
from serving.live import LiveSession
from serving.reps import segment
from serving.results import to_json
from serving.scorer import Scorer
from serving.sets import rep_results

L = Landmark
SHARED = REPO.parent / "shared"


def still(points: dict[str, tuple[float, float, float]], frames: int = NUM_FRAMES) -> PoseSequence:
    """A pose held for ``frames`` samples: ``points`` maps a landmark name to (x, y, z); every landmark
    visible, aspect 1."""
    landmarks = np.zeros((frames, len(Landmark), 4), np.float32)
    landmarks[:, :, :2] = 0.5
    landmarks[:, :, 3] = 1.0
    for name, xyz in points.items():
        landmarks[:, Landmark[name], :3] = xyz
    return PoseSequence(landmarks, np.ones(frames, bool), np.arange(frames), frames, aspect=1.0)


def side_view(**points: tuple[float, float]) -> PoseSequence:
    """Both sides of each named part (``hip=(x, y)``) at one image point, the left one nearer the camera
    (shoulder and hip lines along the line of sight: a side view)."""
    placed = {}
    for part, (x, y) in points.items():
        for side, z in (("LEFT", -0.1), ("RIGHT", 0.1)):
            placed[f"{side}_{part.upper()}"] = (x, y, z)
    return still(placed)


def values(sequence: PoseSequence, exercise: str, seconds: float | None = None) -> tuple[str, dict[str, Measured]]:
    view, measured = measure(sequence, exercise, seconds)
    return view, {item.name: item for item in measured}


SQUAT_90 = {  # hips at knee height, thighs horizontal, shanks vertical, trunk upright
    "shoulder": (0.5, 0.2),
    "hip": (0.5, 0.5),
    "knee": (0.65, 0.5),
    "ankle": (0.65, 0.65),
    "heel": (0.62, 0.67),
    "foot_index": (0.72, 0.67),
}


def test_a_90_degree_knee_reads_90_from_the_side() -> None:
    view, found = values(side_view(**SQUAT_90), "squat", seconds=2.5)
    assert view == "side"
    assert found["knee_angle"].value == pytest.approx(90.0, abs=0.01)
    assert found["hip_above_knee"].value == pytest.approx(0.0, abs=0.01)  # hips exactly at knee height
    assert found["trunk_lean"].value == pytest.approx(0.0, abs=0.01)  # shoulders straight above the hips
    assert found["duration"].value == 2.5
    for name in ("knee_gap", "hip_tilt"):  # across a side camera's line of sight: not a number
        assert found[name].value is None and found[name].reason == "a side view cannot show it"


def test_a_straight_body_line_reads_0_sag_and_a_sagging_one_below_0() -> None:
    plank = {"shoulder": (0.3, 0.5), "elbow": (0.3, 0.6), "wrist": (0.3, 0.7), "hip": (0.5, 0.5), "ankle": (0.8, 0.5)}
    view, found = values(side_view(**plank), "pushup")
    assert view == "side"
    assert found["hip_line"].value == pytest.approx(0.0, abs=0.01)
    assert found["lockout"].value == pytest.approx(180.0, abs=0.01)  # straight arms
    sagging = values(side_view(**{**plank, "hip": (0.5, 0.55)}), "pushup")[1]["hip_line"].value
    piked = values(side_view(**{**plank, "hip": (0.5, 0.45)}), "pushup")[1]["hip_line"].value
    assert sagging == pytest.approx(-10.0, abs=0.01) and piked == pytest.approx(10.0, abs=0.01)  # 0.05 of 0.5


def test_a_front_view_reports_knee_travel_and_no_knee_angle() -> None:
    front = still(
        {
            "LEFT_SHOULDER": (0.42, 0.2, 0.0),
            "RIGHT_SHOULDER": (0.58, 0.2, 0.0),
            "LEFT_HIP": (0.45, 0.5, 0.0),
            "RIGHT_HIP": (0.55, 0.5, 0.0),
            "LEFT_KNEE": (0.47, 0.65, 0.0),
            "RIGHT_KNEE": (0.53, 0.65, 0.0),
            "LEFT_ANKLE": (0.44, 0.8, 0.0),
            "RIGHT_ANKLE": (0.56, 0.8, 0.0),
        }
    )
    view, found = values(front, "squat")
    assert view == "front"
    assert found["knee_gap"].value == pytest.approx(50.0, abs=0.01)  # knees 0.06 apart, ankles 0.12
    assert found["hip_tilt"].value == pytest.approx(0.0, abs=0.01)
    assert found["knee_angle"].value is None and found["knee_angle"].reason == "a front view cannot show it"
    assert found["duration"].reason == "its frame times are unknown"


def test_unseen_landmarks_and_an_absent_person_are_not_measurable() -> None:
    sequence = side_view(**SQUAT_90)
    for mark in (L.LEFT_KNEE, L.RIGHT_KNEE):
        sequence.landmarks[:, mark, 3] = 0.2
    found = values(sequence, "squat")[1]
    assert found["knee_angle"].value is None and found["knee_angle"].reason == NOT_SEEN
    assert found["trunk_lean"].value == pytest.approx(0.0, abs=0.01)  # its landmarks are still seen
    absent = side_view(**SQUAT_90)
    absent.detected[:10] = False
    assert all(item.value is None and "fewer than 8" in str(item.reason) for item in measure(absent, "squat", 2.0)[1])


def measured(knee: float, **others: float) -> list[Measured]:
    return [Measured("knee_angle", "°", knee), *(Measured(name, "", value) for name, value in others.items())]


def test_ranges_come_from_good_reps_per_view_only() -> None:
    reps: list[tuple[View, list[Measured]]] = [("side", measured(90.0 + k)) for k in range(20)]
    bad: list[tuple[View, list[Measured]]] = [("side", measured(150.0))] * 20
    front: list[tuple[View, list[Measured]]] = [("front", measured(10.0))] * (MIN_RANGE_REPS - 1)
    reps += bad + front
    ranges = learn_ranges("squat", reps, [90.0] * 20 + [20.0] * 20 + [95.0] * (MIN_RANGE_REPS - 1), "test")
    knee = ranges["measurements"]["knee_angle"]
    assert set(knee) == {"side"}  # too few good front reps for a range
    assert knee["side"]["count"] == 20 and knee["side"]["median"] == pytest.approx(99.5)
    assert 90.0 <= knee["side"]["low"] < 91.0 and 108.0 < knee["side"]["high"] <= 109.0  # the bad reps' 150 left out
    assert ranges["good_reps"] == 29 and check_ranges(ranges, "squat", "x") is None


def test_range_files_round_trip_and_bad_ones_name_the_file(tmp_path: Path) -> None:
    reps: list[tuple[View, list[Measured]]] = [("side", measured(90.0 + k)) for k in range(13)]
    ranges = learn_ranges("squat", reps, [90.0] * 13, "t")
    write_ranges(tmp_path / "r.json", ranges)
    assert read_ranges(tmp_path / "r.json", "squat") == ranges
    with pytest.raises(DataValidationError, match="for 'squat', not pushup"):
        read_ranges(tmp_path / "r.json", "pushup")
    broken = {**ranges, "measurements": {"knee_angle": {"side": {"low": 3.0, "median": 2.0, "high": 1.0}}}}
    (tmp_path / "bad.json").write_text(json.dumps(broken))
    with pytest.raises(DataValidationError, match=r"bad\.json: form_ranges.knee_angle.side needs finite low"):
        read_ranges(tmp_path / "bad.json")
    (tmp_path / "text.json").write_text("not json")
    with pytest.raises(DataValidationError, match=r"text\.json: not a readable form-range file"):
        read_ranges(tmp_path / "text.json")


RANGES = {
    "exercise": "squat",
    "measurements": {
        "knee_angle": {"side": {"low": 60.0, "median": 70.0, "high": 80.0}},
        "trunk_lean": {"side": {"low": 10.0, "median": 20.0, "high": 30.0}},
        "hip_above_knee": {"side": {"low": -20.0, "median": -10.0, "high": 0.0}},
        "heel_lift": {"side": {"low": 0.0, "median": 5.0, "high": 10.0}},
        "duration": {"side": {"low": 2.0, "median": 3.0, "high": 5.0}},
    },
}


def test_feedback_ranks_the_furthest_outside_first_and_keeps_three() -> None:
    reps = measured(100.0, trunk_lean=35.0, hip_above_knee=30.0, heel_lift=11.0, duration=1.0)
    check = check_form(reps, "side", "squat", RANGES)
    # beyond the bound in half-widths: hips 30/10, knee 20/10, duration 1/1, trunk 5/10, heels 1/5
    assert [item.measurement for item in check.feedback] == ["hip_above_knee", "knee_angle", "duration"]
    assert len(check.feedback) == MAX_ITEMS and check.summary == "3 to fix"
    assert [item.outside for item in check.feedback] == [3.0, 2.0, 1.0]
    assert check.feedback[1].text == "not deep enough: knees bent to 100°; good reps here reach 80° or less"
    assert check.feedback[2].text == "too fast: 1.0 s for the rep; good reps here take 2.0 s or more"
    within = check_form(measured(75.0, trunk_lean=20.0), "side", "squat", RANGES)
    assert within.feedback == [] and within.summary == "within the good reps' ranges (2 measurements, side view)"
    assert check_form(measured(100.0), "front", "squat", RANGES).summary.startswith("no measurement with a reference")
    assert check_form(measured(100.0), "side", "squat", None).summary == "no form reference ranges in this model"
    row = check.measurements[0]
    assert (row.name, row.value, row.good_range) == ("knee_angle", 100.0, [60.0, 70.0, 80.0])


def test_live_gives_the_offline_feedback_as_each_rep_closes() -> None:
    session = make_session("squat", 0, reps=3, faults=[{"depth": 0.3}] * 3)
    sequence = session.sequence

    def form(sample: PoseSequence, seconds: float | None):
        return rep_form(sample, "squat", seconds, RANGES)

    reps, _ = segment(sequence, "squat", SESSION_FPS)
    offline = rep_results(sequence, reps, SESSION_FPS, lambda samples: [50.0] * len(samples), form=form)
    live = LiveSession("squat", SESSION_FPS, lambda samples: [50.0] * len(samples), form=form)
    frame = np.zeros((int(100 / sequence.aspect), 100, 3), np.uint8) if sequence.aspect else np.zeros((100, 100, 3))
    for index in range(len(sequence.detected)):
        live.push(index, frame, sequence.landmarks[index] if sequence.detected[index] else None)
    live.finish()
    assert len(offline) == 3 and live.reps == offline
    assert all(rep.form is not None and rep.form.view in ("front", "oblique", "side") for rep in offline)


def test_fit_stores_ranges_and_the_scorer_gives_feedback(squat_fit: FitRun, demo_data_dir: Path) -> None:
    artifact = squat_fit.workdir / "checkpoints" / "squat_scorer.onnx"
    ranges = json.loads(artifact.with_suffix(".meta.json").read_text())["form_ranges"]
    assert ranges["exercise"] == "squat" and ranges["source"].startswith("train rows of")
    assert ranges["good_reps"] >= 20 and "knee_angle" in ranges["measurements"]
    scorer = Scorer(artifact)
    video = sorted((demo_data_dir / "squats_test").glob("*.pose.npz"))[0]
    features, facts = scorer.features(str(video), None)
    assert facts.form is not None and facts.form.summary
    document = to_json(facts)
    assert {row["name"] for row in document["form"]["measurements"]} >= {"knee_angle", "duration"}
    assert document["form"]["view"] in ("front", "oblique", "side")


def test_an_artifact_with_bad_form_ranges_is_refused(squat_export: SquatExport, tmp_path: Path) -> None:
    folder = tmp_path / "set"
    folder.mkdir()
    for path in squat_export.out_dir.iterdir():
        if not path.name.startswith("."):
            (shutil.copytree if path.is_dir() else shutil.copy2)(path.resolve(), folder / path.name)
    meta = folder / "squat_scorer.meta.json"
    meta.write_text(
        json.dumps({**json.loads(meta.read_text()), "form_ranges": {"exercise": "lunge", "measurements": {}}})
    )
    with pytest.raises(ArtifactError, match=r"squat_scorer.meta.json: form_ranges are for 'lunge', not squat"):
        Scorer(folder / "squat_scorer.onnx")
    with pytest.raises(ArtifactError, match=r"is a squat model; the form ranges given are lunge's"):
        Scorer(squat_export.out_dir / "squat_scorer.onnx", form_ranges={"exercise": "lunge", "measurements": {}})


@pytest.mark.skipif(not (SHARED / "real_footage").is_dir(), reason="needs ../shared/real_footage")
def test_feedback_on_a_real_squat_clip(squat_fit: FitRun, capsys: pytest.CaptureFixture, tmp_path: Path) -> None:
    from serving.command import main

    clip = sorted((SHARED / "real_footage" / "squats" / "incorrect").glob("*.mp4"))[0]
    artifact = squat_fit.workdir / "checkpoints" / "squat_scorer.onnx"
    assert main([str(clip), "--model", str(artifact), "--json", "--cache_dir", str(tmp_path)]) == 0
    form = json.loads(capsys.readouterr().out)["results"][0]["form"]
    measured_values = [row["value"] for row in form["measurements"] if row["value"] is not None]
    assert measured_values and form["view"] in ("front", "oblique", "side")
    assert form["summary"] and all(item["text"] for item in form["feedback"])


def test_the_annotated_frames_show_the_reps_feedback() -> None:
    from serving.render import overlay_lines
    from serving.results import RepResult

    check = check_form(measured(100.0, trunk_lean=35.0), "side", "squat", RANGES)
    rep = RepResult(1, 0, 10, 20, 0.0, 0.67, 0.3, 61.0, 16, 16, form=check)
    lines = overlay_lines([], True, False, current=rep)  # on the rep's own frames
    assert lines[-2:] == [
        "fix: not deep enough: knees bent to 100 deg; good reps here reach 80 deg or less",
        "fix: keep your chest up: trunk 35 deg from vertical at the bottom; good reps here stay within 30 deg",
    ]
    assert overlay_lines([rep], False, False)[-2:] == lines[-2:]  # live: the last closed rep's


def test_the_ranges_command_learns_a_data_sets_ranges_and_names_a_missing_csv(
    demo_data_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    from preprocessing.reference import ranges

    out = tmp_path / "squat_ranges.json"
    assert ranges(demo_data_dir / "squat_scores.csv", out, data_dir=demo_data_dir, cache_dir=tmp_path / "cache") == 0
    learned = read_ranges(out, "squat")
    assert learned["source"].startswith("train split of") and learned["good_reps"] >= 20
    assert "knee_angle" in learned["measurements"] and "ranges of" in capsys.readouterr().out
    with pytest.raises(DataValidationError, match=r"missing\.csv: no such CSV file"):
        ranges(tmp_path / "missing.csv", out)


def test_long_overlay_lines_wrap_to_the_frame() -> None:
    import cv2

    from serving.render import wrapped

    line = "fix: too fast: 1.2 s for the rep; good reps here take 2.0 s or more"
    lines = wrapped(["reps: 1", line], 600, 1.28)
    assert lines[0] == "reps: 1" and len(lines) > 2  # the long line continues below
    assert " ".join(part.strip() for part in lines[1:]) == line
    assert all(cv2.getTextSize(part, cv2.FONT_HERSHEY_SIMPLEX, 1.28, 6)[0][0] <= 600 for part in lines)
    assert wrapped([line], 5000, 1.28) == [line]


def test_the_annotated_video_draws_each_reps_feedback_on_its_frames(tmp_path: Path) -> None:
    import cv2
    from conftest import write_astronaut_set

    from preprocessing.pose import PoseSettings
    from serving.render import write_annotated
    from serving.sets import score_session

    video = tmp_path / "set.avi"
    write_astronaut_set(video, bumps=2)
    check = check_form(measured(100.0), "side", "squat", RANGES)  # one item, drawn on every rep

    def scored(form):
        return score_session(video, "pushup", lambda s: [50.0] * len(s), PoseSettings(), tmp_path, form=form)

    with_items, without = scored(lambda *_: check), scored(None)
    assert len(with_items.result.reps) == 2 and with_items.result.reps[0].form == check
    frames = {}
    for name, run in (("with", with_items), ("without", without)):
        write_annotated(video, tmp_path / f"{name}.mp4", run.result, run.stream)
        capture = cv2.VideoCapture(str(tmp_path / f"{name}.mp4"))
        frames[name] = [capture.read()[1] for _ in range(int(capture.get(cv2.CAP_PROP_FRAME_COUNT)))]
        capture.release()
    rep = with_items.result.reps[0]
    inside, before = (rep.start_frame + rep.end_frame) // 2, max(rep.start_frame - 5, 0)
    assert len(frames["with"]) == len(frames["without"]) > rep.end_frame
    assert np.abs(frames["with"][inside].astype(int) - frames["without"][inside]).sum() > 0  # the fix line
    assert np.array_equal(frames["with"][before], frames["without"][before])  # before any rep: nothing
