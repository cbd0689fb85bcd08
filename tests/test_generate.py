"""Generator contract on the ``tiny`` preset: layout, schema, funnel consistency, truth, determinism, bad input."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from recsys.data.dataset import Dataset
from recsys.data.schema import FORMAT_VERSION, SCHEMAS
from recsys.data.synthetic import GroundTruth, generate, generate_preset
from recsys.data.synthetic.generate import compose_config
from recsys.data.validate import validate_table
from recsys.io import OutputExistsError

STAGES = ("view", "apply", "interview", "hire")


def read(data_dir: Path, name: str) -> pd.DataFrame:
    return pd.read_parquet(data_dir / f"{name}.parquet")


# closings and fair attendance are published by the worlds that hide post-hoc facts (realistic, the default, and
# hard); the easy world writes neither, and keeps the post-hoc facts in its public tables
WORLD_TABLES = ("job_events", "event_listings", "event_attendance")


@pytest.mark.parametrize("world", ["realistic", "easy"])
def test_layout_and_manifest(world: str, tiny_data_dir: Path, request: pytest.FixtureRequest) -> None:
    data_dir = tiny_data_dir if world == "realistic" else request.getfixturevalue("tiny_easy_data_dir")
    manifest = json.loads((data_dir / "manifest.json").read_text())
    assert manifest["world"] == world
    for name in SCHEMAS:
        assert (data_dir / f"{name}.parquet").is_file() == (world == "realistic" or name not in WORLD_TABLES), name
    for name in ("calibration.json", "calibration.md", "README.md", "manifest.json"):
        assert (data_dir / name).is_file(), name
    truth_files = sorted(p.name for p in (data_dir / "truth").iterdir())
    assert truth_files == ["jobs.npz", *(["post_hoc.npz"] if world == "realistic" else []), "seekers.npz",
                           "trainings.npz", "weights.json"]
    assert manifest["format_version"] == FORMAT_VERSION and manifest["preset"] == "tiny" and manifest["seed"] == 0
    end = np.datetime64(manifest["end"])
    assert np.datetime64(manifest["split_date"]) == end - np.timedelta64(30, "D")
    assert end - np.datetime64(manifest["start"]) == np.timedelta64(manifest["days"], "D")
    for name in SCHEMAS:
        if (data_dir / f"{name}.parquet").is_file():
            assert manifest["row_counts"][name] == len(read(data_dir, name)), name


def test_every_table_follows_the_schema(tiny_data_dir: Path) -> None:
    for name, table_schema in SCHEMAS.items():  # the default (realistic) world writes every table
        validate_table(read(tiny_data_dir, name), table_schema)
    dataset = Dataset.load(tiny_data_dir)
    assert len(dataset.seekers) == 1000


def test_places_and_fair_aggregates(tiny_data_dir: Path, tiny_easy_data_dir: Path) -> None:
    points = read(tiny_data_dir, "service_points")
    assert (points["kind"] == "station").sum() == 342 and (points["kind"] == "gig_market").sum() == 29
    assert points["name"].str.contains("洪桥").sum() >= 2 and points["name"].str.contains("狮岭").any()
    for data_dir in (tiny_data_dir, tiny_easy_data_dir):
        events = read(data_dir, "events")
        assert {"n_employers", "n_positions", "n_seekers_served"} <= set(events.columns)
        assert "| basis |" in (data_dir / "calibration.md").read_text()
        assert "by construction" in (data_dir / "README.md").read_text()
    # easy: every fair aggregate is drawn at the published ratios, so every row holds by construction
    easy = json.loads((tiny_easy_data_dir / "calibration.json").read_text())
    assert easy["all_passed"], [r for r in easy["rows"] if not r["passed"]]
    basis = {r["name"]: r["basis"] for r in easy["rows"]}
    assert basis["employment_stations"] == "exact" and basis["gig_fair_positions_per_seeker"] == "construction"
    assert (read(tiny_easy_data_dir, "events")["n_positions"] >= read(tiny_easy_data_dir, "events")["n_employers"]).all()
    # realistic (the default): fair aggregates are counted from the simulation and may miss their targets
    # (all_passed is then false), while the rows set by construction still hold
    realistic = json.loads((tiny_data_dir / "calibration.json").read_text())
    basis = {r["name"]: r["basis"] for r in realistic["rows"]}
    assert basis["employment_stations"] == "exact" and basis["gig_fair_n_positions"] == "emergent"
    assert realistic["construction_passed"]
    assert realistic["all_passed"] == all(r["passed"] for r in realistic["rows"])


def test_jobs_have_chinese_text_and_consistent_terms(tiny_data_dir: Path, tiny_easy_data_dir: Path) -> None:
    jobs = read(tiny_data_dir, "jobs")
    assert jobs["occupation"].nunique() >= 30
    assert jobs["description"].str.contains("招聘").all() and jobs["title"].str.len().gt(0).all()
    assert (jobs["wage_max"] > jobs["wage_min"]).all() and (jobs["vacancies"] >= 1).all()
    assert (jobs["expires_at"] > jobs["posted_at"]).all()
    # realistic publishes the planned expiry and closes postings in job_events, never after it; easy publishes
    # the actual close beside the planned expiry
    assert "planned_expires_at" not in jobs.columns
    closings = read(tiny_data_dir, "job_events").merge(jobs[["job_id", "expires_at"]], on="job_id")
    assert len(closings) > 0 and (closings["ts"] <= closings["expires_at"]).all()
    easy_jobs = read(tiny_easy_data_dir, "jobs")
    assert (easy_jobs["expires_at"] > easy_jobs["posted_at"]).all()
    assert (easy_jobs["expires_at"] <= easy_jobs["planned_expires_at"]).all()
    start = np.datetime64(json.loads((tiny_data_dir / "manifest.json").read_text())["start"], "ns")
    fair = jobs["channel"].isin(["key_enterprise_fair", "graduate_fair"]) & (jobs["posted_at"] >= start)
    assert jobs.loc[fair, "event_id"].notna().all() and jobs.loc[jobs["channel"] == "online", "event_id"].isna().all()
    assert jobs["age_max"].notna().any() and jobs["age_max"].isna().any()


def test_funnel_implies_earlier_stages_and_respects_windows(tiny_data_dir: Path) -> None:
    inter = read(tiny_data_dir, "interactions")
    assert set(inter["event"]) == set(STAGES)
    for earlier, later in zip(STAGES, STAGES[1:], strict=False):
        first_earlier = inter[inter["event"] == earlier].groupby(["seeker_id", "job_id"])["ts"].min()
        rows = inter[inter["event"] == later]
        before = first_earlier.reindex(pd.MultiIndex.from_frame(rows[["seeker_id", "job_id"]]))
        assert before.notna().all(), f"{later} without {earlier}"
        assert (before.to_numpy() <= rows["ts"].to_numpy()).all(), f"{later} before {earlier}"
    jobs = read(tiny_data_dir, "jobs").set_index("job_id")
    seekers = read(tiny_data_dir, "seekers").set_index("seeker_id")
    ts = inter["ts"].to_numpy()
    assert (jobs.loc[inter["job_id"], "posted_at"].to_numpy() <= ts).all()
    assert (ts < jobs.loc[inter["job_id"], "expires_at"].to_numpy()).all()
    assert (seekers.loc[inter["seeker_id"], "registered_at"].to_numpy() <= ts).all()
    hires = inter[inter["event"] == "hire"].groupby("job_id").size()
    assert (hires <= jobs.loc[hires.index, "vacancies"]).all()
    assert not inter[inter["event"] == "apply"].duplicated(["seeker_id", "job_id"]).any()


def test_ground_truth_expected_utility(tiny_data_dir: Path) -> None:
    truth = GroundTruth.load(tiny_data_dir)
    seekers = read(tiny_data_dir, "seekers")["seeker_id"].tolist()[:7]
    jobs = read(tiny_data_dir, "jobs")["job_id"].tolist()[:11]
    total = truth.expected_utility(seekers, jobs)
    assert total.shape == (7, 11) and np.isfinite(total).all()
    parts = truth.expected_utility(seekers, jobs, part="observable") + truth.expected_utility(seekers, jobs, part="latent")
    np.testing.assert_allclose(total, parts, rtol=1e-5, atol=1e-5)
    assert np.std(total) > 0
    with pytest.raises(ValueError, match="part"):
        truth.expected_utility(seekers, jobs, part="noise")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="at"):
        truth.expected_utility(seekers, jobs, at=np.array(["2024-01-01"] * 3, dtype="datetime64[ns]"))


def test_completed_training_raises_utility_from_its_end(tiny_data_dir: Path) -> None:
    truth = GroundTruth.load(tiny_data_dir)
    seeker_bits, job_bits = truth.seekers.bits, truth.jobs.bits
    checked = 0
    for t in range(len(truth.training_seeker)):
        row, skill = int(truth.training_seeker[t]), int(truth.training_skill[t])
        word, bit = skill // 64, np.uint64(1) << np.uint64(skill % 64)
        needs = np.flatnonzero(job_bits[:, word] & bit)
        if seeker_bits[row, word] & bit or len(needs) == 0:
            continue
        seeker, end = [str(truth.seeker_ids[row])], truth.training_end[t]
        same = (truth.training_seeker == row) & (truth.training_skill == skill) & (truth.training_end < end)
        if same.any():
            continue
        jobs = truth.job_ids[needs].tolist()
        base = truth.expected_utility(seeker, jobs, at=None, part="observable")
        before = truth.expected_utility(seeker, jobs, at=end - np.timedelta64(1, "s"), part="observable")
        after = truth.expected_utility(seeker, jobs, at=np.array([end]), part="observable")
        assert (before >= base - 1e-6).all()
        assert (after > before).all()
        checked += 1
    assert checked > 0


def _frames(data_dir: Path) -> dict[str, pd.DataFrame]:
    return {name: read(data_dir, name) for name in SCHEMAS if (data_dir / f"{name}.parquet").is_file()}


@pytest.mark.slow
def test_same_seed_same_tables_other_seed_different(tiny_data_dir: Path, tmp_path: Path) -> None:
    again = generate_preset("tiny", tmp_path / "again", seed=0)
    other = generate_preset("tiny", tmp_path / "other", seed=1)
    first, second, third = _frames(tiny_data_dir), _frames(again), _frames(other)
    for name in first:
        assert first[name].equals(second[name]), name
    assert not first["interactions"].equals(third["interactions"])
    assert not first["seekers"].equals(third["seekers"])


def test_existing_out_dir_is_replaced_atomically(tmp_path: Path) -> None:
    out = tmp_path / "data"
    out.mkdir()
    (out / "stale.txt").write_text("old")
    with pytest.raises(OutputExistsError, match="overwrite"):  # not a dataset: refused without overwrite
        generate_preset("tiny", out, seed=3, n_seekers=200, n_jobs=100)
    assert (out / "stale.txt").read_text() == "old"
    generate_preset("tiny", out, seed=3, n_seekers=200, n_jobs=100, overwrite=True)
    assert not (out / "stale.txt").exists() and (out / "manifest.json").is_file()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["data"]  # no temp or old dirs left behind


@pytest.mark.parametrize(("overrides", "field"), [
    ({"n_seekers": -5}, "data.n_seekers"),
    ({"n_jobs": 0}, "data.n_jobs"),
    ({"seeker_segments__gig": 0.5}, "data.seeker_segments"),
    ({"job_channels__online": 0.9}, "data.job_channels"),
    ({"initial_seeker_share": 1.5}, "data.initial_seeker_share"),
])
def test_bad_parameters_fail_before_writing(tmp_path: Path, overrides: dict, field: str) -> None:
    out = tmp_path / "out"
    with pytest.raises(ValueError, match=field.replace(".", r"\.")):
        generate_preset("tiny", out, **overrides)
    assert list(tmp_path.iterdir()) == []


def test_unknown_preset_and_file_out_dir_fail(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="unknown preset 'huge'"):
        generate_preset("huge", tmp_path / "x")
    afile = tmp_path / "afile"
    afile.write_text("keep")
    with pytest.raises(ValueError, match="out_dir"):
        generate_preset("tiny", afile)
    cfg = compose_config("tiny", tmp_path / "y")
    cfg.out_dir = str(afile)
    with pytest.raises(ValueError, match="out_dir"):
        generate(cfg)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["afile"] and afile.read_text() == "keep"


def test_cli_writes_a_dataset(tmp_path: Path) -> None:
    out = tmp_path / "cli"
    result = subprocess.run(
        [sys.executable, "-m", "recsys.cli.generate", "data=tiny", "seed=2", f"out_dir={out}", "data.n_seekers=300",
         "data.n_jobs=150", "progress=false", f"hydra.run.dir={tmp_path / 'hydra'}"],
        capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stderr
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["seed"] == 2 and manifest["row_counts"]["seekers"] == 300


def test_stale_dataset_is_detected_and_regenerated_by_make_run(tmp_path: Path) -> None:
    from omegaconf import OmegaConf

    from recsys.cli.run import ensure_data
    from recsys.data.synthetic.generate import compose_config, stale_reason

    out = tmp_path / "tiny"
    cfg = compose_config("tiny", out, seed=0)
    assert stale_reason(out, cfg) == "no dataset there"
    generate(cfg)
    assert stale_reason(out, cfg) is None
    assert "seed" in stale_reason(out, compose_config("tiny", out, seed=1))
    assert "['n_seekers']" in stale_reason(out, compose_config("tiny", out, seed=0, n_seekers=900))
    # a manifest from before fingerprints (or from another generator version) is stale; ensure_data
    # (what `make run` calls) regenerates it, and leaves a current dataset alone
    manifest_path = out / "manifest.json"
    manifest = json.loads(manifest_path.read_text())
    del manifest["fingerprint"]
    manifest_path.write_text(json.dumps(manifest))
    assert "older generator" in stale_reason(out, cfg)
    run_cfg = OmegaConf.create({"data": cfg.data, "seed": 0, "data_dir": str(out)})
    ensure_data(run_cfg)
    assert stale_reason(out, cfg) is None
    written = manifest_path.stat().st_mtime_ns
    ensure_data(run_cfg)
    assert manifest_path.stat().st_mtime_ns == written
