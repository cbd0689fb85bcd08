"""Recommenders: hand-computed maths, quality on ``tiny``, serving flags, persistence, determinism, errors."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

from recsys.data.dataset import Dataset
from recsys.evaluation import EvaluationResult, Split, evaluate, temporal_split
from recsys.models import (
    EASE,
    Content,
    ItemKNN,
    LightFMCollaborative,
    LightFMHybrid,
    NonFiniteScoreError,
    Popularity,
    RandomRecommender,
    Recommender,
    UnsupportedSeekerError,
)
from recsys.models._common import HyperparameterError, l1_normalize_blocks
from recsys.models.base import NoTrainingEventsError
from recsys.models.content import haversine_km
from tests.toy_tables import toy_dataset

FAST_LIGHTFM = {"epochs": 10, "no_components": 16}
MODELS = {
    "knn": lambda: ItemKNN(),
    "ease": lambda: EASE(),
    "content": lambda: Content(),
    "lightfm": lambda: LightFMCollaborative(**FAST_LIGHTFM),
    "hybrid": lambda: LightFMHybrid(**FAST_LIGHTFM),
}


# ---------------------------------------------------------------------- hand-computed maths
def _matrix_dataset(matrix: np.ndarray) -> Dataset:
    """A toy dataset whose apply matrix (seekers x jobs) is ``matrix`` (entries 0/1)."""
    base = toy_dataset(n_seekers=matrix.shape[0], n_jobs=matrix.shape[1])
    rows, cols = np.nonzero(matrix)
    interactions = pd.DataFrame({
        "seeker_id": base.seekers["seeker_id"].to_numpy()[rows], "job_id": base.jobs["job_id"].to_numpy()[cols],
        "ts": pd.Timestamp("2025-03-01") + pd.to_timedelta(np.arange(len(rows)), unit="h"),
        "event": "apply", "channel": "online"})
    return Dataset(base.seekers, base.jobs, interactions)


def test_item_knn_is_shrunk_cosine_over_top_neighbours() -> None:
    x = np.array([[1, 1, 0, 1], [1, 1, 0, 0], [0, 1, 1, 0], [0, 0, 1, 1]], dtype=float)
    model = ItemKNN(n_neighbors=1, shrinkage=1.0, event_weights={"apply": 1.0}).fit(_matrix_dataset(x))
    norms = np.linalg.norm(x, axis=0)
    cosine = (x.T @ x) / (np.outer(norms, norms) + 1.0)
    np.fill_diagonal(cosine, 0.0)
    kept = np.zeros_like(cosine)
    best = np.argmax(cosine, axis=0)  # one neighbour per target job (lowest row on ties)
    kept[best, np.arange(4)] = cosine[best, np.arange(4)]
    np.testing.assert_allclose(model.similarity_.toarray(), kept, rtol=1e-6)
    np.testing.assert_allclose(model.score(np.arange(4)), x @ kept, rtol=1e-6)


def test_ease_matches_closed_form() -> None:
    x = np.array([[1, 1, 0, 1], [1, 0, 0, 0], [0, 1, 1, 0], [0, 0, 1, 1], [1, 0, 1, 0]], dtype=float)
    model = EASE(l2=2.0, event_weights={"apply": 1.0}).fit(_matrix_dataset(x))
    p = np.linalg.inv(x.T @ x + 2.0 * np.eye(4))
    b = np.eye(4) - p / np.diag(p)
    assert np.allclose(np.diag(b), 0.0)
    np.testing.assert_allclose(model.score(np.arange(5)), x @ b, rtol=1e-4, atol=1e-6)


def test_haversine_is_vectorised_and_correct() -> None:
    # one degree of latitude is ~111.2 km; broadcasting gives the block of pairs
    km = haversine_km(np.array([[23.0], [24.0]]), np.array([[113.0], [113.0]]),
                      np.array([[23.0, 24.0]]), np.array([[113.0, 113.0]]))
    np.testing.assert_allclose(km, [[0.0, 111.19], [111.19, 0.0]], atol=0.01)


def test_block_normalisation_gives_each_block_equal_weight() -> None:
    matrix = sp.csr_matrix(np.array([[1.0, 1.0, 0.0, 3.0], [0.0, 0.0, 0.0, 2.0]]))
    normalised = l1_normalize_blocks(matrix, np.array([0, 3]), share=0.5).toarray()
    np.testing.assert_allclose(normalised, [[0.125, 0.125, 0.0, 0.25], [0.0, 0.0, 0.0, 0.25]])


# ---------------------------------------------------------------------- on tiny
@pytest.fixture(scope="module")
def split(tiny_data_dir: Path) -> Split:
    dataset = Dataset.load(tiny_data_dir)
    cutoff = json.loads((tiny_data_dir / "manifest.json").read_text())["split_date"]
    return temporal_split(dataset, cutoff)


@pytest.fixture(scope="module")
def fitted(split: Split) -> dict[str, Recommender]:
    models = {name: make().fit(split.train) for name, make in MODELS.items()}
    models["random"] = RandomRecommender(seed=0).fit(split.train)
    models["popularity"] = Popularity().fit(split.train)
    return models


@pytest.fixture(scope="module")
def results(fitted: dict[str, Recommender], split: Split) -> dict[str, EvaluationResult]:
    return {name: evaluate(model, split, (10,), n_resamples=50) for name, model in fitted.items()}


def _new_jobs_hr(result: EvaluationResult) -> float:
    row = result.slices.query("slice == 'job' and value == 'new' and metric == 'hr' and k == 10")
    return float(row["mean"].iloc[0])


@pytest.mark.parametrize("name", list(MODELS))
def test_every_model_beats_random_on_hr10(name: str, results: dict[str, EvaluationResult]) -> None:
    assert results[name].value("hr", 10) > results["random"].value("hr", 10)


@pytest.mark.parametrize("name", ["content", "hybrid"])
def test_content_and_hybrid_beat_popularity_on_new_jobs(name: str, results: dict[str, EvaluationResult]) -> None:
    assert _new_jobs_hr(results[name]) > _new_jobs_hr(results["popularity"]) + 0.05


@pytest.mark.parametrize("name", ["knn", "ease", "lightfm"])
def test_collaborative_models_do_not_serve_new_jobs_or_cold_seekers(
        name: str, fitted: dict[str, Recommender], split: Split) -> None:
    model = fitted[name]
    assert not model.serves_new_jobs and not model.serves_cold_seekers
    warm = np.flatnonzero(model.known_seekers_)[:5]
    scores = model.score(warm)
    assert np.isneginf(scores[:, split.job_is_new]).all()
    assert np.isfinite(scores[:, ~split.job_is_new]).all()
    cold = np.flatnonzero(~model.known_seekers_)[:1]
    with pytest.raises(UnsupportedSeekerError):
        model.recommend_rows(cold, 5)


@pytest.mark.parametrize("name", ["content", "hybrid"])
def test_feature_models_score_new_jobs_and_cold_seekers(name: str, fitted: dict[str, Recommender]) -> None:
    model = fitted[name]
    cold = np.flatnonzero(~model.known_seekers_)[:5]
    scores = model.score(cold)
    assert np.isfinite(scores).all() and scores.std(axis=1).min() > 0


@pytest.mark.parametrize("name", list(MODELS))
def test_save_load_scores_identically(name: str, fitted: dict[str, Recommender], tmp_path: Path) -> None:
    model = fitted[name]
    rows = np.arange(0, len(model.seeker_ids_), 7)
    if not model.serves_cold_seekers:
        rows = rows[model.known_seekers_[rows]]
    loaded = Recommender.load(model.save(tmp_path / name))
    assert type(loaded) is type(model)
    assert loaded.get_params() == {k: list(v) if isinstance(v, tuple) else v for k, v in model.get_params().items()}
    np.testing.assert_array_equal(loaded.score(rows), model.score(rows))


@pytest.mark.parametrize("name", ["content", "lightfm", "hybrid"])
def test_same_seed_gives_same_scores(name: str, fitted: dict[str, Recommender], split: Split) -> None:
    again = MODELS[name]().fit(split.train)
    rows = np.flatnonzero(fitted[name].known_seekers_)[:50]
    np.testing.assert_array_equal(again.score(rows), fitted[name].score(rows))


def test_different_seed_gives_different_lightfm(fitted: dict[str, Recommender], split: Split) -> None:
    other = LightFMHybrid(**FAST_LIGHTFM, random_state=1).fit(split.train)
    assert not np.array_equal(other.job_emb_, fitted["hybrid"].job_emb_)


# ---------------------------------------------------------------------- LightFM representation API
def test_cold_rows_carry_the_trained_feature_weights(fitted: dict[str, Recommender], split: Split) -> None:
    model = fitted["hybrid"]
    warm = np.flatnonzero(model.seeker_identity_ >= 0)[:20]
    emb, bias = model.seeker_representations(rows=warm)
    # the same profiles without ids get no identity term, and nothing else changes
    cold_emb, cold_bias = model.seeker_representations(split.train.seekers.iloc[warm].drop(columns="seeker_id"))
    identity = model.seeker_identity_[warm]
    a = model.identity_weight
    np.testing.assert_allclose(cold_emb, emb - a * model.user_embeddings_[identity], atol=1e-5)
    np.testing.assert_allclose(cold_bias, bias - a * model.user_biases_[identity], atol=1e-5)
    # a profile with its id is the fitted row
    same_emb, _ = model.seeker_representations(split.train.seekers.iloc[warm])
    np.testing.assert_allclose(same_emb, emb, atol=1e-6)


def test_scores_are_representation_products(fitted: dict[str, Recommender], split: Split) -> None:
    model = fitted["hybrid"]
    rows, jobs = np.arange(30), np.arange(0, len(model.job_ids_), 3)
    s_emb, s_bias = model.seeker_representations(rows=rows)
    j_emb, j_bias = model.job_representations(rows=jobs)
    assert s_emb.dtype == np.float32 and s_bias.shape == (30,)
    expected = s_emb @ j_emb.T + s_bias[:, None] + j_bias[None, :]
    np.testing.assert_allclose(model.score(rows, jobs), expected, rtol=1e-5, atol=1e-5)
    # new postings given as a table get the same representation as their fitted rows
    table_emb, table_bias = model.job_representations(split.train.jobs.iloc[jobs])
    np.testing.assert_allclose(table_emb, j_emb, atol=1e-6)
    np.testing.assert_allclose(table_bias, j_bias, atol=1e-6)


def test_job_feature_contributions_add_up_to_the_score(fitted: dict[str, Recommender]) -> None:
    model = fitted["hybrid"]
    s_emb, s_bias = model.seeker_representations(rows=np.array([3]))
    jobs = np.arange(0, len(model.job_ids_), 5)
    contributions, names = model.job_feature_contributions(s_emb[0], rows=jobs)
    assert sp.isspmatrix_csr(contributions) and contributions.shape == (len(jobs), len(names))
    assert names[0].startswith("job_id=") and names[-1] == model.job_features_.feature_names_[-1]
    total = np.asarray(contributions.sum(axis=1)).ravel() + s_bias[0]
    np.testing.assert_allclose(total, model.score([3], jobs)[0], rtol=1e-4, atol=1e-4)


def test_job_feature_matrix_times_feature_embeddings_gives_the_job_representations(
        fitted: dict[str, Recommender], split: Split) -> None:
    model = fitted["hybrid"]
    rows = np.arange(0, len(model.job_ids_), 7)
    table = split.train.jobs.iloc[rows]
    for x, (emb, bias) in ((model.job_feature_matrix(rows=rows), model.job_representations(rows=rows)),
                           (model.job_feature_matrix(jobs=table), model.job_representations(jobs=table))):
        assert x.shape == (len(rows), len(model.job_feature_names()))
        np.testing.assert_allclose(x @ model.item_embeddings_, emb, atol=1e-5)
        np.testing.assert_allclose(x @ model.item_biases_, bias, atol=1e-5)
    with pytest.raises(ValueError, match="not both"):
        model.job_feature_matrix(jobs=table, rows=rows)


def test_collaborative_representations_refuse_cold_rows(fitted: dict[str, Recommender]) -> None:
    model = fitted["lightfm"]
    cold = np.flatnonzero(model.seeker_identity_ < 0)[:1]
    with pytest.raises(UnsupportedSeekerError):
        model.seeker_representations(rows=cold)


# ---------------------------------------------------------------------- errors
@pytest.mark.parametrize("model", [
    ItemKNN(n_neighbors=0), ItemKNN(shrinkage=-1.0), ItemKNN(event_weights={"apply": -1.0}),
    ItemKNN(event_weights=["apply"]), Content(text_analyzer="runes"), LightFMHybrid(text_analyzer="runes"),
    EASE(l2=0.0), EASE(event_weights={"apply": 0.0}), Content(n_negatives=0), Content(C=-1.0),
    LightFMCollaborative(loss="hinge"), LightFMCollaborative(no_components=0),
    LightFMCollaborative(learning_rate=float("nan")), LightFMHybrid(identity_weight=1.0),
    LightFMHybrid(epochs=2.5), LightFMHybrid(seeker_blocks=("shoe_size",)),
])
def test_bad_hyperparameters_raise_before_training(model: Recommender) -> None:
    with pytest.raises(ValueError):
        model.fit(toy_dataset())


def test_hyperparameter_errors_name_the_parameter() -> None:
    with pytest.raises(HyperparameterError, match=r"LightFMCollaborative\(loss='hinge'\)"):
        LightFMCollaborative(loss="hinge").fit(toy_dataset())


@pytest.mark.parametrize("model", [
    ItemKNN(event_weights={"click": 1.0}), EASE(event_weights={"hire": 1.0}), Popularity(event="hire"),
    Content(events=("hire",)), LightFMCollaborative(event_weights={"click": 1.0, "hire": 2.0}),
])
def test_absent_training_events_raise_a_typed_error_naming_them(model: Recommender) -> None:
    with pytest.raises(NoTrainingEventsError, match=r"\['apply', 'view'\]") as error:
        model.fit(toy_dataset())  # views and applications only
    assert error.value.present == ["apply", "view"] and error.value.needed


def test_diverged_training_raises_non_finite_error() -> None:
    model = LightFMHybrid(loss="bpr", learning_rate=1e3, epochs=5, event_weights={"apply": 1e30})
    with pytest.raises(NonFiniteScoreError, match="diverged"):
        model.fit(toy_dataset())


def test_non_finite_representations_are_caught_at_scoring(fitted: dict[str, Recommender], tmp_path: Path) -> None:
    model = Recommender.load(fitted["hybrid"].save(tmp_path / "m"))
    model.seeker_emb_[0, 0] = np.nan
    with pytest.raises(NonFiniteScoreError):
        model.score([0])


def test_early_stopping_picks_an_epoch_count_from_the_validation_curve() -> None:
    model = LightFMHybrid(epochs=6, patience=2, no_components=8, early_stopping_days=10).fit(toy_dataset())
    curve = model.validation_curve_
    assert 1 <= len(curve) <= 6 and all(0.0 <= hr <= 1.0 for hr in curve)
    assert curve[model.best_epochs_ - 1] == max(curve)
    with pytest.raises(ValueError, match="early_stopping_days"):
        LightFMHybrid(epochs=2, early_stopping_days=1e4).fit(toy_dataset())
