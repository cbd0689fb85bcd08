"""Every ranking metric on small cases computed by hand."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from recsys.evaluation import metrics as m
from recsys.models.base import top_k

N_JOBS = 6
# Seeker 0: three relevant jobs, hits at ranks 1 and 2 (0-based).  Seeker 1: one relevant, hit at rank 1,
# only two candidates.  Seeker 2: one relevant, missed, one candidate.  Seeker 3: nothing relevant.
RANKED = np.array([[2, 0, 5], [1, 3, -1], [4, -1, -1], [0, 1, 2]])
RELEVANT_SETS = [{0, 5, 3}, {3}, {1}, set()]


def relevant_matrix(sets: list[set[int]] = RELEVANT_SETS, n_jobs: int = N_JOBS) -> sp.csr_matrix:
    rows = [i for i, jobs in enumerate(sets) for _ in jobs]
    cols = [j for jobs in sets for j in sorted(jobs)]
    return sp.csr_matrix((np.ones(len(rows)), (rows, cols)), shape=(len(sets), n_jobs))


LOG3, LOG4 = np.log2(3.0), np.log2(4.0)
EXPECTED_AT_3 = {
    "hr": [1, 1, 0, np.nan],
    "precision": [2 / 3, 1 / 3, 0, np.nan],
    "recall": [2 / 3, 1, 0, np.nan],
    "ndcg": [(1 / LOG3 + 1 / LOG4) / (1 + 1 / LOG3 + 1 / LOG4), 1 / LOG3, 0, np.nan],
    "map": [(1 / 2 + 2 / 3) / 3, 1 / 2, 0, np.nan],
    "mrr": [1 / 2, 1 / 2, 0, np.nan],
}


@pytest.mark.parametrize("name", list(EXPECTED_AT_3))
def test_metrics_at_3_match_hand_computation(name: str) -> None:
    values = m.RANKING_METRICS[name](RANKED, relevant_matrix(), 3)
    np.testing.assert_allclose(values, EXPECTED_AT_3[name], equal_nan=True)


def test_ranking_metrics_shares_one_hit_matrix_with_the_same_values() -> None:
    table = m.ranking_metrics(RANKED, relevant_matrix(), ks=(1, 3, 10))
    assert len(table) == len(m.RANKING_METRICS) * 3
    for name, function in m.RANKING_METRICS.items():
        for k in (1, 3, 10):
            np.testing.assert_array_equal(table[f"{name}@{k}"], function(RANKED, relevant_matrix(), k))
    with pytest.raises(ValueError, match="unknown metric"):
        m.ranking_metrics(RANKED, relevant_matrix(), ks=(3,), names=["auc"])


def test_k_defaults_to_list_length() -> None:
    np.testing.assert_allclose(m.ndcg(RANKED, relevant_matrix()), EXPECTED_AT_3["ndcg"], equal_nan=True)


def test_cutoff_one_reads_only_the_first_job() -> None:
    relevant = relevant_matrix()
    np.testing.assert_allclose(m.hit_rate(RANKED, relevant, 1), [0, 0, 0, np.nan], equal_nan=True)
    np.testing.assert_allclose(m.reciprocal_rank(RANKED, relevant, 1), [0, 0, 0, np.nan], equal_nan=True)


def test_k_larger_than_list_and_catalogue() -> None:
    relevant = relevant_matrix()
    k = 10  # > list length 3 and > 6 jobs
    np.testing.assert_allclose(m.precision(RANKED, relevant, k), [2 / 10, 1 / 10, 0, np.nan], equal_nan=True)
    np.testing.assert_allclose(m.recall(RANKED, relevant, k), [2 / 3, 1, 0, np.nan], equal_nan=True)
    # the ideal list holds min(k, R) = 3 relevant jobs, so NDCG and AP do not change
    np.testing.assert_allclose(m.ndcg(RANKED, relevant, k), EXPECTED_AT_3["ndcg"], equal_nan=True)
    np.testing.assert_allclose(m.average_precision(RANKED, relevant, k), EXPECTED_AT_3["map"], equal_nan=True)


def test_hit_rate_never_exceeds_one_with_many_hits() -> None:
    ranked = np.array([[0, 1, 2, 3]])
    relevant = relevant_matrix([{0, 1, 2, 3}], 4)
    assert m.hit_rate(ranked, relevant, 4)[0] == 1.0
    assert m.ndcg(ranked, relevant, 4)[0] == pytest.approx(1.0)
    assert m.average_precision(ranked, relevant, 4)[0] == pytest.approx(1.0)


def test_ties_are_ranked_by_lower_job_row_before_scoring() -> None:
    scores = np.array([[1.0, 1.0, 1.0, 0.0]])
    relevant = relevant_matrix([{2}], 4)
    ranked, _ = top_k(scores, 3)
    np.testing.assert_array_equal(ranked, [[0, 1, 2]])
    assert m.hit_rate(ranked[:, :2], relevant)[0] == 0.0
    assert m.reciprocal_rank(ranked, relevant)[0] == pytest.approx(1 / 3)
    assert m.ndcg(ranked, relevant)[0] == pytest.approx(1 / np.log2(4))


def test_stored_zeros_and_padding_are_not_relevant() -> None:
    relevant = sp.csr_matrix((np.array([0.0, 1.0]), ([0, 0], [0, 3])), shape=(1, 4))
    ranked = np.array([[0, -1, 3]])
    np.testing.assert_array_equal(m.hit_matrix(ranked, relevant), [[False, False, True]])
    assert m.recall(ranked, relevant)[0] == 1.0  # R = 1: the stored zero is not a relevant job


def test_bad_inputs_raise_value_errors() -> None:
    relevant = relevant_matrix()
    with pytest.raises(ValueError, match="integer"):
        m.hit_rate(RANKED.astype(float), relevant)
    with pytest.raises(ValueError, match="rows"):
        m.hit_rate(RANKED[:2], relevant)
    with pytest.raises(ValueError, match=r"\[-1, 6\)"):
        m.hit_rate(np.array([[7], [0], [0], [0]]), relevant)
    with pytest.raises(ValueError, match="k must be positive"):
        m.precision(RANKED, relevant, 0)


def test_catalogue_coverage() -> None:
    assert m.catalogue_coverage(RANKED, N_JOBS, 3) == 1.0  # every job appears somewhere
    assert m.catalogue_coverage(RANKED, N_JOBS, 1) == pytest.approx(4 / 6)  # jobs 2, 1, 4, 0
    eligible = np.array([True, True, False, False, False, True])
    assert m.catalogue_coverage(RANKED, N_JOBS, 1, eligible) == pytest.approx(2 / 3)  # 0 and 1 of {0, 1, 5}


def test_gini() -> None:
    assert m.gini(np.array([3, 3, 3, 3])) == 0.0
    assert m.gini(np.array([0, 0, 0, 4])) == pytest.approx(0.75)  # 1 - 1/n
    assert m.gini(np.array([1, 2, 3, 4])) == pytest.approx(10 / 40)
    assert np.isnan(m.gini(np.zeros(3)))
    # exposure: counts at k=1 are job0:1, job1:1, job2:1, job4:1, job3:0, job5:0
    assert m.exposure_gini(RANKED, N_JOBS, 1) == pytest.approx(m.gini(np.array([1, 1, 1, 0, 1, 0])))


def test_congestion_share() -> None:
    oversubscribed = np.array([True, False, False, True, False, False])
    np.testing.assert_allclose(m.congestion_share(RANKED, oversubscribed, 3), [1 / 3, 1 / 2, 0, 1 / 3])
    assert np.isnan(m.congestion_share(np.array([[-1, -1]]), oversubscribed)[0])


def test_metrics_from_masked_hits_equal_metrics_on_restricted_relevance() -> None:
    restricted_jobs = np.array([True, False, True, True, False, True])  # drop jobs 1 and 4
    restricted = relevant_matrix([jobs & set(np.flatnonzero(restricted_jobs)) for jobs in RELEVANT_SETS])
    hits = m.hit_matrix(RANKED, relevant_matrix()) & restricted_jobs[RANKED]
    got = m.metrics_from_hits(hits, np.diff(restricted.indptr), ks=(1, 3))
    want = m.ranking_metrics(RANKED, restricted, ks=(1, 3))
    assert got.keys() == want.keys()
    for column in want:
        np.testing.assert_array_equal(got[column], want[column])


def test_hit_matrix_without_relevant_pairs_is_all_false() -> None:
    assert not m.hit_matrix(RANKED, sp.csr_matrix((len(RANKED), N_JOBS))).any()
