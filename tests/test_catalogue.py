"""Live-catalogue updates: incremental ``with_jobs``/``subset`` snapshots equal a full ``Catalogue.build``."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

from recsys.api.catalogue import ROW_FIELDS, TEXT_COLUMNS, Catalogue
from recsys.api.profile import SeekerRequests
from recsys.api.scoring import Rules, top_k
from recsys.data.dataset import Dataset
from recsys.data.geo import planar_km

DIM, N_FEATURES = 8, 40
MIXING = np.random.default_rng(0).normal(size=(2, DIM))
"""Job embeddings are nearly rank 2 (like a model's), so the screening subspace is smaller than ``DIM``."""


@pytest.fixture(scope="module")
def dataset(tiny_data_dir: Path) -> Dataset:
    return Dataset.load(tiny_data_dir)


def make_jobs(dataset: Dataset, n: int, prefix: str, rng: np.random.Generator, *, lat_shift: float = 0.0
              ) -> tuple[pd.DataFrame, np.ndarray, np.ndarray, sp.csr_matrix]:
    """``n`` postings resampled from the dataset, jittered so no two share a location, with random
    representations (the catalogue does not care where they come from)."""
    embeddings = rng.normal(size=(n, 2)) @ MIXING + 0.05 * rng.normal(size=(n, DIM))
    jobs = dataset.jobs.iloc[rng.integers(0, dataset.n_jobs, n)].reset_index(drop=True)
    jobs["job_id"] = [f"{prefix}{i:05d}" for i in range(n)]
    jobs["lat"] = jobs["lat"] + rng.normal(0, 0.003, n) + lat_shift
    jobs["lon"] = jobs["lon"] + rng.normal(0, 0.003, n)
    features = sp.random(n, N_FEATURES, density=0.2, format="csr", random_state=rng, dtype=np.float32)
    return jobs, embeddings.astype(np.float32), rng.normal(size=n).astype(np.float32), features


def jobs_of(catalogue: Catalogue) -> tuple[pd.DataFrame, np.ndarray, np.ndarray, sp.csr_matrix]:
    return catalogue.table, np.array(catalogue.embeddings), np.array(catalogue.biases), catalogue.features


def rebuilt(catalogue: Catalogue, seed: int) -> Catalogue:
    """``Catalogue.build`` on the same jobs, listed in a random order."""
    order = np.random.default_rng(seed).permutation(len(catalogue))
    table, embeddings, biases, features = jobs_of(catalogue)
    return Catalogue.build(table.iloc[order], embeddings[order], biases[order], features[order],
                           version=catalogue.version)


def assert_same_catalogue(got: Catalogue, expected: Catalogue, dataset: Dataset) -> None:
    """Every field equal, except the screening arrays (their basis may differ): those must bound
    every embedding and rank like the expected snapshot."""
    pd.testing.assert_frame_equal(got.table, expected.table)
    for name in (*ROW_FIELDS, "embeddings", "biases", "bias", "strip_starts", "strip_key"):
        if name == "screen_tail":  # depends on the basis
            continue
        np.testing.assert_array_equal(getattr(got, name), getattr(expected, name), err_msg=name)
        assert not getattr(got, name).flags.writeable, name
    assert (got.features != expected.features).nnz == 0 and got.features.shape == expected.features.shape
    assert got.features.dtype == np.float32 and sp.isspmatrix_csr(got.features)
    assert got.text.keys() == expected.text.keys() == set(TEXT_COLUMNS)
    for column in TEXT_COLUMNS:
        assert got.text[column].tolist() == expected.text[column].tolist(), column
    assert got.wording == expected.wording
    assert got.position_of == expected.position_of
    pd.testing.assert_index_equal(got.positions, expected.positions, exact=True)
    assert got.finite == expected.finite and len(got) == len(expected)
    assert got.layout[1:] == expected.layout[1:]
    assert (got.strip_origin_km, got.north_origin_km, got.strip_stride_km) == \
        (expected.strip_origin_km, expected.north_origin_km, expected.strip_stride_km)

    assert got.screen_head.shape == (len(got.screen_basis), len(got)) and len(got.screen_basis) < DIM
    np.testing.assert_allclose(got.screen_basis @ got.screen_basis.T, np.eye(len(got.screen_basis)), atol=1e-9)
    remainder = np.linalg.norm(got.embeddings - got.screen_head.T.astype(np.float64) @ got.screen_basis, axis=1)
    norms = np.linalg.norm(got.embeddings, axis=1)
    assert (remainder <= got.screen_tail + 1e-5 * norms).all() and got.screen_tail.max() > 0

    rng = np.random.default_rng(0)
    n_seekers = 6
    requests = SeekerRequests.from_table(dataset.seekers.iloc[:n_seekers],
                                         rng.normal(size=(n_seekers, DIM)).astype(np.float32),
                                         rng.normal(size=n_seekers).astype(np.float32), [[]] * n_seekers)
    now = int(np.median(got.posted_ns))
    for max_commute_km in (None, np.inf):
        filters = Rules(now_ns=now, max_commute_km=max_commute_km, job_types=None, districts=None,
                          meets_requirements=max_commute_km is None, exclude_applied=False)
        got_positions, got_scores = top_k(got, requests, np.arange(n_seekers), 10, filters)
        positions, scores = top_k(expected, requests, np.arange(n_seekers), 10, filters)
        np.testing.assert_array_equal(got_positions, positions)
        np.testing.assert_array_equal(got_scores, scores)
        assert (positions >= 0).sum() >= 10, "too few ranked jobs for the comparison to mean much"


def fields(catalogue: Catalogue) -> dict:
    """Copies of every field of a snapshot, to check it was left unchanged."""
    return {"table": catalogue.table.copy(), "features": catalogue.features.copy(),
            "wording": list(catalogue.wording), "position_of": dict(catalogue.position_of),
            **{name: np.array(getattr(catalogue, name)) for name in
               (*ROW_FIELDS, "screen_basis", "screen_head", "strip_starts", "strip_key")},
            **{f"text {c}": catalogue.text[c].copy() for c in TEXT_COLUMNS}}


def assert_unchanged(catalogue: Catalogue, before: dict) -> None:
    after = fields(catalogue)
    pd.testing.assert_frame_equal(after.pop("table"), before.pop("table"))
    assert (after.pop("features") != before.pop("features")).nnz == 0
    assert after.keys() == before.keys()
    for name, value in before.items():
        if isinstance(value, np.ndarray):
            np.testing.assert_array_equal(after[name], value, err_msg=name)
        else:
            assert after[name] == value, name


def test_updates_equal_a_full_build(dataset: Dataset) -> None:
    rng = np.random.default_rng(1)
    catalogue = Catalogue.build(*make_jobs(dataset, 400, "A", rng))
    before = fields(catalogue)
    # keep the jobs that fix the layout (west-, south-, northmost), so a build lays out the same strips
    extremes = np.unique([np.argmin(catalogue.east_km), np.argmin(catalogue.north_km), np.argmax(catalogue.north_km)])
    keep = rng.random(len(catalogue)) > 0.1
    keep[extremes] = True
    snapshot = catalogue.subset(keep)
    table, embeddings, biases, features = make_jobs(dataset, 60, "B", rng)
    inside = (table["lat"].between(*catalogue.table["lat"].agg(["min", "max"]))
              & (table["lon"] > catalogue.table["lon"].min())).to_numpy()
    snapshot = snapshot.with_jobs(table[inside], embeddings[inside], biases[inside], features[inside])
    # replace existing ids (one of them twice over the sequence) with new locations and representations
    replaced = rng.choice(snapshot.job_ids[~np.isin(snapshot.job_ids, catalogue.job_ids[extremes])], 20,
                          replace=False)
    table, embeddings, biases, features = make_jobs(dataset, 20, "C", rng)
    table["job_id"] = replaced
    inside = (table["lat"].between(*catalogue.table["lat"].agg(["min", "max"]))
              & (table["lon"] > catalogue.table["lon"].min())).to_numpy()
    snapshot = snapshot.with_jobs(table[inside], embeddings[inside], biases[inside], features[inside])
    snapshot = snapshot.subset(~np.isin(snapshot.job_ids, replaced[:3]))
    snapshot = snapshot.with_jobs(table.iloc[[4]], embeddings[[4]], biases[[4]], features[[4]])

    assert snapshot.strip_stride_km == catalogue.strip_stride_km, "an update fell back to a full build"
    assert snapshot.version == catalogue.version + 5
    assert inside.sum() >= 10 and set(table["job_id"][inside]) - set(replaced[:3]) <= set(snapshot.job_ids)
    assert not set(replaced[:3]) & set(snapshot.job_ids)
    row = snapshot.position_of[table["job_id"][4]]
    np.testing.assert_array_equal(snapshot.embeddings[row], embeddings[4])
    assert snapshot.table["lat"][row] == table["lat"][4]
    assert len(set(snapshot.job_ids)) == len(snapshot)
    assert_same_catalogue(snapshot, rebuilt(snapshot, seed=2), dataset)
    assert_unchanged(catalogue, before)


def test_new_job_outside_the_layout_rebuilds(dataset: Dataset) -> None:
    rng = np.random.default_rng(3)
    catalogue = Catalogue.build(*make_jobs(dataset, 300, "A", rng))
    before = fields(catalogue)
    north = make_jobs(dataset, 5, "N", rng, lat_shift=1.0)  # ~110 km north of every job
    updated = catalogue.with_jobs(*north)
    assert updated.strip_stride_km > catalogue.strip_stride_km + 100
    assert updated.version == catalogue.version + 1 and len(updated) == len(catalogue) + 5
    assert_same_catalogue(updated, rebuilt(updated, seed=4), dataset)
    west = make_jobs(dataset, 3, "W", rng)
    west[0]["lon"] = catalogue.table["lon"].min() - 1.0  # ~100 km west: beyond the layout's margin
    updated = updated.with_jobs(*west)
    assert updated.strip_origin_km < catalogue.strip_origin_km
    assert_same_catalogue(updated, rebuilt(updated, seed=5), dataset)
    assert_unchanged(catalogue, before)


def test_new_job_near_the_catalogue_is_merged_without_a_rebuild(dataset: Dataset) -> None:
    rng = np.random.default_rng(8)
    catalogue = Catalogue.build(*make_jobs(dataset, 300, "A", rng))
    near = make_jobs(dataset, 4, "E", rng)
    near[0]["lon"] = catalogue.table["lon"].min() - 0.2  # ~20 km west of the westmost job
    near[0]["lat"] = catalogue.table["lat"].max() + 0.2  # and ~22 km north of the northmost
    updated = catalogue.with_jobs(*near)
    assert (updated.strip_origin_km, updated.strip_stride_km) == (catalogue.strip_origin_km,
                                                                 catalogue.strip_stride_km)
    assert len(updated) == len(catalogue) + 4
    east, north = planar_km(np.array([near[0]["lat"][0]]), np.array([near[0]["lon"][0]]))
    starts, stops = updated.ranges_within(float(east[0]), float(east[0]), float(north[0]), float(north[0]), 0.1)
    covered = np.concatenate([np.arange(a, b) for a, b in zip(starts, stops, strict=True)])
    assert updated.position_of["E00000"] in covered


def test_subset_keeping_every_job_shares_the_arrays(dataset: Dataset) -> None:
    catalogue = Catalogue.build(*make_jobs(dataset, 200, "A", np.random.default_rng(6)))
    same = catalogue.subset(np.ones(len(catalogue), dtype=bool))
    assert same.version == catalogue.version + 1 and same.scoring is catalogue.scoring
    pd.testing.assert_frame_equal(same.table, catalogue.table)
    emptied = same.subset(np.zeros(len(catalogue), dtype=bool))
    assert len(emptied) == 0 and emptied.table.empty and emptied.position_of == {}
    refilled = emptied.with_jobs(*jobs_of(catalogue))
    assert_same_catalogue(refilled, catalogue, dataset)
    with pytest.raises(ValueError, match="boolean mask"):
        catalogue.subset(np.ones(3, dtype=bool))


# ---------------------------------------------------------------------- minimal data (issue 11)
@pytest.fixture(scope="module")
def collaborative(dataset: Dataset):
    from recsys.models import LightFMCollaborative

    return LightFMCollaborative(no_components=8, epochs=2, random_state=0).fit(dataset)


def minimal_ranker(model, dataset: Dataset, jobs: pd.DataFrame | None = None):
    """A ranker whose postings table has only ``job_id`` (or ``jobs``) and whose seekers only ``seeker_id``."""
    from recsys.api import Ranker

    rows = np.flatnonzero(model.representable_jobs())
    embeddings, biases = model.job_representations(rows=rows)
    table = dataset.jobs.iloc[rows][["job_id"]] if jobs is None else jobs
    catalogue = Catalogue.build(table, embeddings, biases, model.job_feature_matrix(rows=rows))
    seeker_rows = np.flatnonzero(model.representable_seekers())
    seekers = dataset.seekers.iloc[seeker_rows][["seeker_id"]]
    requests = SeekerRequests.from_table(seekers, *model.seeker_representations(rows=seeker_rows),
                                         [np.empty(0, dtype=object)] * len(seeker_rows))
    return Ranker(model, catalogue, seekers, requests, dataset.interactions["ts"].max()), rows, seeker_rows


def test_ranking_on_postings_with_only_job_id(collaborative, dataset: Dataset, tmp_path: Path) -> None:
    from recsys.api import InvalidFilterError, load_ranker

    ranker, rows, seeker_rows = minimal_ranker(collaborative, dataset)
    catalogue = ranker.catalogue
    assert not catalogue.has_locations and catalogue.vocabularies == {"job_type": (), "district": ()}
    assert (catalogue.expires_ns == np.iinfo(np.int64).max).all()  # no expires_at: always active
    seeker = str(ranker.seeker_ids.ids[0])
    got = ranker.rank(seeker, k=10)  # default filters: own commute limit, requirements, applied
    scores = collaborative.score([seeker_rows[0]], rows)[0]
    expected = dataset.job_ids.to_ids(rows[np.argsort(-scores, kind="stable")[:10]])
    assert [r.job_id for r in got] == list(expected)
    assert all(reason.code != "distance" for r in got for reason in r.reasons)
    assert ranker.rank(seeker, k=10, max_commute_km=float("inf")) == got
    for field, value in (("max_commute_km", 10.0), ("job_types", ["full_time"]), ("districts", ["tianhe"])):
        with pytest.raises(InvalidFilterError, match=field):
            ranker.rank(seeker, k=10, **{field: value})
    loaded = load_ranker(ranker.save(tmp_path / "minimal"), set_default=False)
    assert loaded.rank(seeker, k=10) == got and not loaded.catalogue.has_locations
    ranker.expire(ranker.now + pd.Timedelta(days=3650))
    assert len(ranker.catalogue) == len(catalogue) and ranker.rank(seeker, k=10) == got


def test_open_vocabularies_and_postings_without_location(collaborative, dataset: Dataset) -> None:
    rows = np.flatnonzero(collaborative.representable_jobs())
    jobs = dataset.jobs.iloc[rows][["job_id", "lat", "lon"]].reset_index(drop=True)
    jobs["district"] = np.where(np.arange(len(jobs)) % 2, "Brooklyn", "Queens")
    jobs["job_type"] = np.where(np.arange(len(jobs)) % 3 == 0, "contract", None)
    unlocated = np.arange(len(jobs)) % 4 == 0
    jobs.loc[unlocated, ["lat", "lon"]] = np.nan
    ranker, _, _ = minimal_ranker(collaborative, dataset, jobs)
    catalogue = ranker.catalogue
    assert catalogue.has_locations and catalogue.vocabularies["district"] == ("Brooklyn", "Queens")
    seeker = str(ranker.seeker_ids.ids[1])
    everything = {r.job_id for r in ranker.rank(seeker, k=len(jobs), max_commute_km=float("inf"))}
    assert everything == set(jobs["job_id"])  # no limit: postings without a location are kept
    # a seeker located at a posting: a finite limit never passes a posting without a location
    profile_seekers = ranker.seekers.copy()
    located = jobs.loc[~unlocated].iloc[0]
    known = ranker.known_seekers
    known_rows = SeekerRequests.from_table(profile_seekers.assign(lat=located["lat"], lon=located["lon"],
                                                                 max_commute_km=5.0),
                                           known.embeddings, known.biases, known.applied)
    from recsys.api import Ranker

    placed = Ranker(ranker.model, catalogue, profile_seekers, known_rows, ranker.now)
    near = {r.job_id for r in placed.rank(seeker, k=len(jobs), max_commute_km=1000.0)}
    assert near == set(jobs.loc[~unlocated, "job_id"])
    brooklyn = {r.job_id for r in ranker.rank(seeker, k=len(jobs), districts=["Brooklyn"],
                                              max_commute_km=float("inf"))}
    assert brooklyn == set(jobs.loc[jobs["district"] == "Brooklyn", "job_id"])
    contract = {r.job_id for r in ranker.rank(seeker, k=len(jobs), job_types="contract",
                                              max_commute_km=float("inf"))}
    assert contract == set(jobs.loc[jobs["job_type"] == "contract", "job_id"])  # missing types never match
    # a new district appended by an update keeps the old codes valid
    extra = jobs.iloc[:2].assign(job_id=["X-1", "X-2"], district="Bronx")
    updated = catalogue.with_jobs(extra, catalogue.embeddings[:2], catalogue.biases[:2], catalogue.features[:2])
    assert updated.vocabularies["district"] == ("Brooklyn", "Queens", "Bronx")
    bronx = updated.district[[updated.position_of["X-1"], updated.position_of["X-2"]]]
    assert (bronx == 3).all()
    same = [updated.position_of[j] for j in jobs["job_id"]]
    np.testing.assert_array_equal(updated.district[same], catalogue.district[[catalogue.position_of[j]
                                                                              for j in jobs["job_id"]]])


def test_minimal_catalogue_updates_equal_a_full_build(dataset: Dataset) -> None:
    rng = np.random.default_rng(3)
    jobs, embeddings, biases, features = make_jobs(dataset, 30, "M", rng)
    minimal = jobs[["job_id"]]
    built = Catalogue.build(minimal.iloc[:20], embeddings[:20], biases[:20], features[:20])
    updated = built.with_jobs(minimal.iloc[20:], embeddings[20:], biases[20:], features[20:])
    full = Catalogue.build(minimal, embeddings, biases, features)
    assert sorted(updated.job_ids) == sorted(full.job_ids)
    order = [full.position_of[j] for j in updated.job_ids]
    np.testing.assert_array_equal(updated.scoring, full.scoring[order])
    assert updated.table.columns.tolist() == full.table.columns.tolist()
