"""The Recommender base class (top-k, masks, routing, persistence) through Random and Popularity."""

from __future__ import annotations

import json

import numpy as np
import pytest

from recsys.data.dataset import Dataset
from recsys.evaluation import temporal_split
from recsys.models import (
    ModelFormatError,
    NotFittedError,
    Popularity,
    RandomRecommender,
    Recommender,
    UnsupportedSeekerError,
    top_k,
)
from recsys.models.base import CandidateBlock
from tests.eval_tables import CUTOFF, hand_dataset

NEW_JOBS = ["J3", "J4", "J5"]  # no training interaction before the cut-off


@pytest.fixture
def train() -> Dataset:
    """Interactions before 2025-03-10: applies S0->J0, S1->J0, S1->J1, S2->J1; S2 viewed J2."""
    return temporal_split(hand_dataset(), CUTOFF).train


class WarmOnly(Recommender):
    """Scores job row ``j`` as ``j``; cannot serve seekers without training history."""

    serves_new_jobs = True

    def _fit(self, dataset: Dataset) -> None:
        pass

    def _score(self, seeker_rows: np.ndarray, job_rows: np.ndarray) -> np.ndarray:
        return np.broadcast_to(job_rows.astype(float), (len(seeker_rows), len(job_rows))).copy()


# ---------------------------------------------------------------------- top_k
def test_top_k_breaks_ties_by_lower_index_even_across_the_cut() -> None:
    scores = np.array([[1.0, 5.0, 1.0, 1.0, 1.0, 0.0], [3.0, 3.0, 3.0, 3.0, 3.0, 3.0]])
    idx, val = top_k(scores, 3)
    np.testing.assert_array_equal(idx, [[1, 0, 2], [0, 1, 2]])
    np.testing.assert_array_equal(val, [[5, 1, 1], [3, 3, 3]])


def test_top_k_masks_minus_inf_and_pads() -> None:
    scores = np.array([[0.5, -np.inf, 0.2], [-np.inf, -np.inf, -np.inf]])
    idx, val = top_k(scores, 5)  # k larger than the row
    np.testing.assert_array_equal(idx, [[0, 2, -1, -1, -1], [-1, -1, -1, -1, -1]])
    assert np.isneginf(val[0, 2:]).all() and np.isneginf(val[1]).all()
    with pytest.raises(ValueError, match="k must be positive"):
        top_k(scores, 0)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_top_k_equals_a_stable_full_sort(dtype) -> None:
    rng = np.random.default_rng(7)
    scores = rng.integers(0, 4, size=(50, 12)).astype(dtype)  # many ties, also across the cut
    scores[rng.random(scores.shape) < 0.3] = -np.inf
    scores[0] = -np.inf  # nothing to recommend
    for k in (1, 3, 11, 12, 15):
        order = np.argsort(-scores, axis=1, kind="stable")[:, :k]  # ties: lower column first
        want_val = np.take_along_axis(scores, order, axis=1)
        want_idx = np.where(np.isneginf(want_val), -1, order)
        if k > scores.shape[1]:
            pad = k - scores.shape[1]
            want_idx = np.hstack([want_idx, np.full((len(scores), pad), -1)])
            want_val = np.hstack([want_val, np.full((len(scores), pad), -np.inf)])
        idx, val = top_k(scores, k)
        np.testing.assert_array_equal(idx, want_idx)
        np.testing.assert_array_equal(val, want_val)
        assert val.dtype == dtype


# ---------------------------------------------------------------------- recommend
def test_recommend_excludes_seen_and_new_jobs(train: Dataset) -> None:
    model = Popularity().fit(train)
    recs = model.recommend(["S0", "S3"], k=3)
    assert list(recs.columns) == ["seeker_id", "job_id", "score", "rank"]
    # J0 and J1 have two applicants each (tie -> lower row first); J2 was only viewed; J3-J5 are new
    assert recs.loc[recs["seeker_id"] == "S3", "job_id"].tolist() == ["J0", "J1", "J2"]
    assert recs.loc[recs["seeker_id"] == "S0", "job_id"].tolist() == ["J1", "J2"]  # applied to J0
    assert recs["rank"].tolist() == [1, 2, 1, 2, 3]
    with_seen = model.recommend(["S0"], k=3, exclude_seen=False)
    assert with_seen["job_id"].tolist() == ["J0", "J1", "J2"]
    assert not recs["job_id"].isin(NEW_JOBS).any()


