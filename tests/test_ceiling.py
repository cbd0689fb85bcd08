"""The exposure-aware ceiling: the generator's funnel in expectation, and no fitted model above it."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from recsys.data.dataset import Dataset
from recsys.data.synthetic import generate_preset
from recsys.data.synthetic.behaviour import (
    GeneratorDraws,
    Market,
    MarketState,
    active_pool,
    apply_probability,
    browse,
    complete_trainings,
    open_sessions,
    organic_listings,
    prepare_market,
    session_apply_probability,
    skills_at,
)
from recsys.data.synthetic.config import DataConfig
from recsys.data.synthetic.generate import build_population
from recsys.evaluation import compare, evaluate, rolling_split
from recsys.evaluation.ceiling import CeilingUnavailableError, ExposureCeiling
from recsys.evaluation.oracle import Oracle
from recsys.models import Content, LightFMHybrid, NewestNearby, PopularityPrior


@pytest.fixture(scope="module", params=["easy", "realistic"])
def tiny_world(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``tiny`` seed 0 in the easy and the realistic world."""
    return generate_preset("tiny", tmp_path_factory.mktemp("ceiling") / request.param, seed=0, world=request.param)


def _market(data_dir: Path) -> tuple[Market, MarketState]:
    manifest = json.loads((data_dir / "manifest.json").read_text())
    cfg = DataConfig.from_mapping({"dir": str(data_dir), **manifest["fingerprint"]["data_config"]})
    p = build_population(cfg, manifest["seed"])
    return prepare_market(p.rng_sim, p.cfg, p.seekers, p.jobs, p.training_seeker, p.training_skill,
                          p.training_end_min, p.rng_world)


def test_session_probability_matches_the_generators_sessions(tiny_world: Path) -> None:
    """Many sessions of one seeker run through the generator's own steps (channel, listing, opening) with the
    apply draw's probability, against the closed form: the same jobs on top, the same mass."""
    market, state = _market(tiny_world)
    day, n_sessions = 60, 12_000
    complete_trainings(market, state, day)
    pool = active_pool(market, state, day)
    draws = GeneratorDraws(np.random.default_rng(1))
    for seeker in (0, 5, 25):
        assert np.array_equal(skills_at(market, np.array([seeker, seeker]), day), state.bits[[seeker, seeker]])
        sessions = open_sessions(draws, market, state, day, pool, np.full(n_sessions, seeker))
        sessions, local = organic_listings(draws, market, day, pool, sessions)
        views = browse(draws, market, state, pool, sessions, local)
        weight = apply_probability(market, views.util - state.threshold[views.seeker])
        simulated = np.bincount(views.job, weights=weight, minlength=len(state.expires))[pool.active]
        simulated /= len(sessions.seeker)
        closed = session_apply_probability(market, day, pool, np.array([seeker]), state.bits[[seeker]],
                                           state.threshold[[seeker]])[0]
        assert np.corrcoef(closed, simulated)[0, 1] > 0.99, seeker
        top_closed, top_simulated = np.argsort(-closed)[:10], np.argsort(-simulated)[:10]
        assert simulated[top_closed].sum() >= 0.97 * simulated[top_simulated].sum(), seeker
        assert closed.sum() == pytest.approx(simulated.sum(), rel=0.15), seeker


def test_fair_session_probability_matches_the_generators_fair_sessions(tiny_data_dir: Path) -> None:
    """The same check for a session at a fair: the fair's channel, its listings boosted."""
    from recsys.data.synthetic.behaviour import Sessions

    market, state = _market(tiny_data_dir)
    fairs = market.jobs.fairs
    event = 0  # the first fair of the span
    day, n_sessions, seeker = int(fairs.day[event]), 12_000, 7
    for d in range(day + 1):
        complete_trainings(market, state, d)
    pool = active_pool(market, state, day)
    draws = GeneratorDraws(np.random.default_rng(2))
    sessions = Sessions(np.full(n_sessions, seeker), np.full(n_sessions, day * 1440 + 600),
                        np.full(n_sessions, fairs.channel[event]), np.full(n_sessions, event))
    sessions, local = organic_listings(draws, market, day, pool, sessions)
    views = browse(draws, market, state, pool, sessions, local)
    weight = apply_probability(market, views.util - state.threshold[views.seeker])
    simulated = np.bincount(views.job, weights=weight, minlength=len(state.expires))[pool.active] / n_sessions
    closed = session_apply_probability(market, day, pool, np.array([seeker]), state.bits[[seeker]],
                                       state.threshold[[seeker]], at_fair=np.array([event]))[0]
    assert market.cfg.world.fair_day_boost > 1
    assert np.corrcoef(closed, simulated)[0, 1] > 0.99
    assert closed.sum() == pytest.approx(simulated.sum(), rel=0.15)
    ordinary = session_apply_probability(market, day, pool, np.array([seeker]), state.bits[[seeker]],
                                         state.threshold[[seeker]])[0]
    assert np.corrcoef(ordinary, simulated)[0, 1] < 0.9


def test_the_ceiling_scores_queries_with_the_generators_market(tiny_world: Path) -> None:
    """``apply_probability_at`` is the session probability of the rebuilt market at the query's day, on the
    postings listed that day (0 elsewhere), whatever the order of the queries."""
    dataset = Dataset.load(tiny_world)
    ceiling = ExposureCeiling().fit(dataset)
    market, state = _market(tiny_world)
    start = market.cfg.start_ns
    seekers = np.array([3, 11, 3])
    days = np.array([90, 40, 41])
    times = start + (days * 1440 + 600).astype("timedelta64[m]")
    probability = ceiling.apply_probability_at(seekers, times, np.arange(dataset.n_jobs))
    gen_job = ceiling.job_generator_row_
    for i in np.argsort(days):
        pool = active_pool(market, ceiling.closing_state_, int(days[i]))
        s = ceiling.seeker_generator_row_[seekers[[i]]]
        expected = np.zeros(len(state.expires))
        expected[pool.active] = session_apply_probability(market, int(days[i]), pool, s,
                                                          skills_at(market, s, int(days[i])), state.threshold[s])[0]
        np.testing.assert_allclose(probability[i], expected[gen_job])
    assert (probability > 0).any(axis=1).all()


