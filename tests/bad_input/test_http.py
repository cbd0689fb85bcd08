"""The served ranker over HTTP (a real ``mlflow models serve`` on 127.0.0.1): per-row filters and ``k``
arrive and act as in the Python API; every bad request is a 4xx whose JSON message is one line naming the
field, never a stack trace, never a 5xx."""

from __future__ import annotations

import json
import os
import urllib.error
import urllib.request
from collections.abc import Iterator
from typing import Any

import mlflow
import pytest

from recsys.api import Ranker
from recsys.api.profile import PROFILE_FIELDS
from recsys.api.pyfunc import log_ranker
from tests.services import model_server

pytestmark = pytest.mark.slow
MODEL_NAME = "job-ranker-http"


# ------------------------------------------------------------------------------------------ the server
@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, toy_ranker: Ranker) -> Iterator[str]:
    """Base URL of ``mlflow models serve`` serving ``toy_ranker`` from a temporary sqlite registry."""
    store = tmp_path_factory.mktemp("mlflow-http")
    uri = f"sqlite:///{(store / 'mlflow.db').resolve()}"
    exported = {name: os.environ.get(name) for name in ("MLFLOW_TRACKING_URI", "MLFLOW_REGISTRY_URI")}
    previous = mlflow.get_tracking_uri(), mlflow.get_registry_uri()
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    try:
        mlflow.set_experiment(experiment_id=mlflow.create_experiment(  # artifacts beside the store, not ./mlruns
            "http-test", artifact_location=(store / "artifacts").resolve().as_uri()))
        log_ranker(toy_ranker, registered_model_name=MODEL_NAME, alias="champion")
    finally:  # set_*_uri also export MLFLOW_*_URI: put everything back for the tests that follow
        mlflow.set_tracking_uri(previous[0])
        mlflow.set_registry_uri(previous[1])
        for name, value in exported.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
    env = {**os.environ, "MLFLOW_TRACKING_URI": uri, "MLFLOW_REGISTRY_URI": uri}
    with model_server(f"models:/{MODEL_NAME}@champion", env, store / "serve.log") as url:
        yield url


def post(url: str, body: bytes | str | dict, content_type: str = "application/json") -> tuple[int, str]:
    """(status, body text) of a POST to ``url``/invocations."""
    data = json.dumps(body).encode() if isinstance(body, dict) else body.encode() if isinstance(body, str) else body
    request = urllib.request.Request(f"{url}/invocations", data=data, method="POST",
                                     headers={"Content-Type": content_type})
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


def rows(url: str, records: list[dict], **params: Any) -> list[dict]:
    body: dict[str, Any] = {"dataframe_records": records}
    if params:
        body["params"] = params
    status, text = post(url, body)
    assert status == 200, text[:2000]
    return json.loads(text)["predictions"]


def assert_rejected(status: int, text: str, field: str) -> str:
    """A 4xx whose JSON message names ``field`` and carries no traceback; returns the message."""
    assert 400 <= status < 500, (status, text[:2000])
    assert "Traceback" not in text and 'File "' not in text and "stack_trace" not in text, text[:2000]
    message = json.loads(text)["message"]
    assert field in message, message
    return message


def _seeker(ranker: Ranker, i: int = 0) -> str:
    return str(ranker.seekers["seeker_id"].iloc[i])


def _profile(ranker: Ranker, i: int = 1) -> dict[str, Any]:
    row = ranker.seekers.iloc[i]
    profile = {f: row[f] for f in PROFILE_FIELDS}
    profile["skills"] = list(profile["skills"])
    profile["desired_job_types"] = list(profile["desired_job_types"])
    return json.loads(json.dumps(profile, default=lambda v: v.item()))


def _ids(recommendations: list) -> list[str]:
    return [r.job_id for r in recommendations]


# ------------------------------------------------------------------------------------------ the contract
@pytest.mark.parametrize(("filters", "python_filters"), [
    ({"job_types": ["gig"]}, {"job_types": ["gig"]}),
    ({"job_types": ["full_time", "part_time"]}, {"job_types": ["full_time", "part_time"]}),
    ({"districts": ["tianhe"]}, {"districts": ["tianhe"]}),
    ({"max_commute_km": 3.5}, {"max_commute_km": 3.5}),
    ({"meets_requirements": False}, {"meets_requirements": False}),
    ({"exclude_applied": False}, {"exclude_applied": False}),
    ({"now": "2025-04-20T00:00:00"}, {"now": "2025-04-20T00:00:00"}),  # after the toy ranker's clock (2025-04-07)
    ({"job_types": "gig", "districts": ["haizhu", "baiyun"], "max_commute_km": 50},
     {"job_types": ["gig"], "districts": ["haizhu", "baiyun"], "max_commute_km": 50.0}),
])
def test_per_row_filters_act_as_in_the_python_api(server: str, toy_ranker: Ranker, filters: dict,
                                                  python_filters: dict) -> None:
    seeker = _seeker(toy_ranker)
    served = rows(server, [{"seeker_id": seeker, "k": 5, **filters}])
    assert [r["job_id"] for r in served] == _ids(toy_ranker.rank(seeker, 5, **python_filters))


