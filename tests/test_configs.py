"""Every config group option and experiment overlay composes through Hydra's compose API and instantiates;
typos and wrong types fail at composition with Hydra's message."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir
from hydra.errors import ConfigCompositionException
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf

from recsys.cli.pipeline import ConfigError, build_model, check_config
from recsys.cli.schemas import register_configs, schema_from_signature
from recsys.features import JobFeatures, SeekerFeatures
from recsys.models.base import Recommender
from recsys.paths import config_dir
from recsys.tracking import TrackingConfigError, resolve_target

register_configs()
CONFIGS = config_dir()
OVERLAY_COMMANDS = {"baselines_vs_hybrid": "compare", "city": "compare", "cold_start": "compare", "job_block_ablation": "compare",
                    "tune_lightfm": "tune"}
"""Which command each experiment overlay is written for; a new overlay must be added here."""
NO_DATA_OVERRIDES = ["data_dir=/nonexistent/tables", "output_dir=/nonexistent/out"]


def options(group: str) -> list[str]:
    return sorted(path.stem for path in (CONFIGS / group).glob("*.yaml"))


@pytest.fixture(scope="module", autouse=True)
def hydra_context() -> Iterator[None]:
    with initialize_config_dir(config_dir=str(CONFIGS), version_base="1.3"):
        yield


def compose_command(command: str, *overrides: str) -> DictConfig:
    return compose(config_name=command, overrides=[*NO_DATA_OVERRIDES, *overrides])


def _plain(value: object) -> object:
    return list(value) if isinstance(value, tuple) else value


@pytest.mark.parametrize("option", options("model"))
def test_every_model_option_instantiates_a_recommender_with_its_config_values(option: str) -> None:
    import yaml

    cfg = compose_command("train", f"model={option}")
    model = build_model(cfg.model)
    assert isinstance(model, Recommender)
    expected = OmegaConf.to_container(cfg.model, resolve=True)
    expected.pop("_target_")
    actual = {key: _plain(value) for key, value in model.get_params(deep=False).items()}
    assert actual == expected
    # the option departs from its constructor's defaults only where its YAML sets a key
    constructor = {key: _plain(value) for key, value in type(model)().get_params(deep=False).items()}
    differing = {key for key, value in actual.items() if value != constructor[key]}
    own_keys = set(yaml.safe_load((CONFIGS / "model" / f"{option}.yaml").read_text(encoding="utf-8")))
    assert differing <= own_keys - {"defaults", "_target_"}


def test_the_default_feature_set_is_the_hybrids_constructor_default() -> None:
    from recsys.models.lightfm import LightFMHybrid

    cfg = compose_command("train", "model=lightfm_hybrid")
    assert cfg.features.name == "standard"
    constructor = LightFMHybrid().get_params(deep=False)
    assert list(cfg.model.seeker_blocks) == list(constructor["seeker_blocks"])
    assert list(cfg.model.job_blocks) == list(constructor["job_blocks"])


@pytest.mark.parametrize("option", options("split"))
def test_every_split_option_instantiates_a_split_constructor(option: str) -> None:
    cfg = compose_command("train", f"split={option}", "eval.relevant_event=interview")
    split_fn = instantiate(cfg.split)
    assert callable(split_fn)
    assert split_fn.keywords["relevant_event"] == "interview"  # interpolated from the eval group


@pytest.mark.parametrize("option", options("features"))
def test_every_feature_set_names_known_blocks_and_reaches_the_hybrid(option: str) -> None:
    cfg = compose_command("train", f"features={option}", "model=lightfm_hybrid")
    assert set(cfg.features.seeker_blocks) <= set(SeekerFeatures.AVAILABLE_BLOCKS)
    assert set(cfg.features.job_blocks) <= set(JobFeatures.AVAILABLE_BLOCKS)
    model = build_model(cfg.model)
    assert list(model.seeker_blocks) == list(cfg.features.seeker_blocks)
    assert list(model.job_blocks) == list(cfg.features.job_blocks)


@pytest.mark.parametrize("option", options("features"))
def test_completed_trainings_is_off_by_default_and_the_switch_reaches_both_profile_models(option: str) -> None:
    cfg = compose_command("compare", f"features={option}", "models=content_hybrid")
    assert cfg.features.completed_trainings is False
    assert not any(build_model(node).completed_trainings for node in cfg.models.values())
    cfg = compose_command("compare", f"features={option}", "models=content_hybrid", "features.completed_trainings=true")
    assert {label: build_model(node).completed_trainings for label, node in cfg.models.items()} == {
        "content": True, "lightfm_hybrid": True}


@pytest.mark.parametrize("option", options("tracking"))
def test_every_tracking_option_resolves_to_an_absolute_target(option: str) -> None:
    cfg = compose_command("train", f"tracking={option}")
    target = resolve_target(cfg.tracking.uri, cfg.tracking.experiment, cfg.tracking.artifact_location)
    if target.sqlite_path is not None:
        assert target.sqlite_path.is_absolute()


@pytest.mark.parametrize("option", options("eval"))
def test_every_eval_option_composes_with_positive_cutoffs(option: str) -> None:
    cfg = compose_command("train", f"eval={option}")
    assert cfg.eval.ks and min(cfg.eval.ks) > 0 and cfg.eval.bootstrap_samples > 0


@pytest.mark.parametrize("option", options("data"))
def test_every_data_preset_sets_a_data_dir_per_preset_and_seed(option: str) -> None:
    cfg = compose(config_name="train", overrides=[f"data={option}", "output_dir=/nonexistent/out"])
    assert Path(cfg.data_dir).is_absolute() and Path(cfg.data_dir).name == f"{option}-realistic-seed0"
    cfg = compose(config_name="train", overrides=[f"data={option}", "seed=7", "output_dir=/nonexistent/out"])
    assert Path(cfg.data_dir).name == f"{option}-realistic-seed7"


@pytest.mark.parametrize("option", options("models"))
def test_every_model_set_lists_its_baselines_and_instantiates_each_model(option: str) -> None:
    cfg = compose_command("compare", f"models={option}")
    assert set(cfg.baselines) <= set(cfg.models)
    assert all(isinstance(build_model(node), Recommender) for node in cfg.models.values())


def test_the_job_block_ablation_variants_drop_the_blocks_they_name_and_nothing_else() -> None:
    cfg = compose_command("compare", "models=job_block_ablation")
    full = list(cfg.features.job_blocks)
    assert list(cfg.models.lightfm_hybrid.job_blocks) == full
    variants = {label: node for label, node in cfg.models.items() if label.startswith("hybrid_no_")}
    assert {"employer", "skills", "district", "occupation", "wage_band"} <= {v.removeprefix("hybrid_no_")
                                                                             for v in variants}
    for label, node in variants.items():
        dropped = set(label.removeprefix("hybrid_no_").split("_and_"))   # hybrid_no_skills_and_occupation
        assert dropped <= set(full), label
        assert list(node.job_blocks) == [b for b in full if b not in dropped], label
        others = {k: v for k, v in node.items() if k != "job_blocks"}
        reference = {k: v for k, v in cfg.models.lightfm_hybrid.items() if k != "job_blocks"}
        assert others == reference, label


def test_tuned_vs_default_compares_the_defaults_with_copies_at_the_tuning_budget_of_epochs() -> None:
    cfg = compose_command("compare", "models=tuned_vs_default")
    tune_cfg = compose_command("tune", "experiment=tune_lightfm")
    assert list(cfg.baselines) == ["lightfm_hybrid"]
    defaults = OmegaConf.to_container(cfg.models.lightfm_hybrid, resolve=True)
    for label in ("lightfm_tuned", "hybrid_defaults_5_epochs"):
        node = OmegaConf.to_container(cfg.models[label], resolve=True)
        assert node["epochs"] == tune_cfg.model.epochs != defaults["epochs"], label
        assert {k: v for k, v in node.items() if k != "epochs"} == {k: v for k, v in defaults.items()
                                                                     if k != "epochs"}, label


def test_every_experiment_overlay_is_assigned_to_a_command() -> None:
    assert set(options("experiment")) == set(OVERLAY_COMMANDS)


@pytest.mark.parametrize("overlay", sorted(OVERLAY_COMMANDS))
def test_every_experiment_overlay_composes_and_instantiates(overlay: str) -> None:
    cfg = compose_command(OVERLAY_COMMANDS[overlay], f"experiment={overlay}")
    assert cfg.experiment == overlay and cfg.tracking.experiment == overlay
    models = cfg.models.values() if "models" in cfg else [cfg.model]
    assert all(isinstance(build_model(node), Recommender) for node in models)
    assert callable(instantiate(cfg.split))


@pytest.mark.parametrize("command", ["tune", "tune+tune_lightfm"])
def test_search_space_bounds_and_choices_are_valid_overrides(command: str) -> None:
    name, _, overlay = command.partition("+")
    base = [f"experiment={overlay}"] if overlay else []
    cfg = compose_command(name, *base)
    assert cfg.search_space
    for end in (0, -1):  # every dimension at its lower bound / first choice, then upper / last
        overrides = []
        for dim in cfg.search_space:
            value = list(dim.choices)[end] if dim.type == "categorical" else [dim.low, dim.high][end]
            overrides.append(f"{dim.param}={int(value) if dim.type == 'int' else value}")
        trial = compose_command(name, *base, *overrides)
        assert isinstance(build_model(trial.model), Recommender)


@pytest.mark.parametrize(("override", "message"), [
    ("model.window_dayz=3", "window_dayz"),          # typo in a hyperparameter
    ("model.window_days=three", "window_days"),      # wrong type
    ("eval.ks=[5,ten]", "ks"),
    ("tracking.enabeld=false", "enabeld"),
    ("seed=abc", "seed"),
    ("model=popularty", "popularty"),                # unknown option
])
def test_typos_and_wrong_types_fail_at_composition(override: str, message: str) -> None:
    with pytest.raises(ConfigCompositionException, match=message):
        compose_command("train", "model=popularity", override)


def test_schema_from_signature_types_checked_fields_and_falls_back_to_any() -> None:
    import dataclasses

    from omegaconf import ValidationError

    schema = schema_from_signature("tests.test_configs._example_target")
    fields = {f.name: f for f in dataclasses.fields(schema)}
    assert set(fields) == {"_target_", "alpha", "names", "mode", "size"}
    cfg = OmegaConf.structured(schema)
    assert cfg._target_ == "tests.test_configs._example_target" and cfg.names == ["a", "b"]
    cfg.mode = {"anything": 1}  # `object` is not a type OmegaConf checks: the field is Any
    with pytest.raises(ValidationError):
        cfg.alpha = "not a float"
    with pytest.raises(ValidationError):
        cfg.size = None  # required, not Optional


def _example_target(alpha: float = 0.5, names: tuple[str, ...] = ("a", "b"), mode: object = "x", *,
                    size: int = 3) -> None:
    """Used by the schema test."""


def test_relative_sqlite_uri_is_rejected() -> None:
    with pytest.raises(TrackingConfigError, match="relative"):
        resolve_target("sqlite:///mlflow.db", "recsys")


@pytest.mark.parametrize(("command", "overrides", "message"), [
    ("train", ["register=true", "tracking=disabled"], "register=true needs tracking"),
    ("compare", ["models=baselines", "baselines=[popularity,ease]"], "ease"),
])
def test_inconsistent_configs_fail_before_any_data_is_read(command: str, overrides: list[str], message: str) -> None:
    cfg = compose_command(command, *overrides)  # data_dir points nowhere: the check must come first
    with pytest.raises(ConfigError, match=message):
        check_config(cfg)


def test_the_printed_tune_rerun_line_rebuilds_the_tuned_model_in_recsys_train() -> None:
    from recsys.cli.tune import model_overrides, train_overrides

    base = ["experiment=tune_lightfm", "data=tiny", "n_trials=3", "seed=1"]
    tuned = compose_command("tune", *base, "model.loss=bpr", "model.no_components=48", "features=minimal")
    rerun = [*train_overrides(base), *model_overrides("lightfm_hybrid", tuned)]
    assert not any(o.startswith(("experiment=", "n_trials=")) for o in rerun)
    trained = compose_command("train", *rerun)
    assert trained.model == tuned.model and trained.features == tuned.features
    assert trained.model.epochs == 5  # set by the overlay, not searched: must still be carried over