def test_recommend_restricts_to_candidates(train: Dataset) -> None:
    model = Popularity().fit(train)
    recs = model.recommend(["S3", "S4"], k=3, candidates=["J2", "J1", "J4"])
    assert recs["job_id"].tolist() == ["J1", "J2", "J1", "J2"]  # J4 is new: never served


def test_recommend_rows_equals_top_k_of_the_masked_score_matrix(train: Dataset) -> None:
    model = RandomRecommender(seed=2).fit(train)
    rows = np.array([4, 0, 3, 1])
    allowed = np.random.default_rng(0).random((len(rows), train.n_jobs)) < 0.5
    mask_fn = lambda batch: allowed[[list(rows).index(r) for r in batch]]  # noqa: E731
    idx, val = model.recommend_rows(rows, 4, candidate_mask=mask_fn, exclude_seen=False, batch_size=3)
    expected = np.where(allowed, model.score(rows), -np.inf)
    want_idx, want_val = top_k(expected, 4)
    np.testing.assert_array_equal(idx, want_idx)
    np.testing.assert_array_equal(val, want_val)


def test_candidate_block_gives_the_same_lists_as_the_dense_mask(train: Dataset) -> None:
    model = RandomRecommender(seed=3).fit(train)
    rows = np.array([4, 0, 3, 1, 2])
    allowed = np.random.default_rng(1).random((len(rows), train.n_jobs)) < 0.5
    allowed[:, [0, 4]] = False  # columns nobody may get: a block can leave them out
    columns = np.array([1, 2, 3, 5])
    position = {row: i for i, row in enumerate(rows)}
    dense = lambda batch: allowed[[position[r] for r in batch]]  # noqa: E731
    block = lambda batch: CandidateBlock(columns, allowed[[position[r] for r in batch]][:, columns])  # noqa: E731
    for exclude_seen in (True, False):
        want = model.recommend_rows(rows, 3, candidate_mask=dense, exclude_seen=exclude_seen, batch_size=2)
        got = model.recommend_rows(rows, 3, candidate_mask=block, exclude_seen=exclude_seen, batch_size=2)
        np.testing.assert_array_equal(got[0], want[0])
        np.testing.assert_array_equal(got[1], want[1])
    with pytest.raises(ValueError, match="ascending"):
        model.recommend_rows(rows, 3, candidate_mask=lambda b: CandidateBlock(columns[::-1], np.ones((len(b), 4))))
    with pytest.raises(ValueError, match="shape"):
        model.recommend_rows(rows, 3, candidate_mask=lambda b: CandidateBlock(columns, np.ones((len(b), 3))))


def test_cold_seekers_are_routed(train: Dataset) -> None:
    model = WarmOnly().fit(train)
    assert model.recommend(["S0"], k=2)["job_id"].tolist() == ["J5", "J4"]  # highest row first
    with pytest.raises(UnsupportedSeekerError, match="S3"):
        model.recommend(["S0", "S3"], k=2)
    recs = model.recommend(["S3"], k=2, cold_seekers="popular")
    assert recs["job_id"].tolist() == ["J0", "J1"]  # two applicants each


def test_popularity_fallback_never_fills_lists_with_jobs_without_history(train: Dataset) -> None:
    model = WarmOnly().fit(train)
    # J2 was only viewed (popularity 0, but known); J3..J5 have no training interaction at all
    recs = model.recommend(["S3"], k=6, cold_seekers="popular", exclude_seen=False)
    assert recs["job_id"].tolist() == ["J0", "J1", "J2"]


