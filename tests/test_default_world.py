"""The default world is ``realistic`` in every entry point: each command's Hydra config, ``make run``'s
composition, ``compose_config`` / ``generate_preset`` and the shared test data; ``easy`` stays one override away."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hydra import compose as hydra_compose
from hydra import initialize_config_dir
from omegaconf import DictConfig, OmegaConf

import recsys.cli.recommend  # noqa: F401  (registers recommend_schema)
from recsys.cli.run import compose_run_config
from recsys.cli.schemas import register_configs
from recsys.data.synthetic import generate_preset
from recsys.data.synthetic.config import DataConfig
from recsys.data.synthetic.generate import compose_config, fingerprint
from recsys.paths import config_dir

DEFAULT_WORLD = "realistic"
DATA_COMMANDS = ["generate", "train", "compare", "tune", "simulate"]
"""Every command config that composes a data preset (``recsys-recommend`` reads its data from the ranker)."""

register_configs()


def compose(config_name: str, overrides: list[str] | None = None) -> DictConfig:
    """``config_name`` composed as its command composes it (each call its own Hydra context, as the
    commands, ``compose_run_config`` and ``compose_config`` open theirs)."""
    with initialize_config_dir(config_dir=str(config_dir()), version_base="1.3"):
        return hydra_compose(config_name=config_name, overrides=overrides or [])


def _default_dir(command: str) -> Path:
    cfg = compose(config_name=command)
    return Path(cfg.out_dir if command == "generate" else cfg.data_dir)


@pytest.mark.parametrize("command", DATA_COMMANDS)
def test_every_command_defaults_to_the_realistic_world_and_its_directory(command: str) -> None:
    cfg = compose(config_name=command)
    assert cfg.data.preset == "small" and cfg.data.world.name == DEFAULT_WORLD
    assert not DataConfig.from_mapping(dict(cfg.data)).world.neutral
    assert _default_dir(command).name == f"small-{DEFAULT_WORLD}-seed0"


@pytest.mark.parametrize("command", DATA_COMMANDS)
@pytest.mark.parametrize("preset", ["tiny", "small", "city"])
def test_every_preset_inherits_the_default_world_and_easy_is_one_override_away(command: str, preset: str) -> None:
    cfg = compose(config_name=command, overrides=[f"data={preset}"])
    assert cfg.data.world.name == DEFAULT_WORLD
    easy = compose(config_name=command, overrides=[f"data={preset}", "data/world=easy"])
    assert easy.data.world.name == "easy" and DataConfig.from_mapping(dict(easy.data)).world.neutral
    directory = Path(easy.out_dir if command == "generate" else easy.data_dir)
    assert directory.name == f"{preset}-easy-seed0"


def test_make_run_composes_the_realistic_world() -> None:
    cfg = compose_run_config([])
    assert cfg.data.world.name == DEFAULT_WORLD and Path(cfg.data_dir).name == f"small-{DEFAULT_WORLD}-seed0"
    assert compose_run_config(["data/world=easy"]).data.world.name == "easy"


def test_recommend_has_no_data_group_to_default() -> None:
    # recsys-recommend ranks with a saved ranker, which carries the dataset (and so the world) it was built on
    assert "data" not in compose(config_name="recommend", overrides=["ranker=/nonexistent"])


def test_python_api_defaults_to_the_realistic_world(tiny_data_dir: Path) -> None:
    assert compose_config("small").data.world.name == DEFAULT_WORLD
    assert compose_config("tiny", world="easy").data.world.name == "easy"
    # generate_preset without a world (as the shared fixture calls it) writes the realistic world
    manifest = json.loads((tiny_data_dir / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["world"] == DEFAULT_WORLD
    expected = OmegaConf.to_container(compose_config("tiny", world=DEFAULT_WORLD).data, resolve=True)
    assert manifest["fingerprint"] == fingerprint(expected, 0)  # type: ignore[arg-type]


def test_generate_preset_writes_the_realistic_world_unless_told_otherwise(tmp_path: Path) -> None:
    small = {"n_seekers": 300, "n_jobs": 150}
    default = json.loads((generate_preset("tiny", tmp_path / "d", seed=1, **small) / "manifest.json").read_text())
    easy = json.loads((generate_preset("tiny", tmp_path / "e", seed=1, world="easy", **small)
                       / "manifest.json").read_text())
    assert default["world"] == DEFAULT_WORLD and easy["world"] == "easy"
    assert default["world_hash"] != easy["world_hash"]
