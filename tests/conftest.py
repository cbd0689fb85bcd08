"""Shared fixtures: synthetic datasets generated once per test session through the Python API."""

from __future__ import annotations

from pathlib import Path

import pytest

from recsys.data.synthetic import generate_preset


@pytest.fixture(scope="session")
def tiny_data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The ``tiny`` preset (seed 0, the default ``realistic`` world), generated once per session; returns its
    directory."""
    return generate_preset("tiny", tmp_path_factory.mktemp("synthetic") / "tiny", seed=0)


@pytest.fixture(scope="session")
def small_data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The ``small`` preset (seed 0, the default ``realistic`` world), generated once per session; returns its
    directory."""
    return generate_preset("small", tmp_path_factory.mktemp("synthetic") / "small", seed=0)


@pytest.fixture(scope="session")
def tiny_easy_data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The ``tiny`` preset (seed 0) in the ``easy`` world, for tests of what is specific to it (distance
    dominates, post-hoc facts and segments in the public tables, the figures the audit criticised)."""
    return generate_preset("tiny", tmp_path_factory.mktemp("synthetic") / "tiny-easy", seed=0, world="easy")