def test_unknown_ids_and_unfitted_models_raise(train: Dataset) -> None:
    with pytest.raises(NotFittedError):
        Popularity().recommend(["S0"])
    model = Popularity().fit(train)
    with pytest.raises(ValueError, match="S99"):
        model.recommend(["S99"])
    with pytest.raises(ValueError, match="mode"):
        Popularity(mode="weekly").fit(train)
    with pytest.raises(ValueError, match="event"):
        Popularity(event="click").fit(train)


# ---------------------------------------------------------------------- baselines
def test_popularity_modes_by_hand(train: Dataset) -> None:
    rows = train.seeker_ids.to_rows(["S2", "S4"])
    tie_break = 2 / 3  # global count 2 / (max 2 + 1), for J0 and J1
    district = Popularity(mode="district").fit(train).score(rows, [0, 1, 2])
    # haizhu (S2): one applicant to J1; baiyun (S4): none
    np.testing.assert_allclose(district, [[tie_break, 1 + tie_break, 0], [tie_break, tie_break, 0]])
    # last training interaction 03-06 09:00; 1.5 days back is 03-04 21:00: only S2 -> J1 (03-05) is recent
    recent = Popularity(mode="recent", window_days=1.5).fit(train).score(rows[:1], [0, 1, 2])
    np.testing.assert_allclose(recent, [[tie_break, 1 + tie_break, 0]])
    assert np.isneginf(Popularity().fit(train).score(rows[:1], [3, 4, 5])).all()


def test_random_is_seeded_and_batch_independent(train: Dataset) -> None:
    model = RandomRecommender(seed=7).fit(train)
    full = model.score(np.arange(5))
    np.testing.assert_array_equal(model.score([3, 1], [5, 0]), full[np.ix_([3, 1], [5, 0])])
    np.testing.assert_array_equal(RandomRecommender(seed=7).fit(train).score(np.arange(5)), full)
    assert not np.array_equal(RandomRecommender(seed=8).fit(train).score(np.arange(5)), full)
    assert ((full >= 0) & (full < 1)).all()
    assert len(np.unique(full)) == full.size


# ---------------------------------------------------------------------- persistence
@pytest.mark.parametrize("model", [Popularity(mode="district"), Popularity(mode="recent", window_days=2),
                                   RandomRecommender(seed=3)], ids=repr)
def test_save_load_round_trip(train: Dataset, tmp_path, model: Recommender) -> None:
    model.fit(train)
    loaded = Recommender.load(model.save(tmp_path / "model"))
    assert type(loaded) is type(model) and loaded.get_params() == model.get_params()
    seekers = ["S0", "S2", "S3", "S4"]
    np.testing.assert_array_equal(loaded.score(np.arange(5)), model.score(np.arange(5)))
    assert loaded.recommend(seekers, k=4).equals(model.recommend(seekers, k=4))


def test_corrupt_or_mismatched_artifacts_raise(train: Dataset, tmp_path) -> None:
    path = Popularity().fit(train).save(tmp_path / "model")
    meta = json.loads((path / "model.json").read_text())
    (path / "model.json").write_text(json.dumps({**meta, "format_version": 99}))
    with pytest.raises(ModelFormatError, match="version 99"):
        Recommender.load(path)
    (path / "model.json").write_text(json.dumps({**meta, "class": "os.system"}))
    with pytest.raises(ModelFormatError):
        Recommender.load(path)
    (path / "model.json").write_text(json.dumps(meta))
    data = bytearray((path / "arrays.npz").read_bytes())
    data[len(data) // 2] ^= 0xFF
    (path / "arrays.npz").write_bytes(bytes(data))
    with pytest.raises(ModelFormatError, match="checksum"):
        Recommender.load(path)
    (path / "model.json").write_text("{not json")
    with pytest.raises(ModelFormatError, match="corrupt"):
        Recommender.load(path)
    with pytest.raises(ModelFormatError, match="no model.json"):
        Recommender.load(tmp_path / "missing")
