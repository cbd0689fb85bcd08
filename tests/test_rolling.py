"""Rolling evaluation, ranked lists and assess(): hand-made market (tests/eval_tables.py) and tiny data."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from recsys.data.dataset import Dataset
from recsys.evaluation import (
    ListProducer,
    Oracle,
    RankedLists,
    RankedListsError,
    assess,
    benjamini_hochberg,
    compare,
    compare_slices,
    evaluate,
    holm,
    rank_split,
    rolling_split,
    temporal_split,
)
from recsys.models import Popularity, Recommender
from tests.eval_tables import CUTOFF, hand_dataset

KS = (1, 2)


class ByJobRow(Recommender):
    """Scores job row ``j`` as ``-j`` (lower rows first) for every seeker."""

    serves_cold_seekers = True
    serves_new_jobs = True

    def _fit(self, dataset: Dataset) -> None:
        pass

    def _score(self, seeker_rows: np.ndarray, job_rows: np.ndarray) -> np.ndarray:
        return np.broadcast_to(-job_rows.astype(float), (len(seeker_rows), len(job_rows))).copy()


def query_table(split) -> list[tuple[int, str, set[int]]]:
    return [(int(split.query_seeker_rows[q]), str(pd.Timestamp(split.query_time[q]).strftime("%m-%d")),
             set(split.query_relevant[q].indices.tolist())) for q in range(split.n_queries)]


def test_rolling_split_by_hand() -> None:
    split = rolling_split(hand_dataset(), CUTOFF)
    # every test application is a query at its own time; S2's J1 repeats a training application
    assert query_table(split) == [
        (0, "03-11", {1}), (0, "03-16", {3}), (0, "03-21", {5}),  # S0's J3/J5 kept: active when applied to
        (1, "03-15", {3}), (2, "03-13", {0}), (3, "03-11", {2}),
    ]
    assert split.drop_reasons == {"inactive_at_query_time": 0, "seen_before_query": 1}
    info = split.describe()
    assert (info["n_test_events"], info["n_relevant_pairs"], info["n_queries"]) == (7, 6, 6)
    assert info["share_test_events_kept"] == pytest.approx(6 / 7)
    # the one-time protocol keeps 4 of the same 7 (J3, J5 of S0 posted after S0's first test time)
    one_time = temporal_split(hand_dataset(), CUTOFF).describe()
    assert (one_time["n_relevant_pairs"], one_time["n_test_events"], one_time["n_queries"]) == (4, 7, 4)
    assert one_time["share_test_events_kept"] == pytest.approx(4 / 7)
    assert one_time["share_relevant_new_jobs"] == pytest.approx(1 / 4)  # S1's J3 among J1, J3, J0, J2
    # cold shares: relevant J3, J5 (2 of 6) and S0..S3's J1, J0, J2 old; active jobs J0..J5 (J3, J4, J5 new)
    assert info["share_relevant_new_jobs"] == pytest.approx(3 / 6)
    assert info["share_active_new_jobs"] == pytest.approx(3 / 6)
    assert info["share_cold_seekers"] == pytest.approx(1 / 4)


def test_rolling_candidates_exclude_earlier_applications_and_unposted_jobs() -> None:
    split = rolling_split(hand_dataset(), CUTOFF)
    expected = np.array([
        [0, 1, 1, 0, 1, 0],  # S0 03-11: J0 applied to in training; J3, J5 not posted
        [0, 0, 0, 1, 1, 0],  # S0 03-16: J1 applied to on 03-11 (test window), J2 expired, J5 not posted
        [0, 0, 0, 0, 1, 1],  # S0 03-21: J1 and J3 applied to earlier in the test window
        [0, 0, 0, 1, 1, 0],  # S1 03-15
        [1, 0, 0, 0, 1, 0],  # S2 03-13: J1 applied to in training, J2 expired
        [1, 1, 1, 0, 1, 0],  # S3 03-11
    ], dtype=bool)
    np.testing.assert_array_equal(split.query_candidate_mask(np.arange(split.n_queries)), expected)
    assert not (split.query_relevant.toarray().astype(bool) & ~expected).any()


def test_rolling_on_tiny_never_offers_a_job_applied_to_before_or_posted_after(tiny_data_dir) -> None:
    dataset = Dataset.load(tiny_data_dir)
    split = rolling_split(dataset, last_days=30)
    lists = rank_split(Popularity().fit(split.train), split, 20)
    frame = dataset.interactions.loc[dataset.event_mask(dataset.funnel.seen_events)]
    first_seen = frame.groupby(["seeker_row", "job_row"])["ts"].min()
    listed = pd.DataFrame({"seeker_row": np.repeat(lists.seeker_rows, 20), "at": np.repeat(lists.times, 20),
                           "job_row": lists.job_rows.ravel()})
    listed = listed.loc[listed["job_row"] >= 0]
    seen_at = first_seen.reindex(pd.MultiIndex.from_frame(listed[["seeker_row", "job_row"]])).to_numpy()
    assert not (seen_at < listed["at"].to_numpy()).any()  # NaT compares False
    posted = dataset.jobs["posted_at"].to_numpy()[listed["job_row"].to_numpy()]
    assert (posted <= listed["at"].to_numpy()).all()
    # ... and it keeps nearly every test application (all that are rankable)
    info = split.describe()
    assert info["share_test_events_kept"] >= 0.99
    assert info["n_test_events"] - info["n_relevant_pairs"] == sum(split.drop_reasons.values())


def test_events_after_a_query_change_nothing_for_it(tiny_data_dir) -> None:
    """Leakage: shuffling which jobs test events after time t name leaves queries up to t unchanged."""
    dataset = Dataset.load(tiny_data_dir)
    split = rolling_split(dataset, last_days=30)
    t = np.sort(split.query_time)[split.n_queries // 2]
    frame = dataset.interactions.copy()
    later = np.flatnonzero((frame["ts"] > t).to_numpy())
    frame.loc[later, "job_row"] = np.random.default_rng(0).permutation(frame["job_row"].to_numpy()[later])
    shuffled = rolling_split(dataset._with(frame), last_days=30)
    model = Popularity().fit(split.train)
    before = rank_split(model, split, 10)
    after = rank_split(model, shuffled, 10)
    early = split.query_time <= t

    def key(s, lists, mask):
        return pd.DataFrame({"seeker": s.query_seeker_rows[mask], "time": s.query_time[mask]}), lists.job_rows[mask]

    (keys_a, rows_a), (keys_b, rows_b) = key(split, before, early), key(shuffled, after, shuffled.query_time <= t)
    pd.testing.assert_frame_equal(keys_a, keys_b)
    np.testing.assert_array_equal(rows_a, rows_b)
    np.testing.assert_array_equal(split.query_relevant[np.flatnonzero(early)].toarray(),
                                  shuffled.query_relevant[np.flatnonzero(shuffled.query_time <= t)].toarray())


def test_assess_by_hand_averages_queries_per_seeker_then_seekers() -> None:
    split = rolling_split(hand_dataset(), CUTOFF)
    ranking = pd.DataFrame({  # one list per query (seeker, ts); ranks from 1
        "seeker_id": ["S0", "S0", "S0", "S0", "S1", "S2", "S3", "S3"],
        "ts": pd.to_datetime(["2025-03-11 09:00", "2025-03-11 09:00", "2025-03-16 09:00", "2025-03-21 09:00",
                              "2025-03-15 09:00", "2025-03-13 09:00", "2025-03-11 09:00", "2025-03-11 09:00"]),
        "job_id": ["J2", "J1", "J3", "J4", "J4", "J0", "J0", "J2"],
        "rank": [1, 2, 1, 1, 1, 1, 1, 2],
    })
    lists = RankedLists.from_frame(ranking, split, name="hand")
    result = assess(lists, split, KS, n_resamples=0)
    # per query hr@1: S0 (0, 1, 0), S1 0, S2 1, S3 0; hr@2: S0 (1, 1, 0), S1 0, S2 1, S3 1
    per_seeker = result.per_seeker.set_index("seeker_id")
    np.testing.assert_allclose(per_seeker["hr@1"], [1 / 3, 0, 1, 0])
    np.testing.assert_allclose(per_seeker["hr@2"], [2 / 3, 0, 1, 1])
    np.testing.assert_allclose(per_seeker["n_queries"], [3, 1, 1, 1])
    hr = result.summary.query("metric == 'hr'").set_index("k")
    assert hr.loc[1, "mean"] == pytest.approx((1 / 3 + 0 + 1 + 0) / 4)  # headline: mean over seekers
    assert hr.loc[2, "mean"] == pytest.approx((2 / 3 + 0 + 1 + 1) / 4)
    assert hr.loc[1, "mean_per_query"] == pytest.approx(2 / 6)  # mean over queries
    assert hr.loc[2, "mean_per_query"] == pytest.approx(4 / 6)
    # ndcg@2 of S0's first query: hit at rank 2 -> 1 / log2(3)
    first = result.per_query.query("seeker_id == 'S0'")["ndcg@2"].iloc[0]
    assert first == pytest.approx(1 / np.log2(3))
    # job slices: S0's second and third queries have new relevant jobs (J3, J5); S1's J3 too
    new = result.slices.query("slice == 'job' and value == 'new' and metric == 'hr' and k == 1")
    assert new["mean"].iloc[0] == pytest.approx((1 / 2 + 0) / 2) and new["n"].iloc[0] == 2


def test_from_frame_without_ts_answers_every_query_of_the_seeker_and_rejects_unknown_ids() -> None:
    split = rolling_split(hand_dataset(), CUTOFF)
    lists = RankedLists.from_frame(pd.DataFrame({"seeker_id": ["S0", "S0"], "job_id": ["J3", "J1"],
                                                 "rank": [2, 1]}), split)
    np.testing.assert_array_equal(lists.queries, [0, 1, 2])
    np.testing.assert_array_equal(lists.job_rows, [[1, 3]] * 3)
    with pytest.raises(RankedListsError, match="job_id"):
        RankedLists.from_frame(pd.DataFrame({"seeker_id": ["S0"], "job_id": ["J9"], "rank": [1]}), split)
    with pytest.raises(RankedListsError, match="no query"):
        RankedLists.from_frame(pd.DataFrame({"seeker_id": ["S0"], "ts": ["2025-03-12"], "job_id": ["J1"],
                                             "rank": [1]}), split)


def test_ranked_lists_round_trip_through_npz_and_frames(tmp_path) -> None:
    split = rolling_split(hand_dataset(), CUTOFF)
    lists = rank_split(ByJobRow().fit(split.train), split, 3)
    loaded = RankedLists.load(lists.save(tmp_path / "lists.npz"))
    for attr in ("queries", "seeker_rows", "times", "job_rows", "scores", "fallback"):
        np.testing.assert_array_equal(getattr(loaded, attr), getattr(lists, attr))
    assert loaded.name == "ByJobRow"
    again = RankedLists.from_frame(lists.to_frame(split).drop(columns="query"), split)
    np.testing.assert_array_equal(again.job_rows, lists.job_rows)


def test_evaluate_equals_assess_of_rank_split(tiny_data_dir) -> None:
    split = rolling_split(Dataset.load(tiny_data_dir), last_days=30)
    model = Popularity().fit(split.train)
    direct = evaluate(model, split, (5, 10), n_resamples=50)
    staged = assess(rank_split(model, split, 10), split, (5, 10), n_resamples=50)
    pd.testing.assert_frame_equal(direct.summary, staged.summary)
    pd.testing.assert_frame_equal(direct.slices, staged.slices)
    pd.testing.assert_frame_equal(direct.per_seeker, staged.per_seeker)


def test_oracle_is_a_list_producer_and_reference_fractions(tiny_data_dir) -> None:
    split = rolling_split(Dataset.load(tiny_data_dir), last_days=30)
    oracle = Oracle(tiny_data_dir).fit(split.train)
    assert isinstance(oracle, ListProducer)
    ceiling = evaluate(oracle, split, (10,), n_resamples=0)
    result = evaluate(Popularity().fit(split.train), split, (10,), reference=ceiling, n_resamples=0)
    row = result.summary.query("metric == 'hr' and k == 10").iloc[0]
    assert row["of_reference"] == pytest.approx(row["mean"] / ceiling.value("hr", 10))
    assert ceiling.value("hr", 10) > result.value("hr", 10)


def test_refit_every_refits_on_data_before_each_refit_point(tiny_data_dir) -> None:
    split = rolling_split(Dataset.load(tiny_data_dir), last_days=30)
    model = Popularity().fit(split.train)
    frozen = rank_split(model, split, 10)
    refit = rank_split(model, split, 10, refit_every=10)
    first_window = (split.query_time - np.datetime64(split.cutoff)) < np.timedelta64(10, "D")
    np.testing.assert_array_equal(refit.job_rows[first_window], frozen.job_rows[first_window])
    assert (refit.job_rows[~first_window] != frozen.job_rows[~first_window]).any()
    with pytest.raises(ValueError, match="refit_every"):
        rank_split(model, temporal_split(Dataset.load(tiny_data_dir), last_days=30), 10, refit_every=10)


def test_compare_corrects_over_every_model_and_metric_and_slices_use_bh(tiny_data_dir) -> None:
    split = rolling_split(Dataset.load(tiny_data_dir), last_days=30)
    results = {"pop": evaluate(Popularity().fit(split.train), split, (5, 10), n_resamples=0),
               "rows": evaluate(ByJobRow().fit(split.train), split, (5, 10), n_resamples=0),
               "oracle": evaluate(Oracle(tiny_data_dir).fit(split.train), split, (5, 10), n_resamples=0)}
    table = compare(results, metrics=["hr@5", "hr@10", "ndcg@10"], n_resamples=100)
    assert len(table) == 2 * 3
    np.testing.assert_allclose(table["p_holm"], holm(table["p_value"].to_numpy()))
    single = compare(results, metric="hr@10", n_resamples=100)  # the old call still works
    assert len(single) == 2 and (single["metric"] == "hr@10").all()
    one_time = temporal_split(Dataset.load(tiny_data_dir), last_days=30)
    other = evaluate(Popularity().fit(one_time.train), one_time, (5, 10), n_resamples=0)
    with pytest.raises(ValueError, match="same split"):  # same seekers, other queries: not paired
        compare({"pop": results["pop"], "one_time": other})
    slices = compare_slices(results, metric="hr@10", n_resamples=100)
    assert slices["exploratory"].all() and {"group", "district", "seeker"} <= set(slices["slice"])
    np.testing.assert_allclose(slices["p_bh"], benjamini_hochberg(slices["p_value"].to_numpy()))


def test_benjamini_hochberg_by_hand() -> None:
    # sorted p (0.01, 0.02, 0.03, 0.5) x m / rank = (0.04, 0.04, 0.04, 0.5), then running minimum from the top
    np.testing.assert_allclose(benjamini_hochberg(np.array([0.03, 0.5, 0.01, 0.02])), [0.04, 0.5, 0.04, 0.04])


@pytest.mark.slow
def test_rolling_keeps_every_test_application_on_small(small_data_dir) -> None:
    """On ``small`` every test application is rankable at its own time: none is dropped (the one-time
    protocol drops 26% in the default realistic world, 45% in easy, all to postings created after the
    seeker's first test time)."""
    dataset = Dataset.load(small_data_dir)
    rolling = rolling_split(dataset, last_days=30)
    info = rolling.describe()
    assert info["share_test_events_kept"] >= 0.99
    assert info["n_test_events"] == info["n_relevant_pairs"] + sum(rolling.drop_reasons.values())
    one_time = temporal_split(dataset, last_days=30).describe()
    assert one_time["n_test_events"] == info["n_test_events"]  # same applications, fewer kept
    assert one_time["share_test_events_kept"] < 0.8