def test_the_ceiling_puts_a_fair_attendees_session_at_the_fair(tiny_data_dir: Path) -> None:
    """A seeker at a fair that day (``event_attendance``) had its session there: every posting the ceiling gives
    a chance is in the fair's channel, and the fair's listings weigh more than in an ordinary session."""
    import pandas as pd

    from recsys.data.schema import CHANNELS
    from recsys.data.synthetic.population import CHANNEL_OF_KIND

    dataset = Dataset.load(tiny_data_dir)
    ceiling = ExposureCeiling().fit(dataset)
    attendance = pd.read_parquet(tiny_data_dir / "event_attendance.parquet").head(40)
    kind = pd.read_parquet(tiny_data_dir / "events.parquet").set_index("event_id").loc[attendance["event_id"], "kind"]
    assert len(attendance) == 40
    seekers = dataset.seeker_ids.to_rows(attendance["seeker_id"].to_numpy())
    times = attendance["ts"].to_numpy(dtype="datetime64[ns]")
    probability = ceiling.apply_probability_at(seekers, times, np.arange(dataset.n_jobs))
    channel = pd.read_parquet(tiny_data_dir / "jobs.parquet").set_index("job_id").loc[
        dataset.job_ids.ids, "channel"].to_numpy()
    fair_channel = kind.map(CHANNEL_OF_KIND).to_numpy()
    assert set(fair_channel) <= set(CHANNELS)
    assert ((probability > 0) <= (channel[None, :] == fair_channel[:, None])).all()
    assert (probability.sum(axis=1) > 0).all()
    ordinary = ceiling.fair_day_key_.copy()
    ceiling.fair_day_key_ = np.zeros(0, np.int64)  # the same queries as ordinary sessions
    try:
        elsewhere = ceiling.apply_probability_at(seekers, times, np.arange(dataset.n_jobs))
    finally:
        ceiling.fair_day_key_ = ordinary
    assert ((elsewhere > 0) & (channel[None, :] != fair_channel[:, None])).any()


def test_the_ceiling_refuses_data_it_cannot_rebuild(tiny_data_dir: Path, tmp_path: Path) -> None:
    dataset = Dataset.load(tiny_data_dir)
    with pytest.raises(CeilingUnavailableError, match="population rebuilt"):
        ExposureCeiling(seed=1).fit(dataset)  # another seed: another population than truth/
    older = tmp_path / "older"
    shutil.copytree(tiny_data_dir, older)
    manifest = json.loads((older / "manifest.json").read_text())
    manifest["fingerprint"]["generator_version"] = -1
    (older / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(CeilingUnavailableError, match="generator_version"):
        ExposureCeiling().fit(Dataset.load(older))
    in_memory = Dataset(dataset.seekers, dataset.jobs, dataset.interactions, validate=False)
    with pytest.raises(CeilingUnavailableError, match="manifest.json"):
        ExposureCeiling().fit(in_memory)
    with pytest.raises(ValueError, match="at a time"):
        ExposureCeiling().fit(dataset).score(np.array([0]))


@pytest.mark.slow
def test_no_fitted_model_beats_the_ceiling_and_it_beats_the_utility_oracle(tiny_world: Path) -> None:
    dataset = Dataset.load(tiny_world)
    split = rolling_split(dataset, json.loads((tiny_world / "manifest.json").read_text())["split_date"])
    models = {"ceiling": ExposureCeiling(), "oracle": Oracle(), "content": Content(),
              "lightfm_hybrid": LightFMHybrid(epochs=10), "popularity_prior": PopularityPrior(),
              "newest_nearby": NewestNearby()}
    results = {name: evaluate(model.fit(split.train), split, (10,), name=name, n_resamples=500)
               for name, model in models.items()}
    table = compare(results, reference="ceiling", n_resamples=500).set_index("model")
    for name in ("content", "lightfm_hybrid", "popularity_prior", "newest_nearby"):
        # model - ceiling: its paired interval never lies above zero
        assert table.loc[name, "ci_low"] <= 0.0, table.loc[name].to_dict()
        assert table.loc[name, "difference"] < 0.0, table.loc[name].to_dict()
    assert results["ceiling"].value("hr", 10) >= results["oracle"].value("hr", 10)


@pytest.mark.slow
def test_no_fitted_model_beats_the_ceiling_on_small(small_data_dir: Path) -> None:
    """Issue 14 asks it on ``small`` (realistic, seed 0, rolling split): every model's paired interval against the
    ceiling lies below zero."""
    dataset = Dataset.load(small_data_dir)
    split = rolling_split(dataset, json.loads((small_data_dir / "manifest.json").read_text())["split_date"])
    models = {"ceiling": ExposureCeiling(), "content": Content(), "lightfm_hybrid": LightFMHybrid(epochs=10),
              "popularity_prior": PopularityPrior(), "newest_nearby": NewestNearby()}
    results = {name: evaluate(model.fit(split.train), split, (10,), name=name, n_resamples=200)
               for name, model in models.items()}
    table = compare(results, reference="ceiling", n_resamples=200).set_index("model")
    assert (table["ci_high"] < 0.0).all(), table[["difference", "ci_low", "ci_high"]].to_dict()