def test_job_type_filter_is_not_ignored(server: str, toy_ranker: Ranker) -> None:
    """The served model once ignored every filter: a row asking for gig work got full-time jobs."""
    seeker = _seeker(toy_ranker)
    served = rows(server, [{"seeker_id": seeker, "k": 10, "job_types": ["gig"]}])
    job_type = dict(zip(toy_ranker.catalogue.table["job_id"], toy_ranker.catalogue.table["job_type"], strict=True))
    assert served and {job_type[r["job_id"]] for r in served} == {"gig"}
    assert len(served) < len(rows(server, [{"seeker_id": seeker, "k": 10}]))


def test_filters_differ_per_row_and_k_defaults_to_the_param(server: str, toy_ranker: Ranker) -> None:
    seeker = _seeker(toy_ranker)
    served = rows(server, [{"seeker_id": seeker, "job_types": ["gig"]}, {"seeker_id": seeker, "k": 2}], k=3)
    first = [r["job_id"] for r in served if r["request"] == 0]
    second = [r["job_id"] for r in served if r["request"] == 1]
    assert first == _ids(toy_ranker.rank(seeker, 3, job_types=["gig"]))
    assert second == _ids(toy_ranker.rank(seeker, 2))


def test_profile_rows_take_filters_too(server: str, toy_ranker: Ranker) -> None:
    profile = _profile(toy_ranker)
    served = rows(server, [{**profile, "k": 4, "districts": ["haizhu"]}])
    assert [r["job_id"] for r in served] == _ids(toy_ranker.rank(profile, 4, districts=["haizhu"]))


def test_optional_profile_fields_are_accepted(server: str, toy_ranker: Ranker) -> None:
    profile = {**_profile(toy_ranker), "seeker_id": "NEW-1", "station_id": "", "registered_at": "2025-01-01"}
    served = rows(server, [{**profile, "k": 3}])
    assert [r["job_id"] for r in served] == _ids(toy_ranker.rank(profile, 3))
    assert {r["seeker_id"] for r in served} == {"NEW-1"}


def test_integral_k_from_a_column_with_gaps_is_accepted(server: str, toy_ranker: Ranker) -> None:
    seeker = _seeker(toy_ranker)
    served = rows(server, [{"seeker_id": seeker, "k": 3}, {"seeker_id": seeker}])  # k becomes 3.0 / NaN
    assert [r["job_id"] for r in served if r["request"] == 0] == _ids(toy_ranker.rank(seeker, 3))
    assert [r["job_id"] for r in served if r["request"] == 1] == _ids(toy_ranker.rank(seeker, 10))


def test_no_rows_is_an_empty_answer(server: str) -> None:
    assert rows(server, []) == []


