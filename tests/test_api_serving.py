"""The ranker as an MLflow pyfunc model: log, register with an alias, load back, and serve over HTTP."""

from __future__ import annotations

import json
import os
import sys
import urllib.error
import urllib.request
from pathlib import Path

import mlflow
import pandas as pd
import pytest

from recsys.api import Ranker, load_ranker
from recsys.api.profile import PROFILE_FIELDS
from recsys.api.pyfunc import OUTPUT_COLUMNS, log_ranker
from recsys.models.lightfm import LightFMHybrid
from tests.services import model_server
from tests.toy_tables import toy_dataset

MODEL_NAME = "job-ranker"


@pytest.fixture(scope="module")
def ranker() -> Ranker:
    dataset = toy_dataset(60, 40)
    model = LightFMHybrid(no_components=8, epochs=3, random_state=0).fit(dataset)
    return Ranker.from_model(model, dataset)


@pytest.fixture(scope="module")
def registry(tmp_path_factory: pytest.TempPathFactory, ranker: Ranker) -> str:
    """A temporary sqlite MLflow store holding the ranker as ``models:/job-ranker@champion``."""
    store = tmp_path_factory.mktemp("mlflow")
    uri = f"sqlite:///{(store / 'mlflow.db').resolve()}"
    previous = mlflow.get_tracking_uri()
    os.environ["MLFLOW_DISABLE_TELEMETRY"] = "true"
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    mlflow.set_experiment(experiment_id=mlflow.create_experiment(  # artifacts beside the store, not in ./mlruns
        "api-test", artifact_location=(store / "artifacts").resolve().as_uri()))
    try:
        info = log_ranker(ranker, registered_model_name=MODEL_NAME, alias="champion")
        assert info.registered_model_version is not None
        yield uri
    finally:
        mlflow.set_tracking_uri(previous)


def requests_frame(ranker: Ranker) -> pd.DataFrame:
    profile = {f: ranker.seekers.iloc[1][f] for f in PROFILE_FIELDS}
    profile["skills"] = list(profile["skills"])
    profile["desired_job_types"] = list(profile["desired_job_types"])
    return pd.DataFrame([{"seeker_id": ranker.seekers["seeker_id"][0], "k": 3}, {**profile, "k": 2}])


def expected_rankings(ranker: Ranker, frame: pd.DataFrame) -> list[tuple[int, int, str]]:
    first = ranker.rank(frame["seeker_id"][0], k=3)
    profile = {f: frame.iloc[1][f] for f in PROFILE_FIELDS}
    second = ranker.rank(profile, k=2)
    return [(0, r.rank, r.job_id) for r in first] + [(1, r.rank, r.job_id) for r in second]


def test_pyfunc_round_trip_through_the_registry(registry: str, ranker: Ranker,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    # loading puts the model's bundled code first on sys.path: undo it after this test, or later imports
    # in this process would come from that copy
    monkeypatch.setattr(sys, "path", list(sys.path))
    model = mlflow.pyfunc.load_model(f"models:/{MODEL_NAME}@champion")
    frame = requests_frame(ranker)
    out = model.predict(frame)
    assert list(out.columns) == OUTPUT_COLUMNS
    assert list(zip(out["request"], out["rank"], out["job_id"], strict=True)) == expected_rankings(ranker, frame)
    assert out["reasons_en"].str.len().gt(0).all() and out["reasons_zh"].str.len().gt(0).all()
    # the same URI works for load_ranker
    loaded = load_ranker(f"models:/{MODEL_NAME}@champion", set_default=False)
    assert loaded.rank(frame["seeker_id"][0], k=3) == ranker.rank(frame["seeker_id"][0], k=3)



def post_json(url: str, payload: dict) -> dict:
    request = urllib.request.Request(url, data=json.dumps(payload).encode(), method="POST",
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read())


@pytest.mark.slow
def test_mlflow_models_serve_answers_rankings(registry: str, ranker: Ranker, tmp_path: Path) -> None:
    env = {**os.environ, "MLFLOW_TRACKING_URI": registry, "MLFLOW_REGISTRY_URI": registry}
    with model_server(f"models:/{MODEL_NAME}@champion", env, tmp_path / "serve.log", timeout=90) as url:
        frame = requests_frame(ranker)
        records = json.loads(frame.to_json(orient="records", date_format="iso"))
        answer = post_json(f"{url}/invocations", {"dataframe_records": records})
        rows = answer["predictions"]
        assert [(r["request"], r["rank"], r["job_id"]) for r in rows] == expected_rankings(ranker, frame)
