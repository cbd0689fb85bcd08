"""The exposure-aware ceiling: the generator's listing model, and no fitted model above it."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from recsys.data.dataset import Dataset
from recsys.data.schema import CHANNELS
from recsys.data.synthetic import geography as geo
from recsys.data.synthetic.behaviour import ONLINE, _sample_candidates
from recsys.data.synthetic.config import SEGMENTS, DataConfig
from recsys.evaluation import Split, compare, evaluate, rolling_split, temporal_split
from recsys.evaluation.ceiling import ExposureCeiling, session_apply_probability
from recsys.evaluation.oracle import Oracle
from recsys.models import Content, LightFMHybrid, MissingColumnsError, Nearest


def _config(data_dir: Path, **search: float) -> DataConfig:
    fingerprint = json.loads((data_dir / "manifest.json").read_text())["fingerprint"]
    cfg = DataConfig.from_mapping({"dir": str(data_dir), **fingerprint["data_config"]})
    return dataclasses.replace(cfg, search=dataclasses.replace(cfg.search, **search))


def test_listing_probability_matches_the_generators_sampler(tiny_data_dir: Path) -> None:
    """With every listed posting opened and applied to, the probability is P(listed): compare with the sampler."""
    cfg = _config(tiny_data_dir, views_per_session=1e9)
    rng = np.random.default_rng(0)
    m, day, district, desired = 60, 40, 3, 0b001
    job_district = rng.integers(0, len(geo.DISTRICTS), m)
    job_type = rng.integers(0, 3, m)
    post_day = rng.integers(0, day + 1, m)
    jobs = SimpleNamespace(district=job_district, arrays=SimpleNamespace(job_type=job_type))
    active = np.arange(m)  # every posting online: the pool of the online channel
    channel_start = np.searchsorted(np.full(m, ONLINE), np.arange(len(CHANNELS) + 1))
    channel_range = np.array([cfg.search.channel_range_km[c] for c in CHANNELS])
    n_sessions, k = 4000, 20
    cfg = dataclasses.replace(cfg, search=dataclasses.replace(cfg.search, candidates_per_session=k))
    group = np.full(n_sessions, (ONLINE * len(geo.DISTRICTS) + district) * 8 + desired)
    listed = _sample_candidates(np.random.default_rng(1), cfg, day, group, jobs, active, channel_start, post_day,
                                channel_range, k)
    frequency = np.bincount(listed[listed >= 0], minlength=m) / n_sessions
    probability = session_apply_probability(
        cfg, np.full((1, m), 50.0, dtype=np.float32), np.array([day]), np.array([SEGMENTS.index("prime")]),
        np.array([district]), np.array([desired]), np.full(m, ONLINE), job_district, job_type, post_day,
        np.ones((1, m), dtype=bool))[0]
    np.testing.assert_allclose(probability, frequency, atol=0.03)
    assert np.corrcoef(probability, frequency)[0, 1] > 0.98


def test_ceiling_needs_the_generators_columns(tiny_easy_data_dir: Path) -> None:
    dataset = Dataset.load(tiny_easy_data_dir)  # easy publishes seekers.segment (realistic keeps it in truth/)
    bare = Dataset(dataset.seekers.drop(columns="segment"), dataset.jobs,
                   dataset.interactions[["seeker_id", "job_id", "ts", "event"]], validate=False,
                   source=tiny_easy_data_dir)
    with pytest.raises(MissingColumnsError, match=r"seekers\.segment"):
        ExposureCeiling().fit(bare)


@pytest.mark.slow
@pytest.mark.parametrize("make_split", [temporal_split, rolling_split])
def test_no_fitted_model_beats_the_ceiling_and_it_beats_the_utility_oracle(
        tiny_data_dir: Path, make_split: Callable[..., Split]) -> None:
    dataset = Dataset.load(tiny_data_dir)
    manifest = json.loads((tiny_data_dir / "manifest.json").read_text())
    split = make_split(dataset, manifest["split_date"])
    results = {name: evaluate(model.fit(split.train), split, (10,), name=name, n_resamples=500)
               for name, model in (("ceiling", ExposureCeiling()), ("oracle", Oracle()), ("nearest", Nearest()),
                                   ("content", Content()), ("hybrid", LightFMHybrid(epochs=10)))}
    table = compare(results, reference="ceiling", n_resamples=500).set_index("model")
    for name in ("nearest", "content", "hybrid"):
        # model - ceiling: its paired interval never lies above zero
        assert table.loc[name, "ci_low"] <= 0.0, table.loc[name].to_dict()
        assert table.loc[name, "difference"] < 0.0
    assert results["ceiling"].value("hr", 10) >= results["oracle"].value("hr", 10)


def test_session_probability_matches_the_generators_sessions(tiny_data_dir: Path) -> None:
    """One seeker's sessions simulated with the generator's own sampler and browser vs the closed form."""
    from recsys.data.synthetic.behaviour import _browse, _sigmoid
    from recsys.data.synthetic.truth import GroundTruth

    cfg = _config(tiny_data_dir)
    truth = GroundTruth.load(tiny_data_dir)
    dataset = Dataset.load(tiny_data_dir)
    seeker = 7
    m, day = 150, 60
    pool = np.arange(m)  # treated as one online pool
    district_codes = [d.code for d in geo.DISTRICT_TABLE]
    job_district = np.array([district_codes.index(d) for d in dataset.jobs["district"].iloc[pool]])
    seeker_district = district_codes.index(dataset.seekers["district"].iloc[seeker])
    desired = int(truth.seekers.desired_types[seeker])
    job_type = truth.jobs.job_type[pool].astype(np.int64)
    post_day = np.random.default_rng(0).integers(day - 20, day + 1, m)
    jobs = SimpleNamespace(district=job_district, arrays=SimpleNamespace(job_type=job_type))
    channel_start = np.searchsorted(np.full(m, ONLINE), np.arange(len(CHANNELS) + 1))
    channel_range = np.array([cfg.search.channel_range_km[c] for c in CHANNELS])
    n_sessions = 6000
    group = np.full(n_sessions, (ONLINE * len(geo.DISTRICTS) + seeker_district) * 8 + desired)
    rng = np.random.default_rng(1)
    local = _sample_candidates(rng, cfg, day, group, jobs, pool, channel_start, post_day, channel_range,
                               cfg.search.candidates_per_session)
    sessions = np.full(n_sessions, seeker)
    _, viewed, _, utility, _ = _browse(rng, cfg, sessions, np.zeros(n_sessions, dtype=np.int64),
                                       np.full(n_sessions, ONLINE), local, pool, channel_start, truth.seekers.bits,
                                       truth.terms)
    simulated = np.bincount(viewed, weights=_sigmoid(utility - cfg.search.apply_threshold), minlength=m) / n_sessions
    expected = truth.expected_utility(truth.seeker_ids[[seeker]], truth.job_ids[pool])
    closed_form = session_apply_probability(
        cfg, expected, np.array([day]), np.array([SEGMENTS.index("prime")]), np.array([seeker_district]),
        np.array([desired]), np.full(m, ONLINE), job_district, job_type, post_day, np.ones((1, m), dtype=bool))[0]
    assert np.corrcoef(closed_form, simulated)[0, 1] > 0.95
    top = set(np.argsort(-simulated)[:10].tolist())
    assert len(top & set(np.argsort(-closed_form)[:10].tolist())) >= 7


def test_the_ceiling_reads_hidden_segments_from_the_truth_in_the_realistic_world(tmp_path: Path) -> None:
    """The realistic world publishes no ``seekers.segment``: the ceiling takes it from ``truth/post_hoc.npz``
    and stays above the utility oracle and the hybrid (it fell back to the oracle before)."""
    from recsys.data.synthetic import generate_preset

    out = generate_preset("tiny", tmp_path / "realistic", seed=0, world="realistic")
    dataset = Dataset.load(out)
    assert "segment" not in dataset.seekers.columns
    split = rolling_split(dataset, last_days=30)
    ceiling = ExposureCeiling().fit(split.train)
    assert set(ceiling.seeker_segment_) <= set(range(len(SEGMENTS)))
    hr = {name: evaluate(model.fit(split.train), split, (10,), n_resamples=0).value("hr", 10)
          for name, model in (("ceiling", ceiling), ("oracle", Oracle()), ("hybrid", LightFMHybrid(epochs=5)))}
    assert hr["ceiling"] > hr["oracle"] and hr["ceiling"] > hr["hybrid"], hr