# ------------------------------------------------------------------------------------------ bad rows
def _bad_rows(ranker: Ranker) -> list[tuple[str, list[dict], str]]:
    seeker = _seeker(ranker)
    profile = _profile(ranker)
    return [
        ("k float", [{"seeker_id": seeker, "k": 2.7}], "k"),
        ("k string", [{"seeker_id": seeker, "k": "3"}], "k"),
        ("k zero", [{"seeker_id": seeker, "k": 0}], "k"),
        ("k negative", [{"seeker_id": seeker, "k": -4}], "k"),
        ("k boolean", [{"seeker_id": seeker, "k": True}], "k"),
        ("k huge", [{"seeker_id": seeker, "k": 10**9}], "k"),
        ("k beyond int64", [{"seeker_id": seeker, "k": 2**70}], "k"),
        ("unknown job type", [{"seeker_id": seeker, "job_types": ["astronaut"]}], "job_types"),
        ("job types not strings", [{"seeker_id": seeker, "job_types": [1, 2]}], "job_types"),
        ("job types a number", [{"seeker_id": seeker, "job_types": 7}], "job_types"),
        ("unknown district", [{"seeker_id": seeker, "districts": ["atlantis"]}], "districts"),
        ("negative commute", [{"seeker_id": seeker, "max_commute_km": -3}], "max_commute_km"),
        ("zero commute", [{"seeker_id": seeker, "max_commute_km": 0}], "max_commute_km"),
        ("text commute", [{"seeker_id": seeker, "max_commute_km": "far"}], "max_commute_km"),
        ("boolean as text", [{"seeker_id": seeker, "exclude_applied": "false"}], "exclude_applied"),
        ("boolean as number", [{"seeker_id": seeker, "meets_requirements": 1}], "meets_requirements"),
        ("now not a time", [{"seeker_id": seeker, "now": "soon"}], "now"),
        ("now a number", [{"seeker_id": seeker, "now": 12345}], "now"),
        ("now before the clock", [{"seeker_id": seeker, "now": "2024-02-01T00:00:00"}], "now"),
        ("misspelt filter", [{"seeker_id": seeker, "job_type": ["gig"]}], "job_type"),
        ("unknown seeker", [{"seeker_id": "NOBODY"}], "NOBODY"),
        ("seeker id a number", [{"seeker_id": 17}], "seeker_id"),
        ("neither id nor profile", [{"k": 3}], "seeker_id"),
        ("profile missing fields", [{"age": 30, "gender": "F"}], "missing"),
        ("profile bad age", [{**profile, "age": 400}], "age"),
        ("second row bad", [{"seeker_id": seeker}, {"seeker_id": seeker, "k": 2.5}], "request row 1"),
        ("profile skills a number", [{**profile, "skills": 5}], "skills"),
        ("profile age text", [{**profile, "age": "old"}], "age"),
        ("profile gender unknown", [{**profile, "gender": 3}], "gender"),
        ("profile flag text", [{**profile, "is_graduate": "yes"}], "is_graduate"),
        ("profile negative wage", [{**profile, "reservation_wage": -5}], "reservation_wage"),
        ("profile district object", [{**profile, "district": {"a": 1}}], "district"),
        ("profile commute text", [{**profile, "max_commute_km": "far"}], "max_commute_km"),
    ]


BAD_ROW_CASES = ["k float", "k string", "k zero", "k negative", "k boolean", "k huge", "k beyond int64",
                 "unknown job type", "job types not strings", "job types a number", "unknown district",
                 "negative commute", "zero commute", "text commute", "boolean as text", "boolean as number",
                 "now not a time", "now a number", "now before the clock", "misspelt filter", "unknown seeker", "seeker id a number",
                 "neither id nor profile", "profile missing fields", "profile bad age", "second row bad",
                 "profile skills a number", "profile age text", "profile gender unknown", "profile flag text",
                 "profile negative wage", "profile district object", "profile commute text"]


@pytest.fixture(scope="module")
def bad_rows(toy_ranker: Ranker) -> dict[str, tuple[list[dict], str]]:
    cases = {name: (records, field) for name, records, field in _bad_rows(toy_ranker)}
    assert sorted(cases) == sorted(BAD_ROW_CASES)
    return cases


@pytest.mark.parametrize("case", BAD_ROW_CASES)
def test_bad_row_is_a_400_naming_the_field_in_one_line(server: str, bad_rows: dict, case: str) -> None:
    records, field = bad_rows[case]
    status, text = post(server, {"dataframe_records": records})
    message = assert_rejected(status, text, field)
    assert status == 400 and "\n" not in message and len(message) < 400, message


# ------------------------------------------------------------------------------------------ bad requests
@pytest.mark.parametrize(("name", "params"), [("k float", {"k": 2.7}), ("k text", {"k": "many"}),
                                             ("k zero", {"k": 0}), ("k negative", {"k": -1}),
                                             ("k huge", {"k": 10**9})])
def test_bad_k_param_is_a_400(server: str, toy_ranker: Ranker, name: str, params: dict) -> None:
    status, text = post(server, {"dataframe_records": [{"seeker_id": _seeker(toy_ranker)}], "params": params})
    assert_rejected(status, text, "k")


@pytest.mark.parametrize(("body", "content_type"), [
    ("{not json", "application/json"),
    ('{"dataframe_records": "abc"}', "application/json"),
    ('{"no_such_key": []}', "application/json"),
    ('[1, 2, 3]', "application/json"),
    ("seeker_id\nS0000\n", "text/plain"),
    (b"\xff\xfe\x00", "application/json"),
])
def test_malformed_body_is_a_4xx_without_a_stack_trace(server: str, body: str | bytes, content_type: str) -> None:
    status, text = post(server, body, content_type)
    assert 400 <= status < 500, (status, text[:2000])
    assert "Traceback" not in text and 'File "' not in text, text[:2000]


def test_server_still_answers_after_bad_requests(server: str, toy_ranker: Ranker) -> None:
    for records in ([{"seeker_id": 1}], [{"k": 2.7}], [{"exclude_applied": "no"}]):
        post(server, {"dataframe_records": records})
    seeker = _seeker(toy_ranker)
    assert [r["job_id"] for r in rows(server, [{"seeker_id": seeker, "k": 3}])] == _ids(toy_ranker.rank(seeker, 3))
