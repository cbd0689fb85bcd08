"""Splits on the hand-made market (tests/eval_tables.py) and leakage checks on generated data."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

from recsys.data.dataset import Dataset
from recsys.evaluation import (
    SplitError,
    cold_job_split,
    cold_seeker_split,
    leave_last_out_split,
    temporal_split,
)
from tests.eval_tables import CUTOFF, EVENTS, hand_dataset, interactions_table, jobs_table, seekers_table


def relevant_sets(split) -> list[set[int]]:
    return [set(split.relevant[p].indices.tolist()) for p in range(split.n_test)]


def test_temporal_split_by_hand() -> None:
    split = temporal_split(hand_dataset(), CUTOFF)
    assert (split.train.interactions["ts"] < CUTOFF).all()
    assert len(split.train.interactions) == 7 and split.train.n_seekers == 5 and split.train.n_jobs == 6
    np.testing.assert_array_equal(split.seeker_rows, [0, 1, 2, 3])  # S4 only viewed: not a test seeker
    np.testing.assert_array_equal(split.test_time, pd.to_datetime(
        ["2025-03-11 09:00", "2025-03-15 09:00", "2025-03-12 09:00", "2025-03-11 09:00"]).to_numpy())
    # S0: J1 kept, J3 and J5 not yet posted at 03-11; S2: J1 already applied to in training
    assert relevant_sets(split) == [{1}, {3}, {0}, {2}]
    assert (split.n_dropped_inactive, split.n_dropped_seen, split.n_seekers_dropped) == (2, 1, 0)
    np.testing.assert_array_equal(split.seeker_is_cold, [False, False, False, True])
    np.testing.assert_array_equal(split.job_is_new, [False, False, False, True, True, True])


def test_candidates_are_active_and_not_applied_to() -> None:
    split = temporal_split(hand_dataset(), CUTOFF)
    expected = np.array([
        [0, 1, 1, 0, 1, 0],  # S0 at 03-11: J0 applied to, J3/J5 not posted yet
        [0, 0, 0, 1, 1, 0],  # S1 at 03-15: J0/J1 applied to, J2 expired, J5 not posted
        [1, 0, 0, 0, 1, 0],  # S2 at 03-12 09:00: J1 applied to, J2 expired at 03-12 00:00
        [1, 1, 1, 0, 1, 0],  # S3 (cold) at 03-11
    ], dtype=bool)
    np.testing.assert_array_equal(split.candidate_mask(np.arange(4)), expected)
    np.testing.assert_array_equal(split.candidate_mask(np.array([3, 0])), expected[[3, 0]])
    assert not (split.relevant.toarray().astype(bool) & ~expected).any()  # relevance within candidates


def test_candidate_block_holds_the_jobs_active_during_the_batch() -> None:
    split = temporal_split(hand_dataset(), CUTOFF)
    block = split.candidate_block(np.array([0, 2]))  # test times 03-11 and 03-12: J3 (03-15), J5 not posted
    np.testing.assert_array_equal(block.columns, [0, 1, 2, 4])
    np.testing.assert_array_equal(block.mask, split.candidate_mask(np.array([0, 2]))[:, block.columns])
    assert len(split.candidate_block(np.array([], dtype=np.int64)).columns) == 0


def test_last_days_and_test_end() -> None:
    dataset = hand_dataset()
    # last interaction on 03-21: midnight after it is 03-22; minus 12 days is 03-10
    assert temporal_split(dataset, last_days=12).cutoff == CUTOFF
    split = temporal_split(dataset, CUTOFF, test_end="2025-03-12")
    np.testing.assert_array_equal(split.seeker_rows, [0, 3])  # applies on 03-11 only
    with pytest.raises(SplitError, match="exactly one"):
        temporal_split(dataset, CUTOFF, last_days=5)
    with pytest.raises(SplitError, match="exactly one"):
        temporal_split(dataset)
    with pytest.raises(SplitError, match="cutoff"):
        temporal_split(dataset, "2026-01-01")
    with pytest.raises(SplitError, match="test_end"):
        temporal_split(dataset, CUTOFF, test_end="2025-03-01")
    with pytest.raises(SplitError, match=r"relevant_event 'offer' is not an event of this dataset"):
        temporal_split(dataset, CUTOFF, relevant_event="offer")


def test_relevance_by_interview_and_hire() -> None:
    events = [*EVENTS, ("S3", "J2", "2025-03-11 15:00", "interview")]
    dataset = Dataset(seekers_table(), jobs_table(), interactions_table(events))
    split = temporal_split(dataset, CUTOFF, relevant_event="interview")
    np.testing.assert_array_equal(split.seeker_rows, [3])
    assert relevant_sets(split) == [{2}]
    assert split.test_time[0] == np.datetime64("2025-03-11T15:00")
    # S0's only hire (J0) was applied to before T: it is not a candidate, so nothing is left to test
    with pytest.raises(SplitError, match="1 already seen"):
        temporal_split(dataset, CUTOFF, relevant_event="hire")


def test_cold_seeker_split_removes_history_and_is_seeded() -> None:
    dataset = hand_dataset()
    split = cold_seeker_split(dataset, CUTOFF, share=0.5, seed=3)
    assert split.n_test == 2 and split.seeker_is_cold.all()
    held_out = set(split.train.seeker_ids.to_ids(split.seeker_rows))
    assert not split.train.interactions["seeker_id"].isin(held_out).any()
    again = cold_seeker_split(dataset, CUTOFF, share=0.5, seed=3)
    np.testing.assert_array_equal(again.seeker_rows, split.seeker_rows)
    draws = {tuple(cold_seeker_split(dataset, CUTOFF, share=0.5, seed=s).seeker_rows) for s in range(10)}
    assert len(draws) > 1
    with pytest.raises(SplitError, match="share"):
        cold_seeker_split(dataset, CUTOFF, share=0.0)


def test_cold_job_split_restricts_relevance_to_new_postings() -> None:
    split = cold_job_split(hand_dataset(), CUTOFF)
    np.testing.assert_array_equal(split.seeker_rows, [0, 1])
    assert relevant_sets(split) == [{3}, {3}]  # S0: J5 not posted yet at S0's test time 03-16
    assert split.n_dropped_inactive == 1
    posted = split.train.jobs["posted_at"].to_numpy()
    assert (posted[split.relevant.indices] >= np.datetime64(CUTOFF)).all()
    assert split.candidate_mask(np.array([0]))[0].tolist() == [False, True, False, True, True, False]


def test_leave_last_out_by_hand() -> None:
    split = leave_last_out_split(hand_dataset())
    np.testing.assert_array_equal(split.seeker_rows, [0, 1, 2])  # S3 has a single apply
    assert relevant_sets(split) == [{5}, {3}, {0}]
    assert split.cutoff is None
    train = split.train.interactions
    for position, row in enumerate(split.seeker_rows):
        own = train.loc[train["seeker_row"] == row, "ts"]
        assert (own < split.test_time[position]).all()


def assert_no_leak(dataset: Dataset, split) -> None:
    """Train holds nothing from a test seeker's test time on (so no test event); time splits end before T."""
    train = split.train.interactions
    if split.cutoff is not None:
        assert (train["ts"] < split.cutoff).all()
    test_time = pd.Series(split.test_time, index=split.seeker_rows, name="test_time")
    own = train.join(test_time, on="seeker_row", how="inner")
    assert (own["ts"] < own["test_time"]).all(), "test-period interactions leaked into train"
    key = ["seeker_id", "job_id", "ts", "event"]
    held_out = dataset.interactions.merge(train[key], on=key, how="left", indicator=True)
    held_out = held_out.loc[held_out["_merge"] == "left_only"]
    rows, jobs = split.relevant.nonzero()
    relevant = pd.DataFrame({"seeker_row": split.seeker_rows[rows], "job_row": jobs})
    found = relevant.merge(held_out.loc[held_out["event"] == split.relevant_event], on=["seeker_row", "job_row"])
    assert found[["seeker_row", "job_row"]].drop_duplicates().shape[0] == split.relevant.nnz  # all held out


