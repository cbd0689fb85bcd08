"""``recsys-import`` on a foreign job-board export, then load, every split and relevance by views.

The export is written by :func:`write_job_board`: US regions, no coordinates, English titles, only
``page_view`` / ``applied`` events, integer ids and timestamps with UTC offsets.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from recsys.cli.import_data import MappingError, import_dataset, main, read_mapping
from recsys.data import Dataset, TableValidationError
from recsys.evaluation.splits import (
    Split,
    SplitError,
    cold_job_split,
    cold_seeker_split,
    leave_last_out_split,
    temporal_split,
)
from recsys.models.ease import EASE
from recsys.models.knn import ItemKNN

STATES = ("Texas", "Ohio", "Oregon", "Maine", "Iowa")
TITLES = ("Data analyst", "Warehouse associate", "Registered nurse", "Line cook", "Software engineer",
          "Truck driver", "Cashier", "Electrician")
NOW = pd.Timestamp("2025-01-01")


def write_job_board(folder: Path, n_users: int = 60, n_postings: int = 40, seed: int = 0) -> Path:
    """A small job-board export (CSV) and its mapping file; returns the mapping's path."""
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    start = pd.Timestamp("2024-03-01", tz="America/Chicago")
    users = pd.DataFrame({
        "user_id": np.arange(1, n_users + 1) * 7,  # integer ids
        "state": rng.choice(STATES, n_users),
        "signup": [(start - pd.Timedelta(days=int(d))).isoformat() for d in rng.integers(1, 90, n_users)],
        "skills": ["|".join(rng.choice(["sql", "python", "forklift", "cpr", "cooking"], 2, replace=False))
                   for _ in range(n_users)],
    })
    posted = [start + pd.Timedelta(days=int(d)) for d in rng.integers(0, 40, n_postings)]
    postings = pd.DataFrame({
        "posting_id": np.arange(1000, 1000 + n_postings),
        "title": rng.choice(TITLES, n_postings), "company": [f"Acme {i % 9}" for i in range(n_postings)],
        "state": rng.choice(STATES, n_postings),
        "posted": [p.tz_convert("UTC").strftime("%Y-%m-%dT%H:%M:%SZ") for p in posted],  # UTC suffix
    })
    rows = []
    for user in users["user_id"]:
        for posting in rng.choice(n_postings, rng.integers(3, 9), replace=False):
            when = posted[posting] + pd.Timedelta(hours=int(rng.integers(1, 24 * 20)))
            rows.append((user, 1000 + posting, when.isoformat(), "page_view"))
            if rng.random() < 0.5:
                rows.append((user, 1000 + posting, (when + pd.Timedelta(minutes=30)).isoformat(), "applied"))
    events = pd.DataFrame(rows, columns=["user_id", "posting_id", "time", "action"])
    users.to_csv(folder / "users.csv", index=False)
    postings.to_csv(folder / "postings.csv", index=False)
    events.to_csv(folder / "events.csv", index=False)
    mapping = {
        "source": ".", "timezone": "America/Chicago",
        "funnel": {"events": ["view", "apply"], "weights": {"view": 1, "apply": 3}},
        "tables": {
            "seekers": {"file": "users.csv", "columns": {"user_id": "seeker_id", "state": "district",
                                                        "signup": "registered_at", "skills": "skills"},
                        "lists": {"skills": "|"}},
            "jobs": {"file": "postings.csv", "columns": {"posting_id": "job_id", "title": "title",
                                                        "company": "employer_id", "state": "district",
                                                        "posted": "posted_at"}},
            "interactions": {"file": "events.csv",
                             "columns": {"user_id": "seeker_id", "posting_id": "job_id", "time": "ts",
                                         "action": "event"},
                             "events": {"page_view": "view", "applied": "apply"}},
        },
    }
    path = folder / "mapping.yaml"
    path.write_text(yaml.safe_dump(mapping, sort_keys=False), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def board(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """(mapping file, imported dataset directory), imported once through the CLI."""
    folder = tmp_path_factory.mktemp("board")
    mapping = write_job_board(folder / "export")
    out = folder / "dataset"
    assert main([str(mapping), "--out", str(out)]) == 0
    return mapping, out


def test_import_writes_a_loadable_dataset_with_its_funnel(board, capsys: pytest.CaptureFixture[str]) -> None:
    mapping, out = board
    dataset = Dataset.load(out)
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["funnel"]["events"] == ["view", "apply"] and manifest["timezone"] == "America/Chicago"
    assert dataset.funnel.events == ("view", "apply") and dataset.funnel.seen_events == ("apply",)
    assert dataset.funnel.training_weights == {"apply": 1.0}
    assert dataset.seeker_ids.ids[0] == "7" and dataset.job_ids.ids[0] == "1000"  # integer ids as strings
    assert set(dataset.seekers["district"]) <= set(STATES)
    assert dataset.seekers["skills"].map(len).eq(2).all()
    assert dataset.interactions["ts"].dt.tz is None
    # times converted to the declared zone: the first posting is at local midnight or later on 2024-03-01
    assert dataset.jobs["posted_at"].min() >= pd.Timestamp("2024-03-01")
    raw = pd.read_csv(mapping.parent / "events.csv")
    assert len(dataset.interactions) == len(raw)
    first = pd.Timestamp(raw["time"].iloc[0]).tz_convert("America/Chicago").tz_localize(None)
    assert first in set(dataset.interactions["ts"])
    info = dataset.describe()
    assert info["events"] == {"view": int((raw["action"] == "page_view").sum()),
                              "apply": int((raw["action"] == "applied").sum())}
    assert "distance features" in info["disabled"] and "job text features" in info["enabled"]
    assert not dataset.active_jobs("2024-02-01").any()  # nothing posted yet; no expiry: active ever after
    assert dataset.active_jobs("2030-01-01").all()


def test_an_optional_trainings_table_is_imported_validated_and_read_as_of_a_time(tmp_path: Path) -> None:
    mapping = write_job_board(tmp_path / "export")
    users = pd.read_csv(tmp_path / "export" / "users.csv")
    pd.DataFrame({"user_id": users["user_id"].iloc[:3], "taught": ["welding", "welding", "first_aid"],
                  "finished": ["2024-03-05T10:00:00-06:00", "", "2024-04-20T10:00:00-05:00"]}
                 ).to_csv(tmp_path / "export" / "courses.csv", index=False)
    config = yaml.safe_load(mapping.read_text())
    config["tables"]["trainings"] = {"file": "courses.csv", "columns": {"user_id": "seeker_id", "taught": "skill",
                                                                        "finished": "completed_at"}}
    mapping.write_text(yaml.safe_dump(config))
    import_dataset(mapping, tmp_path / "dataset", now=NOW)
    dataset = Dataset.load(tmp_path / "dataset")
    trainings = dataset.extras["trainings"]
    assert trainings["seeker_id"].tolist() == [str(u) for u in users["user_id"].iloc[:3]]
    assert trainings["completed_at"].iloc[0] == pd.Timestamp("2024-03-05 10:00")  # in the declared zone (CST)
    assert trainings["completed_at"].isna().tolist() == [False, True, False]
    skills = dataset.seekers_as_of(pd.Timestamp("2024-04-01"))["skills"]
    assert "welding" in skills.iloc[0] and "welding" not in skills.iloc[1] and "first_aid" not in skills.iloc[2]
    pd.DataFrame({"user_id": [999999], "taught": ["welding"], "finished": ["2024-03-05T10:00:00-06:00"]}
                 ).to_csv(tmp_path / "export" / "courses.csv", index=False)
    with pytest.raises(TableValidationError, match=r"trainings.seeker_id \[reference\]: unknown seeker '999999'"):
        import_dataset(mapping, tmp_path / "other", now=NOW)
    assert not (tmp_path / "other").exists()


def test_every_split_runs_on_foreign_data(board) -> None:
    _, out = board
    dataset = Dataset.load(out)
    splits = [temporal_split(dataset, last_days=20), leave_last_out_split(dataset),
              cold_seeker_split(dataset, last_days=20, share=0.5), cold_job_split(dataset, last_days=30),
              temporal_split(dataset, last_days=20, relevant_event="view"),
              temporal_split(dataset, last_days=20, relevant_event="view", active_only=False)]
    for split in splits:
        assert split.n_test > 0 and split.relevant.nnz > 0
        # relevant pairs are candidates: never a job the seeker applied to in training
        mask = split.candidate_mask(np.arange(split.n_test))
        assert mask[split.relevant.nonzero()].all()
    assert splits[4].relevant_event == "view" and splits[4].describe()["relevant_event"] == "view"
    assert splits[5].describe()["active_only"] is False
    # collaborative models fit and recommend with the dataset's own funnel
    for model in (ItemKNN(n_neighbors=10), EASE(l2=10.0)):
        model.fit(splits[0].train)
        warm = np.flatnonzero(model.known_seekers_)[:3]
        top, _ = model.recommend_rows(warm, 5)
        seen = splits[0].train.seen_matrix()[warm].toarray() > 0
        assert not np.take_along_axis(seen, np.maximum(top, 0), axis=1)[top >= 0].any()


def test_from_partition_reproduces_a_published_split(board) -> None:
    _, out = board
    dataset = Dataset.load(out)
    cut = dataset.interactions["ts"].quantile(0.8)
    is_train = (dataset.interactions["ts"] < cut).to_numpy()
    train = dataset.with_interactions(is_train)
    test = dataset.interactions.loc[~is_train, ["seeker_id", "job_id", "ts", "event"]]
    split = Split.from_partition(train, test)
    reference = temporal_split(dataset, cut)
    assert split.name == "partition" and split.relevant_event == "apply"
    np.testing.assert_array_equal(split.seeker_rows, reference.seeker_rows)
    assert (split.relevant != reference.relevant).nnz == 0
    # a test file with integer ids and every job a candidate
    test_ints = test.assign(seeker_id=test["seeker_id"].astype(int), job_id=test["job_id"].astype(int))
    loose = Split.from_partition(train, test_ints, relevant_event="view", active_only=False)
    assert loose.active_only is False and loose.n_dropped_inactive == 0
    with pytest.raises(SplitError, match="not in train"):
        Split.from_partition(train, test.assign(job_id="nope"))
    with pytest.raises(SplitError, match="'hire' is not an event of this dataset"):
        Split.from_partition(train, test, relevant_event="hire")


def test_bad_export_is_reported_in_full_and_nothing_is_written(tmp_path: Path,
                                                                 capsys: pytest.CaptureFixture[str]) -> None:
    mapping = write_job_board(tmp_path / "export")
    events = pd.read_csv(tmp_path / "export" / "events.csv")
    events.loc[3, "action"] = "share"  # not mapped, not in the funnel
    events.loc[5, "posting_id"] = 999_999  # dangling
    events.to_csv(tmp_path / "export" / "events.csv", index=False)
    out = tmp_path / "dataset"
    assert main([str(mapping), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert "nothing written" in err and "interactions.event [event]" in err and "interactions.job_id [reference]" in err
    assert not out.exists()
    with pytest.raises(TableValidationError) as caught:
        import_dataset(mapping, out)
    assert [(p.where, p.rule, p.rows) for p in caught.value.problems] == [
        ("interactions.event", "event", (3,)), ("interactions.job_id", "reference", (5,))]


def test_timezone_must_be_declared_for_offsets(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    mapping = write_job_board(tmp_path / "export")
    config = yaml.safe_load(mapping.read_text())
    del config["timezone"]
    mapping.write_text(yaml.safe_dump(config))
    assert main([str(mapping), "--out", str(tmp_path / "dataset")]) == 2
    err = capsys.readouterr().err
    assert "seekers.registered_at [timezone]" in err and "`timezone: Europe/Berlin` in the recsys-import mapping" in err


def test_explicit_files_and_mapping_errors(tmp_path: Path) -> None:
    mapping = write_job_board(tmp_path / "export")
    parts = tmp_path / "parts"
    parts.mkdir()
    events = pd.read_csv(tmp_path / "export" / "events.csv")
    half = len(events) // 2
    events.iloc[:half].to_parquet(parts / "a.parquet")
    events.iloc[half:].to_csv(parts / "b.csv", index=False)
    dataset = import_dataset(mapping, tmp_path / "dataset", {"interactions": [str(parts)]}, now=NOW)
    assert len(dataset.interactions) == len(events)
    config = yaml.safe_load(mapping.read_text())
    config["tables"]["jobs"]["columns"]["salary"] = "wage_min"
    with pytest.raises(MappingError, match=r"tables.jobs.columns: source column\(s\) \['salary'\] not in the file"):
        import_dataset({**read_mapping(mapping), "tables": {**read_mapping(mapping)["tables"],
                                                            "jobs": _table(config, "jobs", mapping)}},
                       tmp_path / "other")
    config = yaml.safe_load(mapping.read_text())
    config["tables"]["jobs"]["colums"] = {}
    mapping.write_text(yaml.safe_dump(config))
    with pytest.raises(MappingError, match=r"tables.jobs: unknown key\(s\) \['colums'\]"):
        read_mapping(mapping)
    assert not (tmp_path / "other").exists()


def _table(config: dict, table: str, mapping: Path) -> dict:
    from recsys.cli.import_data import check_mapping

    return check_mapping({"tables": {table: config["tables"][table]}}, base=mapping.parent)["tables"][table]


def write_movielens(folder: Path, n_users: int = 30, n_items: int = 40, seed: int = 1) -> Path:
    """MovieLens-100k-style files (``u.user``, ``u.item``, ``ua.base``, ``ua.test``: no header, Unix times,
    ten test ratings per user) and their mapping; returns the mapping's path."""
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    users = pd.DataFrame({"user": np.arange(1, n_users + 1), "age": rng.integers(18, 70, n_users),
                          "gender": rng.choice(["M", "F"], n_users), "occupation": "other", "zip": "00000"})
    items = pd.DataFrame({"item": np.arange(1, n_items + 1), "title": [f"Movie {i} (1995)" for i in range(n_items)]})
    base, test = [], []
    for user in users["user"]:
        rated = rng.choice(items["item"], 25, replace=False)
        times = np.sort(rng.integers(874_724_710, 893_286_638, 25))
        rows = [(user, item, int(rng.integers(1, 6)), int(t)) for item, t in zip(rated, times, strict=True)]
        base += rows[:15]
        test += rows[15:]
    users.to_csv(folder / "u.user", sep="|", header=False, index=False)
    items.to_csv(folder / "u.item", sep="|", header=False, index=False)
    pd.DataFrame(base).to_csv(folder / "ua.base", sep="\t", header=False, index=False)
    pd.DataFrame(test).to_csv(folder / "ua.test", sep="\t", header=False, index=False)
    mapping = {
        "timezone": "UTC", "funnel": {"events": ["rate"]},
        "tables": {
            "seekers": {"file": "u.user", "csv": {"sep": "|", "names": ["user", "age", "gender", "occupation", "zip"]},
                        "columns": {"user": "seeker_id", "age": "age", "gender": "gender"}},
            "jobs": {"file": "u.item", "csv": {"sep": "|", "names": ["item", "title"], "usecols": [0, 1],
                                               "encoding": "latin-1"},
                     "columns": {"item": "job_id", "title": "title"}},
            "interactions": {"file": "ua.base", "csv": {"sep": "\t", "names": ["user", "item", "rating", "time"]},
                             "columns": {"user": "seeker_id", "item": "job_id", "time": "ts"},
                             "event": "rate", "epoch_unit": "s"},
        },
    }
    path = folder / "mapping.yaml"
    path.write_text(yaml.safe_dump(mapping, sort_keys=False), encoding="utf-8")
    return path


def test_movielens_ua_protocol_through_import_and_from_partition(tmp_path: Path) -> None:
    """ua.base is imported as the training dataset; ua.test, as published, becomes the test set."""
    mapping = write_movielens(tmp_path / "ml")
    train = import_dataset(mapping, tmp_path / "ml-ua")
    assert (train.n_seekers, train.n_jobs, len(train.interactions)) == (30, 40, 30 * 15)
    assert train.funnel.events == ("rate",) and train.seekers["gender"].isin(["M", "F"]).all()
    test = pd.read_csv(tmp_path / "ml" / "ua.test", sep="\t", names=["seeker_id", "job_id", "rating", "ts"])
    test = test.assign(ts=pd.to_datetime(test["ts"], unit="s"), event="rate")
    split = Split.from_partition(Dataset.load(tmp_path / "ml-ua"), test, active_only=False)
    # every user is tested on their ten held-out ratings; nothing is dropped (no posting dates, no overlap)
    assert split.n_test == 30 and split.relevant.nnz == 30 * 10
    assert split.n_dropped_seen == split.n_dropped_inactive == split.n_seekers_dropped == 0
    assert split.seeker_is_cold.sum() == 0
    first = test.iloc[0]
    row = split.train.seeker_ids.to_rows([str(first["seeker_id"])])[0]
    assert split.relevant[split.positions([row])[0], split.train.job_ids.to_rows([str(first["job_id"])])[0]] == 1
