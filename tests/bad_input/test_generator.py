"""Bad generator parameters: a ``ValueError`` naming the field, raised before anything is written."""

from __future__ import annotations

import math
import subprocess
import sys
from pathlib import Path

import pytest
from omegaconf import OmegaConf

from recsys.data.synthetic import generate, generate_preset
from recsys.data.synthetic.generate import compose_config
from recsys.io import OutputExistsError
from tests.bad_input.conftest import assert_unchanged, plant_foreign_dir, snapshot

SMALL = {"n_seekers": 120, "n_jobs": 60}


@pytest.fixture()
def workspace(tmp_path: Path) -> Path:
    """A directory holding a user's file, which no failed generation may touch."""
    (tmp_path / "keep.txt").write_text("user data", encoding="utf-8")
    return tmp_path


@pytest.mark.parametrize(("overrides", "field"), [
    ({"n_seekers": -5}, "data.n_seekers"),
    ({"n_seekers": 0}, "data.n_seekers"),
    ({"n_jobs": -1}, "data.n_jobs"),
    ({"n_employers": 0}, "data.n_employers"),
    ({"days": 0}, "data.days"),
    ({"days": -30}, "data.days"),
    ({"n_seekers": 2.5}, "data.n_seekers"),
    ({"n_jobs": "many"}, "data.n_jobs"),
    ({"seeker_segments__gig": 0.5}, "data.seeker_segments"),
    ({"seeker_segments__prime": -0.2}, "data.seeker_segments"),
    ({"job_channels__online": 0.9}, "data.job_channels"),
    ({"initial_seeker_share": 1.5}, "data.initial_seeker_share"),
    ({"initial_job_share": -0.1}, "data.initial_job_share"),
    ({"start": "not-a-date"}, "data.start"),
    ({"sensitivity__distance_spread": -1.0}, "data.sensitivity.distance_spread"),
    ({"fair_scale": 0}, "data.fair_scale"),
    ({"utility__latent": math.inf}, "data.utility.latent"),
    ({"search__session_rate": -0.5}, "data.search"),
    ({"latent_dim": 0}, "data.latent_dim"),
])
def test_bad_parameter_is_named_before_writing(workspace: Path, overrides: dict, field: str) -> None:
    before = snapshot(workspace)
    with pytest.raises(ValueError, match=field.replace(".", r"\.")):
        generate_preset("tiny", workspace / "out", **{**SMALL, **overrides})
    assert_unchanged(before, workspace)


@pytest.mark.parametrize("seed", [-1, 1.5, "7", True, None])
def test_seed_must_be_a_non_negative_integer(workspace: Path, seed: object) -> None:
    before = snapshot(workspace)
    with pytest.raises(ValueError, match="seed"):
        generate_preset("tiny", workspace / "out", seed=seed, **SMALL)  # type: ignore[arg-type]
    assert_unchanged(before, workspace)


@pytest.mark.parametrize("seed", [-1, 2.5, "x", False])
def test_seed_is_checked_without_hydra_too(workspace: Path, seed: object) -> None:
    cfg = OmegaConf.to_container(compose_config("tiny", workspace / "out", **SMALL), resolve=True)
    cfg["seed"] = seed
    before = snapshot(workspace)
    with pytest.raises(ValueError, match="seed"):
        generate(cfg)
    assert_unchanged(before, workspace)


@pytest.mark.parametrize("preset", ["huge", "", "../small", "tiny.yaml"])
def test_unknown_preset(workspace: Path, preset: str) -> None:
    before = snapshot(workspace)
    with pytest.raises(ValueError, match="preset"):
        generate_preset(preset, workspace / "out")
    assert_unchanged(before, workspace)


def test_unknown_parameter_is_refused(workspace: Path) -> None:
    cfg = OmegaConf.to_container(compose_config("tiny", workspace / "out", **SMALL), resolve=True)
    cfg["data"]["n_seekerz"] = 10
    before = snapshot(workspace)
    with pytest.raises(ValueError, match="n_seekerz"):
        generate(cfg)
    assert_unchanged(before, workspace)


