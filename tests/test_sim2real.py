"""The sim-to-real benchmark end to end on a few real clips: trained on the demo data alone, scored on
real push-ups, motion-capture squats through the virtual cameras and real squat videos (skips without
../shared)."""

import importlib.util
from pathlib import Path

import pandas as pd
import pytest
from conftest import REPO

SHARED = REPO.parent / "shared"


@pytest.mark.skipif(not (SHARED / "real_pushups").is_dir(), reason="needs ../shared")
def test_the_benchmark_scores_real_data_with_demo_trained_models(demo_data_dir: Path, tmp_path: Path) -> None:
    spec = importlib.util.spec_from_file_location("sim2real", REPO / "benchmarks" / "sim2real.py")
    assert spec is not None and spec.loader is not None
    sim2real = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(sim2real)
    out = tmp_path / "rows.csv"
    argv = ["--data_dir", str(demo_data_dir), "--exercises", "pushup", "squat", "--seeds", "1"]
    argv += ["--setups", "sim", "--limit", "4", "--max_epochs", "1", "--out", str(out)]
    assert sim2real.main(argv) == 0
    everything = pd.read_csv(out)
    assert set(everything["setup"]) == {"sim", "majority", "random_forest"}  # the baselines beside the network
    majority = everything[(everything["setup"] == "majority") & (everything["data"] == "real_pushups")].iloc[0]
    assert majority["roc_auc"] == 0.5 and majority["mean_correct"] == majority["mean_incorrect"]
    rows = everything[everything["setup"] == "sim"]
    pushups = rows[rows["data"] == "real_pushups"].iloc[0]
    assert pushups["n"] == 4 and 0.0 <= pushups["roc_auc"] <= 1.0 and 0.0 <= pushups["accuracy"] <= 1.0
    mocap = rows[rows["data"] == "real_mocap"].set_index("view")
    assert set(mocap.index) == {"front", "oblique", "side", "all"} and mocap.loc["all", "n"] == 12  # 4 reps x 3
    footage = rows[rows["data"] == "real_footage_squats"].iloc[0]
    assert (
        footage["n"] == 4
        and 0.0 <= footage["mean_correct"] <= 100.0
        and len(str(footage["incorrect_ranks"]).split()) == 2
    )
