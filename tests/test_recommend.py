"""``recsys-recommend``: batch top-k lists equal the ranking API's, written atomically, never over a foreign file."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from recsys.api import InvalidFilterError, InvalidKError, InvalidRequestError, Ranker, UnknownSeekerError
from recsys.cli.recommend import MANIFEST, OutputExistsError, recommend
from recsys.data.dataset import Dataset
from recsys.models.lightfm import LightFMHybrid

pytestmark = pytest.mark.slow  # processes, several fits or a simulated market: the full suite only


@pytest.fixture(scope="module")
def ranker_dir(tiny_data_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    dataset = Dataset.load(tiny_data_dir)
    model = LightFMHybrid(no_components=8, epochs=2, random_state=0).fit(dataset)
    return Ranker.from_model(model, dataset).save(tmp_path_factory.mktemp("ranker") / "ranker")


@pytest.fixture(scope="module")
def ranker(ranker_dir: Path) -> Ranker:
    return Ranker.load(ranker_dir)


def expected_rows(ranker: Ranker, seekers: list[str], k: int, **filters) -> pd.DataFrame:
    rankings = ranker.rank_many(seekers, k, reasons=False, **filters)
    return pd.DataFrame([(s, r.rank, r.job_id, r.score) for s, ranking in zip(seekers, rankings, strict=True)
                         for r in ranking], columns=["seeker_id", "rank", "job_id", "score"])


@pytest.mark.parametrize("worker_kind", ["threads", "processes"])
def test_every_known_seeker_gets_the_ranking_apis_list_in_parallel_workers(ranker_dir: Path, ranker: Ranker,
                                                                           tmp_path: Path, worker_kind: str) -> None:
    out = tmp_path / "recs"
    summary = recommend(ranker_dir, out, k=5, workers=2, chunk_size=300, worker_kind=worker_kind)
    written = pd.read_parquet(out)
    seekers = list(ranker.seeker_ids.ids)
    expected = expected_rows(ranker, seekers, 5)
    assert summary.n_seekers == len(seekers) and summary.n_parts == -(-len(seekers) // 300) > 1
    assert summary.n_rows == len(written) == len(expected)
    pd.testing.assert_frame_equal(written[["seeker_id", "rank", "job_id"]].astype({"rank": int}),
                                  expected[["seeker_id", "rank", "job_id"]].astype({"rank": int}))
    np.testing.assert_allclose(written["score"].to_numpy(), expected["score"].to_numpy(), rtol=1e-6)
    assert written.groupby("seeker_id")["rank"].max().max() <= 5
    manifest = json.loads((out / MANIFEST).read_text())
    assert manifest["n_seekers"] == len(seekers) and manifest["k"] == 5 and manifest["format_version"] == 1
    assert manifest["catalogue_version"] == ranker.state.version
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temporary directory left


def test_selected_seekers_from_a_file_with_reasons_and_filters(ranker_dir: Path, ranker: Ranker,
                                                              tmp_path: Path) -> None:
    chosen = list(ranker.seeker_ids.ids[[3, 1, 7]])
    listing = tmp_path / "seekers.csv"
    pd.DataFrame({"seeker_id": chosen}).to_csv(listing, index=False)
    out = tmp_path / "recs"
    recommend(ranker_dir, out, seekers=str(listing), k=3, reasons=True, workers=1,
              filters={"max_commute_km": float("inf"), "meets_requirements": False})
    written = pd.read_parquet(out)
    assert written["seeker_id"].drop_duplicates().tolist() == chosen
    expected = ranker.rank_many(chosen, 3, reasons=True, max_commute_km=float("inf"), meets_requirements=False)
    first = expected[0][0]
    assert written["job_id"].iloc[0] == first.job_id
    assert [r["code"] for r in written["reasons"].iloc[0]] == [reason.code for reason in first.reasons]
    assert len(written) == sum(map(len, expected))


def test_bad_input_is_refused_before_anything_is_written(ranker_dir: Path, ranker: Ranker, tmp_path: Path) -> None:
    out = tmp_path / "recs"
    with pytest.raises(UnknownSeekerError, match="nobody"):
        recommend(ranker_dir, out, seekers=["nobody", ranker.seeker_ids.ids[0]], workers=1)
    with pytest.raises(InvalidKError):
        recommend(ranker_dir, out, k=0, workers=1)
    with pytest.raises(InvalidFilterError, match="max_commute_km"):
        recommend(ranker_dir, out, filters={"max_commute_km": -3.0}, workers=1)
    with pytest.raises(InvalidRequestError, match="worker_kind"):
        recommend(ranker_dir, out, worker_kind="fibres")
    assert not out.exists() and list(tmp_path.iterdir()) == []


def test_a_foreign_output_is_never_replaced_and_an_own_one_only_with_overwrite(ranker_dir: Path,
                                                                               tmp_path: Path) -> None:
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("mine")
    for overwrite in (False, True):
        with pytest.raises(OutputExistsError, match="not written by recsys-recommend"):
            recommend(ranker_dir, foreign, workers=1, overwrite=overwrite)
    assert (foreign / "notes.txt").read_text() == "mine"
    a_file = tmp_path / "a.parquet"
    a_file.write_bytes(b"x")
    with pytest.raises(OutputExistsError):
        recommend(ranker_dir, a_file, workers=1, overwrite=True)
    assert a_file.read_bytes() == b"x"

    out = tmp_path / "recs"
    recommend(ranker_dir, out, k=2, workers=1)
    with pytest.raises(OutputExistsError, match="overwrite=true"):
        recommend(ranker_dir, out, k=3, workers=1)
    assert pd.read_parquet(out)["rank"].max() == 2
    recommend(ranker_dir, out, k=3, workers=1, overwrite=True)
    assert pd.read_parquet(out)["rank"].max() == 3


def test_the_command_line_writes_the_lists(ranker_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "recs"
    env = {**os.environ, "RECSYS_HOME": str(tmp_path), "MLFLOW_DISABLE_TELEMETRY": "true"}
    result = subprocess.run([sys.executable, "-m", "recsys.cli.recommend", f"ranker={ranker_dir}", f"output={out}",
                             "k=4", "workers=1"], capture_output=True, text=True, timeout=300, env=env, check=False)
    assert result.returncode == 0, result.stderr[-3000:]
    assert f"written to {out}" in result.stdout
    assert pd.read_parquet(out)["rank"].max() == 4


def test_lightfm_says_that_hogwild_training_is_not_reproducible(tiny_data_dir: Path,
                                                               caplog: pytest.LogCaptureFixture) -> None:
    dataset = Dataset.load(tiny_data_dir)
    with caplog.at_level(logging.WARNING, logger="recsys.models.lightfm"):
        LightFMHybrid(no_components=4, epochs=1, num_threads=1).fit(dataset)
        assert "Hogwild" not in caplog.text
        LightFMHybrid(no_components=4, epochs=1, num_threads=2).fit(dataset)
    assert "num_threads=2: Hogwild training is not reproducible" in caplog.text
