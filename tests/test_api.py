"""Ranking API: rank() against the model's own scores, filters, reasons, live catalogue, errors, artifacts."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import recsys
from recsys.api import (
    ArtifactError,
    InvalidProfileError,
    InvalidRequestError,
    NonFiniteScoreError,
    Ranker,
    UnknownJobError,
    UnknownSeekerError,
    load_ranker,
)
from recsys.api.catalogue import Catalogue, planar_km
from recsys.api.profile import PROFILE_FIELDS, SeekerRequests
from recsys.api.reasons import FACTORS, JobFacts, describe, feature_factors
from recsys.api.scoring import Rules, top_k
from recsys.data.dataset import Dataset
from recsys.data.schema import DISTRICTS, EDUCATION_LEVELS
from recsys.models.base import SEEN_EVENTS
from recsys.models.lightfm import LightFMHybrid

OPEN = {"max_commute_km": float("inf"), "meets_requirements": False, "exclude_applied": False}
"""Filters that keep every active job."""


@pytest.fixture(scope="module")
def fitted(tiny_data_dir: Path) -> tuple[LightFMHybrid, Dataset]:
    dataset = Dataset.load(tiny_data_dir)
    model = LightFMHybrid(no_components=16, epochs=3, random_state=0).fit(dataset)
    return model, dataset


@pytest.fixture()
def ranker(fitted: tuple[LightFMHybrid, Dataset]) -> Ranker:
    model, dataset = fitted
    return Ranker.from_model(model, dataset)


def profile_of(dataset: Dataset, row: int) -> dict:
    record = dataset.seekers.iloc[row].to_dict()
    return {field: record[field] for field in PROFILE_FIELDS}


def reference_top(ranker: Ranker, dataset: Dataset, seeker_row: int, k: int, *, max_commute_km: float | None = None,
                  job_types=None, districts=None, meets_requirements=True, exclude_applied=True) -> list[str]:
    """Brute force over the job table with pandas and model.score: the ranking rank() must reproduce."""
    model = ranker.model
    jobs, seeker = dataset.jobs, dataset.seekers.iloc[seeker_row]
    now = np.datetime64(ranker.now)
    ok = (jobs["posted_at"].to_numpy() <= now) & (jobs["expires_at"].to_numpy() > now)
    ok &= jobs["job_id"].isin(ranker.catalogue.job_ids).to_numpy()
    radius = seeker["max_commute_km"] if max_commute_km is None else max_commute_km
    east, north = planar_km(jobs["lat"].to_numpy(), jobs["lon"].to_numpy())
    home_east, home_north = planar_km(np.array([seeker["lat"]]), np.array([seeker["lon"]]))
    ok &= np.hypot(east - home_east, north - home_north) <= radius * (1 + 1e-6)
    if meets_requirements:
        level = EDUCATION_LEVELS.index(seeker["education"])
        ok &= jobs["min_education"].map(EDUCATION_LEVELS.index).to_numpy() <= level
        ok &= jobs["age_min"].fillna(0).to_numpy(float) <= seeker["age"]
        ok &= jobs["age_max"].fillna(1000).to_numpy(float) >= seeker["age"]
    if job_types is not None:
        ok &= jobs["job_type"].isin(job_types).to_numpy()
    if districts is not None:
        ok &= jobs["district"].isin(districts).to_numpy()
    if exclude_applied:
        past = dataset.interactions
        applied = past.loc[(past["seeker_row"] == seeker_row) & past["event"].isin(SEEN_EVENTS)
                           & (past["ts"] <= ranker.now), "job_id"]
        ok &= ~jobs["job_id"].isin(applied).to_numpy()
    rows = np.flatnonzero(ok)
    scores = model.score([seeker_row], rows)[0]
    return list(jobs["job_id"].to_numpy()[rows[np.argsort(-scores, kind="stable")[:k]]])


# ---------------------------------------------------------------------- correctness
def test_rank_equals_model_scores_over_active_jobs(ranker: Ranker, fitted) -> None:
    model, dataset = fitted
    for seeker_row in (0, 7, 123):
        recs = ranker.rank(dataset.seekers["seeker_id"][seeker_row], k=10, **OPEN)
        assert [r.rank for r in recs] == list(range(1, 11))
        assert [r.job_id for r in recs] == reference_top(ranker, dataset, seeker_row, 10,
                                                        max_commute_km=np.inf, meets_requirements=False,
                                                        exclude_applied=False)
        expected = model.score([seeker_row], dataset.job_ids.to_rows([r.job_id for r in recs]))[0]
        np.testing.assert_allclose([r.score for r in recs], expected, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("filters", [
    {},
    {"max_commute_km": 8.0},
    {"job_types": ["full_time"], "meets_requirements": False},
    {"districts": ["tianhe", "haizhu", "baiyun"], "max_commute_km": 25.0},
    {"exclude_applied": False, "max_commute_km": 40.0},
])
def test_filters_match_brute_force(ranker: Ranker, fitted, filters: dict) -> None:
    _, dataset = fitted
    applied_rows = dataset.interactions.loc[dataset.interactions["event"] == "apply", "seeker_row"].unique()
    for seeker_row in applied_rows[:15]:
        got = [r.job_id for r in ranker.rank(dataset.seekers["seeker_id"][seeker_row], k=5, **filters)]
        assert got == reference_top(ranker, dataset, seeker_row, 5, **filters), f"seeker row {seeker_row}"


@pytest.mark.parametrize("values", ["integers", "normal", "low_rank"])
def test_top_k_equals_masking_every_job_then_sorting(ranker: Ranker, values: str) -> None:
    # the compiled top-k against plain numpy over the whole catalogue: every rule, several seekers in
    # one batch, applied jobs, k above and below the number of passing jobs. Small integer embeddings
    # give many exact ties (lower position first); nearly rank-2 ones give a screening subspace smaller
    # than the embedding, so the bound on the remainder decides which jobs are scored.
    rng = np.random.default_rng(5)
    n_seekers, dim = 6, 8
    table = ranker.catalogue.table
    draw = ((lambda *shape: rng.integers(-2, 3, size=shape)) if values == "integers"
            else (lambda *shape: rng.normal(size=shape)))
    job_embeddings = draw(len(table), dim).astype(np.float32)
    if values == "low_rank":
        job_embeddings = (rng.normal(size=(len(table), 2)) @ rng.normal(size=(2, dim))
                          + 0.05 * job_embeddings).astype(np.float32)
    catalogue = Catalogue.build(table, job_embeddings,
                                draw(len(table)).astype(np.float32), ranker.catalogue.features)
    applied = [rng.choice(catalogue.job_ids, 30, replace=False) for _ in range(n_seekers)]
    requests = SeekerRequests.from_table(ranker.seekers.iloc[:n_seekers], draw(n_seekers, dim).astype(np.float32),
                                         draw(n_seekers).astype(np.float32), applied)
    rows = np.arange(n_seekers)
    now = ranker.now.value
    scores_all = catalogue.embeddings @ requests.embeddings.T + catalogue.biases[:, None] + requests.biases
    for k in (1, 10, len(table)):
        for max_commute_km, job_types, meets_requirements in ((None, None, True), (15.0, ["gig", "full_time"], False),
                                                              (np.inf, None, False)):
            types, districts = catalogue.vocabularies["job_type"], catalogue.vocabularies["district"]
            filters = Rules(now_ns=now, max_commute_km=max_commute_km,
                            job_types=None if job_types is None else np.isin(("",) + types, job_types),
                            districts=None if max_commute_km is None else np.isin(("",) + districts, DISTRICTS[:8]),
                            meets_requirements=meets_requirements,
                            exclude_applied=True)
            positions, scores = top_k(catalogue, requests, rows, k, filters)
            if values == "low_rank":
                assert len(catalogue.screen_basis) < dim and catalogue.screen_tail.max() > 0
            type_ok = np.ones(len(types) + 1, bool) if filters.job_types is None else filters.job_types
            district_ok = np.ones(len(districts) + 1, bool) if filters.districts is None else filters.districts
            radius = (requests.max_commute_km if max_commute_km is None
                      else np.full(n_seekers, max_commute_km)).astype(np.float32)
            n_ranked = 0
            for b in rows:
                ok = (catalogue.posted_ns <= now) & (catalogue.expires_ns > now)
                ok &= type_ok[catalogue.job_type] & district_ok[catalogue.district]
                d_east, d_north = catalogue.east_km - requests.east_km[b], catalogue.north_km - requests.north_km[b]
                ok &= d_east * d_east + d_north * d_north <= radius[b] * radius[b]
                if meets_requirements:
                    ok &= (catalogue.min_education <= requests.education[b]) & (catalogue.age_min <= requests.age[b])
                    ok &= catalogue.age_max >= requests.age[b]
                ok &= ~catalogue.positions.isin(applied[b])
                jobs = np.flatnonzero(ok)
                expected = jobs[np.lexsort((jobs, -scores_all[jobs, b]))][:k]  # best first, ties: lower position
                got = positions[b][positions[b] >= 0]
                n_ranked += len(got)
                np.testing.assert_array_equal(got, expected, err_msg=f"k={k} seeker {b} {filters}")
                np.testing.assert_allclose(scores[b, :len(got)], scores_all[got, b], rtol=1e-6, atol=1e-6)
                assert np.isneginf(scores[b, len(got):]).all()
            assert n_ranked >= min(k, 5) * n_seekers // 2, "too few passing jobs for the test to mean much"


def test_position_ranges_cover_every_job_within_the_radius(ranker: Ranker) -> None:
    catalogue = ranker.catalogue
    rng = np.random.default_rng(0)
    for _ in range(200):
        east = float(rng.uniform(catalogue.east_km.min() - 5, catalogue.east_km.max() + 5))
        north = float(rng.uniform(catalogue.north_km.min() - 5, catalogue.north_km.max() + 5))
        radius = float(rng.choice([0.5, 3.0, 10.0, 40.0]))
        starts, stops = catalogue.ranges_within(east, east, north, north, radius)
        assert np.all(starts < stops) and np.all(stops[:-1] <= starts[1:])
        d_east, d_north = catalogue.east_km - np.float32(east), catalogue.north_km - np.float32(north)
        inside = np.flatnonzero(d_east * d_east + d_north * d_north <= np.float32(radius * radius))
        covered = np.zeros(len(catalogue), dtype=bool)
        for lo, hi in zip(starts, stops, strict=True):
            covered[lo:hi] = True
        assert covered[inside].all()
    whole = catalogue.ranges_within(0.0, 0.0, 0.0, 0.0, float("inf"))
    assert [(int(a), int(b)) for a, b in zip(*whole, strict=True)] == [(0, len(catalogue))]


def test_exclude_applied_drops_jobs_the_seeker_applied_to(ranker: Ranker, fitted) -> None:
    _, dataset = fitted
    applies = dataset.interactions.loc[dataset.interactions["event"] == "apply"]
    applies = applies.loc[applies["job_id"].isin(ranker.catalogue.job_ids)]
    seeker_id, job_id = applies["seeker_id"].iloc[0], applies["job_id"].iloc[0]
    with_applied = [r.job_id for r in ranker.rank(seeker_id, k=200, **OPEN)]
    without = [r.job_id for r in ranker.rank(seeker_id, k=200, **{**OPEN, "exclude_applied": True})]
    assert job_id in with_applied and job_id not in without


def test_rank_many_equals_rank(ranker: Ranker, fitted) -> None:
    _, dataset = fitted
    seekers = [*dataset.seekers["seeker_id"][:40], profile_of(dataset, 3)]
    for filters in ({}, OPEN, {"max_commute_km": 12.0, "job_types": ["gig", "part_time"]}):
        many = ranker.rank_many(seekers, k=7, **filters)
        single = [ranker.rank(s, k=7, **filters) for s in seekers]
        assert many == single  # same per-seeker kernel: identical jobs, scores, ranks and reasons


def test_large_batches_and_top_lists_equal_rank(ranker: Ranker, fitted) -> None:
    _, dataset = fitted
    seekers = list(ranker.seeker_ids.ids[:300])  # >= 256: the batch looks applied jobs up at once
    applied = {s for s, a in zip(ranker.seeker_ids.ids, ranker.known_seekers.applied, strict=True) if len(a)}
    assert len(applied.intersection(seekers)) > 10  # the exclude_applied rule has work to do
    for filters in ({}, {"exclude_applied": False}, {"max_commute_km": 12.0, "job_types": ["gig", "part_time"]}):
        many = ranker.rank_many(seekers, k=7, reasons=False, **filters)
        assert many == [ranker.rank(s, k=7, reasons=False, **filters) for s in seekers]
        lists = ranker.top_lists(seekers, k=7, **filters)
        assert lists.lengths.tolist() == [len(r) for r in many]
        assert lists.job_ids.tolist() == [r.job_id for ranking in many for r in ranking]
        np.testing.assert_array_equal(lists.scores, np.array([r.score for ranking in many for r in ranking],
                                                              dtype=np.float32))
        assert lists.version == many[0].version and lists.now == many[0].now


def test_profile_is_ranked_from_its_features(ranker: Ranker, fitted) -> None:
    model, dataset = fitted
    profile = profile_of(dataset, 5)
    recs = ranker.rank(profile, k=5, **OPEN)
    embedding, bias = model.seeker_representations(seekers=pd.DataFrame([profile]))
    new_jobs = dataset.jobs.set_index("job_id").loc[[r.job_id for r in recs]].reset_index()
    job_emb, job_bias = model.job_representations(rows=dataset.job_ids.to_rows(new_jobs["job_id"]))
    np.testing.assert_allclose([r.score for r in recs], job_emb @ embedding[0] + job_bias + bias[0], rtol=1e-5)


# ---------------------------------------------------------------------- reasons
def test_factor_contributions_add_up_to_the_score_and_match_the_model(ranker: Ranker, fitted) -> None:
    model, dataset = fitted
    seeker_id = dataset.seekers["seeker_id"][11]
    job_ids = [r.job_id for r in ranker.rank(seeker_id, k=10, **OPEN)]
    explained = ranker.explain(seeker_id, job_ids)
    np.testing.assert_allclose(explained[list(FACTORS)].sum(axis=1) + explained["seeker_bias"], explained["score"],
                               rtol=1e-5, atol=1e-5)
    # same grouping computed from the model's own contribution matrix
    embedding, _ = model.seeker_representations(rows=[11])
    contributions, names = model.job_feature_contributions(embedding[0], rows=dataset.job_ids.to_rows(job_ids))
    factors = feature_factors(names)
    grouped = np.stack([np.asarray(contributions[:, factors == f].sum(axis=1)).ravel() for f in range(len(FACTORS))],
                       axis=1)
    np.testing.assert_allclose(explained[list(FACTORS)].to_numpy(), grouped, rtol=1e-4, atol=1e-5)


def test_reasons_are_the_largest_positive_factors_in_both_languages(ranker: Ranker, fitted) -> None:
    _, dataset = fitted
    seeker_id = dataset.seekers["seeker_id"][11]
    recs = ranker.rank(seeker_id, k=10, max_commute_km=30.0)
    explained = ranker.explain(seeker_id, [r.job_id for r in recs]).set_index("job_id")
    seeker = dataset.seekers.iloc[11]
    for rec in recs:
        assert 1 <= len(rec.reasons) <= ranker.max_reasons
        factors = explained.loc[rec.job_id, list(FACTORS)].astype(float)
        expected = [f for f in factors.sort_values(ascending=False, kind="stable").index if factors[f] > 0]
        assert [r.code for r in rec.reasons] == (expected[:ranker.max_reasons] or [factors.idxmax()])
        for reason in rec.reasons:
            assert reason.contribution == pytest.approx(factors[reason.code], rel=1e-5, abs=1e-6)
            assert reason.text_zh and reason.text_en and reason.text_zh != reason.text_en
            if reason.code == "distance":
                job = dataset.jobs.set_index("job_id").loc[rec.job_id]
                east, north = planar_km(np.array([job["lat"], seeker["lat"]]), np.array([job["lon"], seeker["lon"]]))
                assert f"{np.hypot(east[0] - east[1], north[0] - north[1]):.1f} km" in reason.text_en


def test_reason_sentences_quote_the_job_and_the_seeker() -> None:
    job = JobFacts("销售代表（全职）", "sales_rep", ("沟通", "驾驶", "销售"), "shift", "full_time", 5234.4)
    assert describe("pay", job, 3.0, set(), 4500.0) == (
        "月薪约 5,234 元，高于您期望的 4,500 元", "Pays about 5,234 CNY a month, above the 4,500 CNY you expect")
    assert describe("pay", job, 3.0, set(), float("nan")) == ("月薪约 5,234 元", "Pays about 5,234 CNY a month")
    assert "close to" in describe("pay", job, 3.0, set(), 6000.0)[1]
    assert describe("skills", job, 3.0, {"销售", "驾驶", "烹饪"}, None) == ("技能对口：驾驶、销售",
                                                                     "Uses your skills: 驾驶, 销售")
    assert describe("distance", job, 12.345, set(), None) == ("离家约 12.3 公里", "About 12.3 km from home")
    assert describe("schedule", job, 3.0, set(), None) == ("全职，倒班，时间合适", "Full-time, shift schedule: fits your time")
    bare = JobFacts("", "", (), "", "", float("nan"))  # a posting with only its id
    for code in FACTORS:
        zh, en = describe(code, bare, float("nan"), {"销售"}, 4500.0)
        assert zh and en and "nan" not in en.lower() and "  " not in en, (code, en)


# ---------------------------------------------------------------------- live catalogue
def new_postings(dataset: Dataset, ranker: Ranker, source_ids: list[str], tag: str) -> pd.DataFrame:
    jobs = dataset.jobs.set_index("job_id").loc[source_ids].reset_index()
    jobs["job_id"] = [f"{tag}-{i}" for i in range(len(jobs))]
    jobs["posted_at"] = ranker.now - pd.Timedelta(hours=1)
    jobs["expires_at"] = ranker.now + pd.Timedelta(days=10)
    return jobs


def test_new_posting_is_ranked_from_features_at_once(ranker: Ranker, fitted) -> None:
    model, dataset = fitted
    seeker_id = dataset.seekers["seeker_id"][2]
    before = ranker.catalogue
    postings = new_postings(dataset, ranker, [r.job_id for r in ranker.rank(seeker_id, k=3, **OPEN)], "NEW")
    after = ranker.add_jobs(postings)
    assert after.version == before.version + 1 and len(after) == len(before) + 3
    assert not before.positions.isin(postings["job_id"]).any()  # old snapshot untouched
    recs = {r.job_id: r.score for r in ranker.rank(seeker_id, k=len(after), **OPEN)}
    emb, bias = model.seeker_representations(rows=[2])
    job_emb, job_bias = model.job_representations(jobs=postings)
    expected = job_emb @ emb[0] + job_bias + bias[0]
    assert set(postings["job_id"]) <= set(recs)
    np.testing.assert_allclose([recs[j] for j in postings["job_id"]], expected, rtol=1e-5)


def test_remove_and_expire(ranker: Ranker, fitted) -> None:
    _, dataset = fitted
    seeker_id = dataset.seekers["seeker_id"][4]
    top = [r.job_id for r in ranker.rank(seeker_id, k=3, **OPEN)]
    ranker.remove_jobs(top[:2])
    assert not set(top[:2]) & {r.job_id for r in ranker.rank(seeker_id, k=50, **OPEN)}
    later = ranker.now + pd.Timedelta(days=5)
    catalogue = ranker.expire(later)
    assert ranker.now == later
    assert (catalogue.expires_ns > later.value).all() and len(catalogue) > 0
    expired = dataset.jobs.loc[dataset.jobs["expires_at"] <= later, "job_id"]
    assert not set(expired) & {r.job_id for r in ranker.rank(seeker_id, k=100, **OPEN)}


@pytest.mark.slow
def test_every_result_equals_the_single_state_it_claims(ranker: Ranker, fitted) -> None:
    # 8 readers against a writer that, within each step, adds postings that open later (posted_at in the
    # future) and some that close soon, removes earlier ones and moves the clock (opening and closing
    # postings). A request reading a newer catalogue with an older clock (or the reverse) would return a
    # list that no published state gives.
    _, dataset = fitted
    seekers = list(dataset.seekers["seeker_id"][:8])
    states = {ranker.state.version: ranker.state}
    results: list[tuple[tuple[str, ...], int, list]] = []
    errors: list[BaseException] = []
    writer_done = threading.Event()
    source_ids = set(dataset.jobs["job_id"])

    def reader(i: int) -> None:
        try:
            calls = 0
            while calls < 20 or not writer_done.is_set():  # keep reading while the writer works
                calls += 1
                if calls % 2:
                    got = ranker.rank(seekers[i], k=5, **OPEN)
                    results.append(((seekers[i],), got.version, [list(got)]))
                else:
                    batch = (seekers[i], seekers[(i + 3) % 8])
                    lists = ranker.rank_many(list(batch), k=5, **OPEN)
                    assert len({r.version for r in lists}) == 1
                    results.append((batch, lists[0].version, [list(r) for r in lists]))
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    def writer() -> None:
        try:
            for step in range(8):  # copies of a seeker's best original jobs: likely in readers' top 5
                ranked = [r.job_id for r in ranker.rank(seekers[step % 8], k=20, **OPEN)]
                top = [job_id for job_id in ranked if job_id in source_ids][:4]
                jobs = new_postings(dataset, ranker, top, f"V{step}")
                jobs["posted_at"] = ranker.now + pd.Timedelta(minutes=30)  # opens at the next expire()
                jobs.loc[jobs.index % 2 == 1, "expires_at"] = ranker.now + pd.Timedelta(minutes=90)  # closes after
                ranker.add_jobs(jobs)
                states[ranker.state.version] = ranker.state
                if step >= 2:
                    ranker.remove_jobs([j for j in ranker.catalogue.job_ids if j.startswith(f"V{step - 2}-")])
                    states[ranker.state.version] = ranker.state
                ranker.expire(ranker.now + pd.Timedelta(hours=1))
                states[ranker.state.version] = ranker.state
        finally:  # never leave the readers spinning
            writer_done.set()

    threads = [threading.Thread(target=reader, args=(i,)) for i in range(8)]
    writer_thread = threading.Thread(target=writer)
    writer_thread.start()
    for thread in threads:
        thread.start()
    writer_thread.join()
    for thread in threads:
        thread.join()
    assert not errors, errors[0]
    assert len(states) > 10, "the writer made too few updates while readers ran"
    replay = {version: ranker.with_state(state) for version, state in states.items()}
    expected: dict[tuple, list] = {}
    versions_seen = set()
    for batch, version, got in results:
        assert version in states, f"result claims unpublished state {version}"
        versions_seen.add(version)
        key = (batch, version)
        if key not in expected:
            expected[key] = [list(r) for r in replay[version].rank_many(list(batch), k=5, **OPEN)]
        assert got == expected[key], f"{batch} differs from state {version}"
    assert len(versions_seen) > 3, "readers saw too few states for the test to mean much"
    # the states differ in what they return, so a result mixing two of them could not pass
    versions = sorted(states)
    differing = sum(replay[a].rank(seekers[0], k=5, **OPEN) != replay[b].rank(seekers[0], k=5, **OPEN)
                    for a, b in zip(versions, versions[1:], strict=False))
    assert differing >= 3


# ---------------------------------------------------------------------- bad input
def test_bad_requests_raise_typed_errors(ranker: Ranker, fitted) -> None:
    _, dataset = fitted
    seeker_id = dataset.seekers["seeker_id"][0]
    with pytest.raises(UnknownSeekerError, match="S-nobody"):
        ranker.rank("S-nobody")
    for k in (0, -3, 2.5, True):
        with pytest.raises(InvalidRequestError, match="k = .* integer"):
            ranker.rank(seeker_id, k=k)
    with pytest.raises(InvalidRequestError, match="job_types"):
        ranker.rank(seeker_id, job_types=["astronaut"])
    with pytest.raises(InvalidRequestError, match="max_commute_km"):
        ranker.rank(seeker_id, max_commute_km=-1)
    with pytest.raises(InvalidRequestError, match="unknown filter"):
        ranker.rank_many([seeker_id], k=3, colour="red")
    version = ranker.catalogue.version
    with pytest.raises(UnknownJobError, match="J-nothing"):
        ranker.remove_jobs([ranker.catalogue.job_ids[0], "J-nothing"])
    assert ranker.catalogue.version == version  # nothing removed
    for error in (UnknownSeekerError, UnknownJobError, InvalidRequestError):
        assert issubclass(error, ValueError)


@pytest.mark.parametrize(("field", "value", "pattern"), [
    ("age", None, "missing field"),
    ("age", "forty", "age"),
    ("education", "phd", "education"),
    ("skills", "welding", "skills"),
    ("max_commute_km", 0.0, "max_commute_km"),
    ("lat", float("nan"), "lat"),
])
def test_malformed_profile_names_the_field(ranker: Ranker, fitted, field: str, value, pattern: str) -> None:
    _, dataset = fitted
    profile = profile_of(dataset, 1)
    if value is None:
        del profile[field]
    else:
        profile[field] = value
    with pytest.raises(InvalidProfileError, match=pattern):
        ranker.rank(profile)


def test_non_finite_scores_raise(ranker: Ranker, fitted, monkeypatch: pytest.MonkeyPatch) -> None:
    model, dataset = fitted
    catalogue = ranker.catalogue
    broken = np.array(catalogue.embeddings)
    broken[0, 0] = np.nan
    poisoned = Catalogue.build(catalogue.table, broken, catalogue.biases, catalogue.features)
    with pytest.raises(NonFiniteScoreError):
        ranker.with_catalogue(poisoned).rank(dataset.seekers["seeker_id"][0], **OPEN)
    postings = new_postings(dataset, ranker, list(catalogue.job_ids[:2]), "NAN")
    real_rows = model.job_feature_matrix
    monkeypatch.setattr(model, "job_feature_matrix",
                        lambda jobs=None, rows=None: real_rows(jobs=jobs, rows=rows) * np.float32(np.nan))
    with pytest.raises(NonFiniteScoreError):
        ranker.add_jobs(postings)
    assert not ranker.catalogue.positions.isin(postings["job_id"]).any()


# ---------------------------------------------------------------------- artifacts
def test_save_load_round_trip_and_module_level_rank(ranker: Ranker, fitted, tmp_path: Path) -> None:
    _, dataset = fitted
    requests = [dataset.seekers["seeker_id"][9], profile_of(dataset, 9)]
    ranker.save(tmp_path / "ranker")
    loaded = load_ranker(tmp_path / "ranker")
    for seeker in requests:
        assert loaded.rank(seeker, k=8) == ranker.rank(seeker, k=8)
        assert recsys.rank(seeker, k=8) == ranker.rank(seeker, k=8)  # default = last loaded
    assert loaded.now == ranker.now and loaded.catalogue.version == ranker.catalogue.version


def corrupt_byte(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))


@pytest.mark.parametrize("damage", ["flip_byte", "truncate", "version", "missing_file", "bad_json", "model"])
def test_damaged_artifact_fails_to_load(ranker: Ranker, tmp_path: Path, damage: str) -> None:
    path = ranker.save(tmp_path / "ranker")
    if damage == "flip_byte":
        corrupt_byte(path / "catalogue.npz")
    elif damage == "truncate":
        file = path / "seekers.parquet"
        file.write_bytes(file.read_bytes()[:100])
    elif damage == "version":
        manifest = json.loads((path / "ranker.json").read_text())
        manifest["format_version"] = 99
        (path / "ranker.json").write_text(json.dumps(manifest))
    elif damage == "missing_file":
        (path / "seekers.npz").unlink()
    elif damage == "bad_json":
        (path / "ranker.json").write_text("{not json")
    elif damage == "model":
        corrupt_byte(path / "model" / "arrays.npz")
    with pytest.raises(ArtifactError):
        load_ranker(path, set_default=False)


def test_load_ranker_rejects_paths_that_are_not_rankers(tmp_path: Path) -> None:
    with pytest.raises(ArtifactError, match="not a directory and not an MLflow URI"):
        load_ranker(tmp_path / "nowhere")
    with pytest.raises(ArtifactError, match="no ranker artifact"):
        load_ranker(tmp_path)


def test_module_rank_without_ranker_raises(monkeypatch: pytest.MonkeyPatch) -> None:
    from recsys.api import service

    monkeypatch.setattr(service, "_default_ranker", None)
    with pytest.raises(InvalidRequestError, match="load_ranker"):
        recsys.rank("S000001")


# ---------------------------------------------------------------------- serving contract
def test_models_outside_the_serving_contract_are_refused_by_name(fitted) -> None:
    from recsys.cli.pipeline import servable, unservable_reason
    from recsys.models import EASE, Content, LightFMCollaborative, Popularity
    from recsys.models.protocols import UnservableModelError, check_factor_model

    model, dataset = fitted
    assert servable(LightFMHybrid) and servable(LightFMCollaborative) and servable(model)
    for cls in (Content, Popularity, EASE):
        assert not servable(cls)
        assert "feature_representations" in unservable_reason(cls) and cls.__name__ in unservable_reason(cls)
    popularity = Popularity().fit(dataset)
    with pytest.raises(UnservableModelError, match=r"Popularity .*missing method seeker_representations\(\)"):
        Ranker.from_model(popularity, dataset)
    with pytest.raises(UnservableModelError, match="job_feature_names"):
        check_factor_model(Popularity)
    ranker = Ranker.from_model(model, dataset)
    with pytest.raises(UnservableModelError):
        Ranker(popularity, ranker.catalogue, ranker.seekers, ranker.known_seekers, ranker.now)


def test_register_refuses_an_unservable_model_before_reading_data() -> None:
    from omegaconf import OmegaConf

    from recsys.cli.pipeline import ConfigError, check_config

    cfg = OmegaConf.create({"register": True, "tracking": {"enabled": True},
                            "model": {"_target_": "recsys.models.content.Content"}})
    with pytest.raises(ConfigError, match="Content is not a FactorModel .*missing"):
        check_config(cfg)
    check_config(OmegaConf.create({"register": True, "tracking": {"enabled": True},
                                   "model": {"_target_": "recsys.models.lightfm.LightFMHybrid"}}))


def test_results_carry_the_state_they_were_computed_on(ranker: Ranker, fitted) -> None:
    _, dataset = fitted
    seeker = dataset.seekers["seeker_id"][5]
    first = ranker.rank(seeker, k=5, **OPEN)
    assert first.version == ranker.state.version and first.now == ranker.now
    state = ranker.state
    ranker.expire(ranker.now + pd.Timedelta(days=2))
    later = ranker.rank_many([seeker], k=5, **OPEN)[0]
    assert later.version == ranker.state.version > first.version and later.now == ranker.now
    assert ranker.with_state(state).rank(seeker, k=5, **OPEN) == first
