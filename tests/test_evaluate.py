"""evaluate() and compare(): hand-checked lists, model ordering on tiny, intervals, Holm, LightFM agreement."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
from lightfm import LightFM
from lightfm.evaluation import precision_at_k, recall_at_k
from scipy import stats

from recsys.data.dataset import Dataset
from recsys.data.synthetic.truth import GroundTruth
from recsys.evaluation import (
    EvaluationResult,
    LatentOracle,
    ObservableOracle,
    Oracle,
    cold_job_split,
    compare,
    evaluate,
    holm,
    oversubscribed_jobs,
    paired_effect_size,
    paired_test,
    temporal_split,
)
from recsys.evaluation.significance import bootstrap_ci, bootstrap_mean_intervals, paired_bootstrap_ci
from recsys.models import Popularity, RandomRecommender, Recommender, UnsupportedSeekerError
from tests.eval_tables import CUTOFF, hand_dataset

KS = (5, 10)


class WarmOnly(Recommender):
    """Scores job row ``j`` as ``j``; cannot serve seekers without training history."""

    serves_cold_seekers = False
    serves_new_jobs = True

    def _fit(self, dataset: Dataset) -> None:
        pass

    def _score(self, seeker_rows: np.ndarray, job_rows: np.ndarray) -> np.ndarray:
        return np.broadcast_to(job_rows.astype(float), (len(seeker_rows), len(job_rows))).copy()


class FixedEmbeddings(Recommender):
    """``user_repr @ item_repr.T + biases`` of a fitted ``lightfm.LightFM`` (serves every row)."""

    serves_cold_seekers = True
    serves_new_jobs = True

    def __init__(self, lightfm_model=None) -> None:
        self.lightfm_model = lightfm_model

    def _fit(self, dataset: Dataset) -> None:
        user_bias, user_repr = self.lightfm_model.get_user_representations()
        item_bias, item_repr = self.lightfm_model.get_item_representations()
        self.user_ = np.hstack([user_repr, user_bias[:, None], np.ones((len(user_bias), 1))])
        self.item_ = np.hstack([item_repr, np.ones((len(item_bias), 1)), item_bias[:, None]])

    def _score(self, seeker_rows: np.ndarray, job_rows: np.ndarray) -> np.ndarray:
        return self.user_[seeker_rows] @ self.item_[job_rows].T


@pytest.fixture(scope="module")
def tiny_split(tiny_data_dir):
    return temporal_split(Dataset.load(tiny_data_dir), last_days=30)


@pytest.fixture(scope="module")
def tiny_results(tiny_split, tiny_data_dir) -> dict[str, EvaluationResult]:
    oracle = evaluate(Oracle(tiny_data_dir).fit(tiny_split.train), tiny_split, KS)
    models = {"random": RandomRecommender(seed=0), "popularity": Popularity()}
    results = {name: evaluate(model.fit(tiny_split.train), tiny_split, KS, oracle=oracle)
               for name, model in models.items()}
    # truth= evaluates the oracle inside evaluate()
    results["district"] = evaluate(Popularity(mode="district").fit(tiny_split.train), tiny_split, KS,
                                   truth=tiny_data_dir)
    return {**results, "oracle": oracle}


def test_lists_and_metrics_by_hand() -> None:
    split = temporal_split(hand_dataset(), CUTOFF)
    result = evaluate(Popularity().fit(split.train), split, ks=(1, 3), n_resamples=200)
    # applies before T: J0 by S0, S1; J1 by S1, S2 -> J0 and J1 tie at 2, J2 (only viewed) at 0;
    # J3-J5 are new postings, which Popularity never recommends
    np.testing.assert_array_equal(result.recommendations, [[1, 2, -1], [-1, -1, -1], [0, -1, -1], [0, 1, 2]])
    frame = result.per_seeker
    assert frame["seeker_id"].tolist() == ["S0", "S1", "S2", "S3"]
    np.testing.assert_array_equal(frame["hr@1"], [1, 0, 1, 0])
    np.testing.assert_array_equal(frame["hr@3"], [1, 0, 1, 1])
    np.testing.assert_allclose(frame["mrr@3"], [1, 0, 1, 1 / 3])
    np.testing.assert_array_equal(frame["is_cold"], [False, False, False, True])
    # J0 has 1 vacancy and 2 applications: over-subscribed; J1 has 5 vacancies
    np.testing.assert_allclose(frame["congestion@3"], [0, np.nan, 1, 1 / 3])
    assert result.value("hr", 3) == 0.75
    # jobs active between the first (03-11) and last (03-15) test time: J0-J4; shown: J0, J1, J2
    assert result.value("coverage", 3) == pytest.approx(3 / 5)


def test_recommendations_are_candidates_only(tiny_split, tiny_results) -> None:
    for result in tiny_results.values():
        ranked = result.recommendations
        mask = tiny_split.candidate_mask(np.arange(tiny_split.n_test))
        shown = ranked >= 0
        assert mask[np.nonzero(shown)[0], ranked[shown]].all()


def test_oracle_beats_popularity_beats_random(tiny_results) -> None:
    hr = {name: result.value("hr", 10) for name, result in tiny_results.items()}
    assert hr["oracle"] > hr["district"] > hr["random"]
    assert hr["oracle"] > hr["popularity"] > hr["random"]
    fraction = tiny_results["district"].summary.query("metric == 'hr' and k == 10")["of_oracle"].iloc[0]
    assert fraction == pytest.approx(hr["district"] / hr["oracle"])


def test_oracle_result_from_another_split_is_refused(tiny_split, tiny_results) -> None:
    other = cold_job_split(tiny_split.train, cutoff=tiny_split.train.interactions["ts"].max() - pd.Timedelta(days=10))
    model = Popularity().fit(other.train)
    with pytest.raises(ValueError, match="oracle"):
        evaluate(model, other, KS, oracle=tiny_results["oracle"], n_resamples=0)


def test_oracle_ranks_by_true_utility_at_each_test_time(tiny_split, tiny_data_dir) -> None:
    truth = GroundTruth.load(tiny_data_dir)
    positions = np.arange(0, tiny_split.n_test, 37)
    rows = tiny_split.seeker_rows[positions]
    seeker_ids, job_ids = tiny_split.train.seeker_ids.to_ids(rows), tiny_split.train.job_ids.ids
    for part in ("total", "observable", "latent"):
        oracle = Oracle(truth, part=part).fit(tiny_split.train)
        expected = truth.expected_utility(seeker_ids, job_ids, at=tiny_split.test_time[positions], part=part)
        np.testing.assert_allclose(oracle.utility_at(rows, tiny_split.test_time[positions],
                                                     np.arange(len(job_ids))), expected, rtol=1e-6)
        # produce(): each query's candidates by utility at the query's time, best first
        lists = oracle.produce(tiny_split, 5)
        for position, row in zip(positions, expected, strict=True):
            candidates = np.flatnonzero(tiny_split.query_candidate_mask(np.array([position]))[0])
            best = candidates[np.argsort(-row[candidates], kind="stable")[:5]]
            np.testing.assert_array_equal(lists.job_rows[position, :len(best)], best)
    assert ObservableOracle(truth).part == "observable" and LatentOracle(truth).part == "latent"
    with pytest.raises(ValueError, match="part"):
        Oracle(truth, part="all").fit(tiny_split.train)


def test_intervals_contain_the_mean_and_hr_is_a_share(tiny_results) -> None:
    for result in tiny_results.values():
        for table in (result.summary, result.slices):
            rows = table.dropna(subset=["ci_low"])
            assert len(rows) > 0
            assert (rows["ci_low"] <= rows["mean"] + 1e-12).all() and (rows["mean"] <= rows["ci_high"] + 1e-12).all()
        hr = result.per_seeker[[f"hr@{k}" for k in KS]].to_numpy()
        assert set(np.unique(hr)) <= {0.0, 1.0}


def test_slices_cover_groups_districts_and_cold_start(tiny_results) -> None:
    result = tiny_results["district"]
    slices = result.slices.query("metric == 'hr' and k == 10").set_index(["slice", "value"])
    assert {"graduate", "4050", "unemployed", "flexible"} <= set(slices.loc["group"].index)
    frame = result.per_seeker
    assert slices.loc[("seeker", "cold"), "n"] == frame["is_cold"].sum()
    assert slices.loc[("seeker", "warm"), "mean"] == pytest.approx(frame.loc[~frame["is_cold"], "hr@10"].mean())
    graduates = frame.loc[frame["is_graduate"], "hr@10"]
    assert slices.loc[("group", "graduate"), "mean"] == pytest.approx(graduates.mean())
    assert slices.loc[("job", "new"), "n"] == (frame["n_relevant_new"] > 0).sum()
    # Popularity never recommends new postings, so its new-job hit rate is zero
    assert slices.loc[("job", "new"), "mean"] == 0.0


def test_evaluation_is_deterministic(tiny_split) -> None:
    model = RandomRecommender(seed=4).fit(tiny_split.train)
    first, second = evaluate(model, tiny_split, KS), evaluate(model, tiny_split, KS)
    pd.testing.assert_frame_equal(first.summary, second.summary)
    pd.testing.assert_frame_equal(first.slices, second.slices)


def test_batch_size_changes_nothing(tiny_split) -> None:
    model = Popularity(mode="district").fit(tiny_split.train)
    first, second = evaluate(model, tiny_split, KS, batch_size=7), evaluate(model, tiny_split, KS, batch_size=4096)
    np.testing.assert_array_equal(first.recommendations, second.recommendations)
    pd.testing.assert_frame_equal(first.summary, second.summary)
    pd.testing.assert_frame_equal(first.slices, second.slices)


def test_oversubscribed_jobs_count_distinct_applicants(tiny_split) -> None:
    train = tiny_split.train
    applicants = train.interaction_matrix(events=("apply",)).getnnz(axis=0)
    expected = applicants >= train.jobs["vacancies"].to_numpy()
    np.testing.assert_array_equal(oversubscribed_jobs(train), expected)
    assert 0 < expected.sum() < train.n_jobs


def test_model_fitted_on_all_data_is_refused(tiny_split) -> None:
    leaky = Popularity().fit(Dataset(tiny_split.train.seekers, tiny_split.train.jobs,
                                     _all_interactions(tiny_split), validate=False))
    with pytest.raises(ValueError, match="leaks"):
        evaluate(leaky, tiny_split, KS)


def _all_interactions(split) -> pd.DataFrame:
    return Dataset.load(split.train.source).interactions.drop(columns=["seeker_row", "job_row"])


def test_cold_seekers_fall_back_to_popularity_and_are_reported(tiny_split) -> None:
    model = WarmOnly().fit(tiny_split.train)
    result = evaluate(model, tiny_split, KS, n_resamples=0)
    np.testing.assert_array_equal(result.per_seeker["popularity_fallback"], tiny_split.seeker_is_cold)
    assert tiny_split.seeker_is_cold.any()
    with pytest.raises(UnsupportedSeekerError):
        evaluate(model, tiny_split, KS, cold_seekers="raise")


def test_holm_on_a_known_example() -> None:
    # sorted: 0.005*4 = 0.02, 0.01*3 = 0.03, 0.03*2 = 0.06, max(0.06, 0.04*1) = 0.06
    np.testing.assert_allclose(holm(np.array([0.01, 0.04, 0.03, 0.005])), [0.03, 0.06, 0.06, 0.02])
    np.testing.assert_allclose(holm(np.array([0.3, 0.02])), [0.3, 0.04])
    np.testing.assert_allclose(holm(np.array([0.5, 0.9])), [1.0, 1.0])  # capped at 1
    with pytest.raises(ValueError):
        holm(np.array([0.1, 1.5]))


def test_paired_statistics() -> None:
    rng = np.random.default_rng(0)
    reference = rng.random(400)
    better = reference + 0.1 + rng.normal(0, 0.05, 400)
    effect = paired_effect_size(better, reference)
    assert effect.mean_difference == pytest.approx((better - reference).mean())
    assert effect.cohens_d == pytest.approx(effect.mean_difference / (better - reference).std(ddof=1))
    low, high = paired_bootstrap_ci(better, reference, seed=1)
    assert low < effect.mean_difference < high and low > 0
    assert (low, high) == paired_bootstrap_ci(better, reference, seed=1)
    assert paired_test(better, reference) < 1e-10
    assert paired_test(better, reference, method="randomization", n_resamples=999) <= 0.002
    assert paired_test(reference, reference) == 1.0
    low, high = bootstrap_ci(np.array([0.0, 1.0] * 200))
    assert low < 0.5 < high


def test_joint_bootstrap_matches_scipy_and_handles_absent_rows() -> None:
    rng = np.random.default_rng(5)
    values = (rng.random((800, 2)) < 0.3).astype(float)
    values[400:, 1] = np.nan  # column 1: only the first 400 seekers (a slice)
    low, high = bootstrap_mean_intervals(values, seed=2)
    for column, rows in ((0, slice(None)), (1, slice(0, 400))):
        reference = stats.bootstrap((values[rows, column],), np.mean, method="percentile", random_state=0)
        assert low[column] == pytest.approx(reference.confidence_interval.low, abs=0.01)
        assert high[column] == pytest.approx(reference.confidence_interval.high, abs=0.01)
    lone = np.full((5, 1), np.nan)
    lone[0] = 1.0
    assert np.isnan(bootstrap_mean_intervals(lone)).all()


def test_compare_table(tiny_results) -> None:
    table = compare(tiny_results, reference="random", metric="hr@10")
    assert table["model"].tolist() == ["popularity", "district", "oracle"]
    assert (table["reference_mean"] == tiny_results["random"].value("hr", 10)).all()
    np.testing.assert_allclose(table["difference"], table["mean"] - table["reference_mean"])
    assert ((table["ci_low"] <= table["difference"]) & (table["difference"] <= table["ci_high"])).all()
    np.testing.assert_allclose(table["p_holm"], holm(table["p_value"].to_numpy()))
    assert table.set_index("model").loc["oracle", "p_holm"] < 1e-6
    same = compare({"a": tiny_results["random"], "b": tiny_results["random"]})
    assert same["difference"].iloc[0] == 0 and same["p_value"].iloc[0] == 1.0
    with pytest.raises(ValueError, match="unknown metric"):
        compare(tiny_results, metric="hr@3")


def test_agrees_with_lightfm_evaluation(tiny_split) -> None:
    train = tiny_split.train_seen.tocoo()
    train.data[:] = 1.0
    model = LightFM(no_components=16, loss="warp", random_state=0)
    model.fit(train, epochs=5, num_threads=1)
    # LightFM's protocol: every job is a candidate except those in train; relevance = the test matrix
    split = dataclasses.replace(tiny_split, active_only=False)
    relevant = split.relevant.tocoo()
    test = sp.coo_matrix((relevant.data, (split.seeker_rows[relevant.row], relevant.col)),
                         shape=(split.train.n_seekers, split.train.n_jobs))
    ours = evaluate(FixedEmbeddings(model).fit(split.train), split, ks=(10,), n_resamples=0).per_seeker
    theirs_precision = precision_at_k(model, test, train, k=10, num_threads=1)
    theirs_recall = recall_at_k(model, test, train, k=10, num_threads=1)
    assert len(theirs_precision) == split.n_test
    np.testing.assert_allclose(ours["precision@10"], theirs_precision, atol=1e-6)
    np.testing.assert_allclose(ours["recall@10"], theirs_recall, atol=1e-6)