@pytest.mark.parametrize("data", [None, "tiny", 3, ["tiny"]])
def test_data_must_be_the_config_group(workspace: Path, data: object) -> None:
    before = snapshot(workspace)
    with pytest.raises(ValueError, match="data"):
        generate({"seed": 0, "out_dir": str(workspace / "out"), "data": data})
    assert_unchanged(before, workspace)


@pytest.mark.parametrize("out_dir", ["", "   ", None])
def test_empty_out_dir(workspace: Path, out_dir: object) -> None:
    cfg = OmegaConf.to_container(compose_config("tiny", None, **SMALL), resolve=True)
    cfg["out_dir"] = out_dir
    before = snapshot(workspace)
    with pytest.raises(ValueError, match="out_dir"):
        generate(cfg)
    assert_unchanged(before, workspace)


def test_out_dir_is_a_file(workspace: Path) -> None:
    before = snapshot(workspace)
    with pytest.raises(ValueError, match="out_dir"):
        generate_preset("tiny", workspace / "keep.txt", **SMALL)
    assert_unchanged(before, workspace)


def test_out_dir_is_a_foreign_directory(workspace: Path) -> None:
    plant_foreign_dir(workspace / "out")
    before = snapshot(workspace)
    with pytest.raises(OutputExistsError, match="overwrite=true"):
        generate_preset("tiny", workspace / "out", **SMALL)
    assert_unchanged(before, workspace)


def test_out_dir_below_a_file_is_refused(workspace: Path) -> None:
    before = snapshot(workspace)
    with pytest.raises(OutputExistsError, match="keep.txt.* is a file"):
        generate_preset("tiny", workspace / "keep.txt" / "out", **SMALL)
    assert_unchanged(before, workspace)


def test_regenerating_a_dataset_replaces_it_and_nothing_else(workspace: Path) -> None:
    out = generate_preset("tiny", workspace / "out", seed=1, **SMALL)
    before = snapshot(workspace)
    generate_preset("tiny", out, seed=2, **SMALL)
    assert_unchanged({"keep.txt": before["keep.txt"]}, workspace, allow_new=True)
    assert sorted(p.name for p in workspace.iterdir()) == ["keep.txt", "out"]
    assert '"seed": 2' in (out / "manifest.json").read_text(encoding="utf-8")


@pytest.mark.slow
@pytest.mark.parametrize(("args", "field"), [
    (["data=nope"], "data"),
    (["seed=-3"], "seed"),
    (["data.n_seekers=-1"], "n_seekers"),
])
def test_cli_refuses_bad_parameters_without_writing(workspace: Path, args: list[str], field: str) -> None:
    before = snapshot(workspace)
    result = subprocess.run([str(Path(sys.executable).parent / "recsys-generate"), "data=tiny",
                             f"out_dir={workspace / 'out'}", f"hydra.run.dir={workspace / 'hydra'}", *args],
                            capture_output=True, text=True, timeout=120, cwd=workspace)
    assert result.returncode != 0
    assert field in result.stderr + result.stdout
    assert_unchanged(before, workspace, allow_new=True)
    assert not (workspace / "out").exists()


@pytest.mark.slow
def test_cli_refuses_a_foreign_out_dir_and_overwrites_when_told(workspace: Path) -> None:
    out = plant_foreign_dir(workspace / "out")
    before = snapshot(out)
    cli = [str(Path(sys.executable).parent / "recsys-generate"), "data=tiny", f"out_dir={out}", "progress=false",
           f"hydra.run.dir={workspace / 'hydra'}", "data.n_seekers=120", "data.n_jobs=60"]
    refused = subprocess.run(cli, capture_output=True, text=True, timeout=120, cwd=workspace)
    assert refused.returncode != 0 and "overwrite=true" in refused.stderr + refused.stdout
    assert_unchanged(before, out)
    done = subprocess.run([*cli, "overwrite=true"], capture_output=True, text=True, timeout=120, cwd=workspace)
    assert done.returncode == 0, done.stderr[-2000:]
    assert (out / "manifest.json").is_file() and not (out / "notes.txt").exists()