@pytest.mark.parametrize("make", [
    lambda d: temporal_split(d, last_days=30), lambda d: cold_job_split(d, last_days=30),
    lambda d: cold_seeker_split(d, last_days=30, share=0.2, seed=1), leave_last_out_split,
], ids=["temporal", "cold_jobs", "cold_seekers", "leave_last_out"])
def test_no_leakage_on_generated_data(tiny_data_dir, make) -> None:
    dataset = Dataset.load(tiny_data_dir)
    split = make(dataset)
    assert split.n_test > 0 and split.relevant.nnz >= split.n_test
    assert_no_leak(dataset, split)
    assert not split.relevant.multiply(~split.candidate_mask(np.arange(split.n_test))).count_nonzero()


def test_csr_row_gather_matches_scipy_row_indexing() -> None:
    """The candidate masks read seen jobs with ``_csr_rows``: the entries of ``matrix[rows]``, repeats and
    empty rows included."""
    from recsys.evaluation.splits import _csr_rows

    matrix = sp.random(50, 30, density=0.1, format="csr", random_state=np.random.default_rng(0))
    rows = np.array([3, 3, 0, 49, 17, 17, 8])
    position, columns = _csr_rows(matrix, rows)
    expected = matrix[rows].tocoo()
    pairs = sorted(zip(position.tolist(), columns.tolist(), strict=True))
    assert pairs == sorted(zip(expected.row.tolist(), expected.col.tolist(), strict=True))
    empty_position, empty_columns = _csr_rows(matrix, np.array([], dtype=np.int64))
    assert len(empty_position) == len(empty_columns) == 0
