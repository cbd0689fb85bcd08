"""Properties the ``small`` data must have (issue 2), on a temporal split at the manifest's split date.

The split is implemented minimally here on purpose: these tests pin the generator, not the split module.
The hit-rate properties (the utility oracle at least twice popularity; observable and latent utility each
short of it) are those of the ``easy`` world, the generator they were written for: in the default
``realistic`` world exposure noise decides much of what is applied to, and training popularity beats the
utility oracle (HR@10 0.33 against 0.27 on ``small``, seed 0), which is why the exposure ceiling, not the
oracle, is the reference there.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from recsys.data.synthetic import GroundTruth

pytestmark = pytest.mark.slow  # generates the small preset (about 10 s)

K = 10


@dataclass
class Split:
    """Tables of one dataset cut at ``split``."""

    jobs: pd.DataFrame
    inter: pd.DataFrame
    split: np.datetime64

    @property
    def train(self) -> pd.DataFrame:
        return self.inter[self.inter["ts"] < self.split]

    @property
    def test_applies(self) -> pd.DataFrame:
        test = self.inter[self.inter["ts"] >= self.split]
        return test[test["event"] == "apply"]


def load_split(data_dir: Path) -> Split:
    manifest = json.loads((data_dir / "manifest.json").read_text())
    return Split(jobs=pd.read_parquet(data_dir / "jobs.parquet"),
                 inter=pd.read_parquet(data_dir / "interactions.parquet"),
                 split=np.datetime64(manifest["split_date"], "ns"))


def hit_rates(data_dir: Path, s: Split) -> dict[str, float]:
    """HR@10 per ranking over jobs active at each test seeker's first test apply, not applied before the split.

    Hit: at least one of the seeker's test-window applies to a candidate job is in the top 10.
    """
    truth = GroundTruth.load(data_dir)
    job_ids = s.jobs["job_id"].to_numpy(dtype=str)
    posted = s.jobs["posted_at"].to_numpy()
    expires = s.jobs["expires_at"].to_numpy()
    row_of = {j: i for i, j in enumerate(job_ids)}
    train_applies = s.train[s.train["event"] == "apply"]
    popularity = np.bincount(train_applies["job_id"].map(row_of), minlength=len(job_ids)).astype(float)
    popularity -= np.arange(len(job_ids)) * 1e-9  # deterministic tie-break
    applied_before = train_applies.groupby("seeker_id")["job_id"].agg(set)
    test = s.test_applies
    first_ts = test.groupby("seeker_id")["ts"].min()
    test_jobs = test.groupby("seeker_id")["job_id"].agg(set)
    seekers = first_ts.index.to_numpy(dtype=str)
    at = first_ts.to_numpy(dtype="datetime64[ns]")
    hits = {"oracle": [], "observable": [], "latent": [], "popularity": []}
    for a in range(0, len(seekers), 500):
        chunk, chunk_at = seekers[a:a + 500], at[a:a + 500]
        observable = truth.expected_utility(chunk, job_ids, at=chunk_at, part="observable")
        latent = truth.expected_utility(chunk, job_ids, at=chunk_at, part="latent")
        scores = {"total": observable + latent, "observable": observable, "latent": latent}
        for i, seeker in enumerate(chunk):
            before = applied_before.get(seeker, set())
            candidate = (posted <= chunk_at[i]) & (chunk_at[i] < expires)
            if before:
                candidate[[row_of[j] for j in before]] = False
            relevant = np.zeros(len(job_ids), bool)
            relevant[[row_of[j] for j in test_jobs[seeker]]] = True
            relevant &= candidate
            if not relevant.any():
                continue
            cand = np.flatnonzero(candidate)
            for name, score in (("oracle", scores["total"][i]), ("observable", scores["observable"][i]),
                                ("latent", scores["latent"][i]), ("popularity", popularity)):
                top = cand[np.argsort(-score[cand], kind="stable")[:K]]
                hits[name].append(relevant[top].any())
    return {name: float(np.mean(v)) for name, v in hits.items()}


@pytest.fixture(scope="module")
def small_split(small_data_dir: Path) -> Split:
    return load_split(small_data_dir)


@pytest.fixture(scope="module")
def small_easy_data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from recsys.data.synthetic import generate_preset

    return generate_preset("small", tmp_path_factory.mktemp("easy") / "small", seed=0, world="easy")


@pytest.fixture(scope="module")
def small_hit_rates(small_easy_data_dir: Path) -> dict[str, float]:
    """HR@10 of the rankings on ``small`` in the ``easy`` world (see the module docstring)."""
    return hit_rates(small_easy_data_dir, load_split(small_easy_data_dir))


def test_test_applications_go_mostly_to_new_postings(small_split: Split) -> None:
    test = small_split.test_applies.merge(small_split.jobs[["job_id", "posted_at"]], on="job_id")
    share_new = (test["posted_at"] >= small_split.split).mean()
    assert share_new >= 0.30, share_new


def test_many_test_seekers_are_cold(small_split: Split) -> None:
    test_seekers = small_split.test_applies["seeker_id"].unique()
    warm = set(small_split.train["seeker_id"].unique())
    share_cold = np.mean([s not in warm for s in test_seekers])
    assert share_cold >= 0.15, share_cold


def test_oracle_beats_popularity_twice(small_hit_rates: dict[str, float]) -> None:
    assert small_hit_rates["oracle"] >= 2 * small_hit_rates["popularity"], small_hit_rates


def test_both_observable_and_latent_signal_matter(small_hit_rates: dict[str, float]) -> None:
    oracle = small_hit_rates["oracle"]
    assert small_hit_rates["observable"] <= 0.9 * oracle, small_hit_rates
    assert small_hit_rates["latent"] <= 0.9 * oracle, small_hit_rates


def test_every_calibrated_ratio_within_tolerance(small_data_dir: Path) -> None:
    """On ``small`` (the default realistic world) every row set by construction or counted exactly holds within
    15%; the fair aggregates are counted from the simulation (basis ``emergent``) and judged within a factor
    (they may miss: ``all_passed`` then says so, ``construction_passed`` stays true). The easy world's
    construction rows: ``tests/test_generate.py::test_places_and_fair_aggregates``."""
    report = json.loads((small_data_dir / "calibration.json").read_text())
    constructed = [r for r in report["rows"] if r["basis"] != "emergent"]
    failed = [r for r in constructed if not abs(r["generated"] / r["target"] - 1) <= 0.15]
    assert not failed, failed
    assert report["construction_passed"]
    names = {r["name"] for r in report["rows"]}
    assert {"employment_stations", "gig_markets", "gig_fair_count", "key_enterprise_fair_count",
            "graduate_fair_count", "training_person_times"} <= {r["name"] for r in constructed}
    emergent = {r["name"] for r in report["rows"] if r["basis"] == "emergent"}
    assert {"gig_fair_n_employers", "gig_fair_n_positions", "gig_fair_n_seekers_served",
            "key_enterprise_fair_n_positions", "graduate_fair_n_positions"} <= emergent <= names
    for row in report["rows"]:
        if row["basis"] == "emergent":
            within = 1 / report["emergent_factor"] <= row["generated"] / row["target"] <= report["emergent_factor"]
            assert row["passed"] == within, row
    exact = {r["name"]: r["generated"] for r in report["rows"]}
    assert exact["employment_stations"] == 342 and exact["gig_markets"] == 29
