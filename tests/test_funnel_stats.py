"""Emergent funnel figures on hand-made tables whose answers are known, and the utility breakdown."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from recsys.data.synthetic import GroundTruth
from recsys.data.synthetic import funnel_stats as fs

START, END = np.datetime64("2024-01-01", "ns"), np.datetime64("2024-04-01", "ns")
SPLIT = END - np.timedelta64(30, "D")
CENTRE = (23.13, 113.26)
KM_LAT = 1 / 111.2  # degrees of latitude per km (planar_km's scale, near enough for bands of 2 km)


def _tables() -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    seekers = pd.DataFrame({"seeker_id": ["s1", "s2", "s3", "s4"],
                            "registered_at": pd.to_datetime(["2023-12-01", "2024-01-05", "2024-01-10", "2024-02-01"]),
                            "lat": CENTRE[0], "lon": CENTRE[1]})
    jobs = pd.DataFrame({"job_id": [f"j{i}" for i in range(10)],
                         "posted_at": pd.to_datetime(["2024-01-01"] * 8 + ["2024-03-10", "2024-03-20"]),
                         "expires_at": pd.to_datetime(["2024-03-31"] * 10),
                         "lat": CENTRE[0] + np.r_[[0.5 * KM_LAT] * 5, [16 * KM_LAT] * 5],
                         "lon": CENTRE[1], "channel": "online"})
    rows = []

    def add(s: str, j: str, day: str, *events: str) -> None:
        for k, e in enumerate(events):
            rows.append((s, j, pd.Timestamp(day) + pd.Timedelta(hours=k), e, "online"))

    for k in range(20):  # 20 views without application
        add("s1", "j0", f"2024-01-{1 + k % 20:02d}", "view")
    add("s1", "j0", "2024-01-02", "view", "apply", "interview", "hire")
    add("s2", "j0", "2024-01-06", "view", "apply", "interview")
    add("s2", "j1", "2024-01-07", "view", "apply")
    add("s2", "j5", "2024-01-08", "view", "apply")  # far postings: j5 to j9
    add("s3", "j0", "2024-01-11", "view", "apply")
    add("s3", "j8", "2024-03-15", "view", "apply")  # test window, new posting
    add("s4", "j1", "2024-03-05", "view", "apply", "interview", "hire")  # test window, old posting
    add("s2", "j9", "2024-03-21", "view", "apply", "interview", "hire")  # test window, new posting
    inter = pd.DataFrame(rows, columns=["seeker_id", "job_id", "ts", "event", "channel"])
    return seekers, jobs, inter


def test_gini_known_values() -> None:
    assert fs.gini(np.array([1, 1, 1, 1])) == pytest.approx(0.0)
    assert fs.gini(np.array([0, 0, 0, 4])) == pytest.approx(0.75)  # (n - 1) / n for all in one
    assert np.isnan(fs.gini(np.zeros(3)))


def test_measure_on_known_tables() -> None:
    seekers, jobs, inter = _tables()
    v = fs.measure(seekers, jobs, inter, START, END, SPLIT)
    n_view, n_apply, n_interview, n_hire = 28, 8, 4, 3
    assert v["views_per_application"] == pytest.approx(n_view / n_apply)
    assert v["apply_to_interview"] == pytest.approx(n_interview / n_apply)
    assert v["interviews_per_hire"] == pytest.approx(n_interview / n_hire)
    assert v["applications_per_hire"] == pytest.approx(n_apply / n_hire)
    per_posting = np.array([3, 2, 0, 0, 0, 1, 0, 0, 1, 1])
    assert v["applications_per_posting_median"] == pytest.approx(np.median(per_posting))
    assert v["postings_without_application"] == pytest.approx(0.5)
    assert v["top10_share_of_applications"] == pytest.approx(3 / 8)  # top 10% = 1 posting of 10
    assert v["gini_applications_per_posting"] == pytest.approx(fs.gini(per_posting))
    # registered in the span: s2, s3, s4; hires within six months of registration: s2 (j9), s4 (j1)
    assert v["hires_per_seeker_6m"] == pytest.approx(2 / 3)
    # first application to first hire: s1 and s4 two hours, s2 from 2024-01-06 01:00 to 03-21 03:00
    assert v["days_to_hire"] == pytest.approx(2 / 24)
    # test window applications: j8 (new), j1 (old), j9 (new)
    assert v["test_applications_to_new_postings"] == pytest.approx(2 / 3)
    # pairs: 4 seekers x 5 near and x 5 far postings, all open after registration; applications near 5, far 3
    assert v["distance_effect_16km"] == pytest.approx((3 / 20) / (5 / 20))


def test_figures_pass_inside_their_range_only() -> None:
    values = {name: (low + high) / 2 for name, (_, low, high, _) in fs.TARGETS.items()}
    assert all(r.passed and r.basis == "emergent" for r in fs.figures(values))
    values["apply_to_interview"] = 0.29  # the easy world's figure the audit criticised
    values["views_per_application"] = float("nan")
    failed = {r.name for r in fs.figures(values) if not r.passed}
    assert failed == {"apply_to_interview", "views_per_application"}
    for r in fs.figures(values):
        assert r.source and r.low < r.high
    payload = fs.to_json(fs.figures(values))
    assert not payload["all_passed"] and len(payload["not_modelled"]) == 3
    md = fs.to_markdown(fs.figures(values), "easy")
    assert "| NO |" in md and "not modelled" in md and "another market" in md


def test_emergent_section_is_written(tiny_easy_data_dir: Path) -> None:
    report = json.loads((tiny_easy_data_dir / "calibration.json").read_text())
    assert report["world"] == "easy"
    names = {r["name"] for r in report["emergent"]["rows"]}
    assert names == set(fs.TARGETS)
    assert all(r["basis"] == "construction" or r["basis"] == "exact" for r in report["rows"])  # seed facts apart
    md = (tiny_easy_data_dir / "calibration.md").read_text()
    assert "## Emergent funnel figures" in md and "## Seed facts not modelled" in md
    assert "Marinescu" in md and "XING" in md and "Jobvite" in md


def test_utility_breakdown_sums_to_total_and_drivers_are_sane(tiny_easy_data_dir: Path) -> None:
    truth = GroundTruth.load(tiny_easy_data_dir)
    si, ji = np.arange(7)[:, None], np.arange(11)[None, :]
    parts = truth.terms.breakdown(si, ji, truth.seekers.bits[si[:, 0]][:, None, :])
    total = truth.expected_utility(truth.seeker_ids[:7], truth.job_ids[:11])
    np.testing.assert_allclose(sum(parts.values()), total, rtol=1e-4, atol=1e-4)
    drivers = fs.utility_drivers(truth, truth.seeker_ids, truth.job_ids, n_seekers=50, n_jobs=80)
    assert set(drivers["term"]) == set(parts) and (drivers["spread"] >= 0).all()
    assert drivers["corr_with_total"].between(-1, 1).all()
    # easy world: distance dominates (the audit's finding), and the datasheet shows it
    top = drivers.iloc[0]
    assert top["term"] == "distance" and top["corr_with_total"] > 0.6
    assert "## What drives choices" in (tiny_easy_data_dir / "README.md").read_text()


def test_worlds_table_compares_worlds_on_their_figures(tiny_easy_data_dir: Path) -> None:
    from recsys.data.synthetic.worlds import worlds_table

    table = worlds_table(["tiny"], ["easy"], [0])
    report = json.loads((tiny_easy_data_dir / "calibration.json").read_text())["emergent"]["rows"]
    passed = sum(r["passed"] for r in report)
    assert "| tiny easy 0 |" in table and f"| in range | | {passed} of {len(fs.TARGETS)} |" in table
    assert table.count("*") == len(fs.TARGETS) - passed
