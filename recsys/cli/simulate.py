"""``recsys-simulate``: recommendation policies inside the generated market, measured by placements.

Model policies are fitted on the interactions before the cutoff and frozen; objective policies (``kind:
objective``: an apply model and a ranking objective, ``configs/objective/``) share one fit of their apply model
and one hiring model, and rank like the ranking API (apply top ``candidates`` re-ranked by the objective's
key, with the live application counts of the market); ranker policies load a saved
``Ranker`` (a directory or an MLflow model URI) whose clock must not be after the cutoff; reference policies
need nothing.
One MLflow run per simulation with a nested child run per policy (metrics: mean over seeds per key group,
paired differences to organic); the report (Markdown, CSV, PNG) goes to ``report_dir`` and is logged under
``report/``.
"""

from __future__ import annotations

import time

import hydra
import numpy as np
from omegaconf import DictConfig, OmegaConf

from recsys.api.objectives import ApplyCalibration, Objective, as_objective
from recsys.cli import pipeline
from recsys.cli.schemas import register_configs
from recsys.data.dataset import Dataset
from recsys.models.hiring import HiringModel
from recsys.paths import config_dir
from recsys.placement.offline import PlacementRecommender
from recsys.progress import progress_enabled
from recsys.simulation import (
    RankerPolicy,
    RecommendationChannel,
    RecommenderPolicy,
    SimulationResult,
    load_snapshot,
    simulate,
)
from recsys.tracking import runs
from recsys.tracking.session import tracked_run

register_configs()

LOGGED_GROUPS = ("all", "graduates", "4050", "unemployed", "flexible")


def objective_of(node: DictConfig) -> Objective:
    """The :class:`~recsys.api.objectives.Objective` of a policy's ``objective`` node (``configs/objective/``)."""
    fields = {key: value for key, value in OmegaConf.to_container(node, resolve=True).items()  # type: ignore[union-attr]
              if key != "_target_"}
    return as_objective(fields)


def build_policies(cfg: DictConfig, data_dir: str, cutoff: np.datetime64) -> tuple[dict[str, object], dict[str, float]]:
    """Policy objects by name (models fitted before ``cutoff``) and each model's fitting time.

    Objective policies with the same apply-model config share one fitted apply model, and all of them one
    :class:`~recsys.models.hiring.HiringModel` (seeded by ``cfg.seed``), so they differ only by the objective.
    """
    policies: dict[str, object] = {}
    fit_seconds: dict[str, float] = {}
    train: Dataset | None = None
    apply_models: dict[str, object] = {}
    hiring: HiringModel | None = None
    calibrations: dict[str, ApplyCalibration] = {}
    for name, node in cfg.policies.items():
        kind = node.get("kind")
        if kind in ("model", "objective") and train is None:
            dataset = Dataset.load(data_dir)
            train = dataset.with_interactions(dataset.interactions["ts"].to_numpy() < cutoff, as_of=cutoff)
        if kind == "reference":
            policies[name] = str(node.get("name", name))
        elif kind == "model":
            assert train is not None
            clock = time.perf_counter()
            policies[name] = RecommenderPolicy(pipeline.build_model(node.model).fit(train), name, train)
            fit_seconds[name] = time.perf_counter() - clock
        elif kind == "objective":
            assert train is not None
            clock = time.perf_counter()
            objective = objective_of(node.objective)
            key = OmegaConf.to_yaml(node.model)
            if key not in apply_models:
                apply_models[key] = pipeline.build_model(node.model).fit(train)
            if objective.needs_hiring and hiring is None:
                hiring = HiringModel(random_state=int(cfg.seed)).fit(train)
            model = PlacementRecommender(apply_models[key], objective, hiring, seed=int(cfg.seed), refit=False,
                                         calibration=calibrations.get(key))
            # no training dataset given: objective policies stay frozen even with refit_every
            policies[name] = RecommenderPolicy(model.fit(train), name)
            if model.calibration_ is not None:
                calibrations[key] = model.calibration_
            fit_seconds[name] = time.perf_counter() - clock
        elif kind == "ranker":
            from recsys.api import load_ranker

            policies[name] = RankerPolicy(load_ranker(str(node.uri), set_default=False), name=name)
        else:
            raise pipeline.ConfigError(f"policies.{name}.kind: expected 'reference', 'model', 'objective' or 'ranker', "
                                       f"got {kind!r}")
    if not policies:
        raise pipeline.ConfigError("policies: nothing to simulate; e.g. policies=[organic,popularity,surplus_oracle]")
    return policies, fit_seconds


def log_policy_metrics(result: SimulationResult, policy: str) -> None:
    """Mean over seeds per key group, offline HR@10 and paired differences to organic, as MLflow metrics."""
    import mlflow

    s = result.summary()
    s = s[(s["policy"] == policy) & s["group"].isin(LOGGED_GROUPS)]
    metrics = {f"{metric.replace('@', '_at_')}.{group}": float(value)
               for metric, group, value in zip(s["metric"], s["group"], s["mean"], strict=True) if np.isfinite(value)}
    if "organic" in result.policies and policy != "organic":
        c = result.compare("organic")
        c = c[(c["policy"] == policy) & c["group"].isin(LOGGED_GROUPS)]
        metrics.update({f"diff_vs_organic.{metric.replace('@', '_at_')}.{group}": float(value)
                        for metric, group, value in zip(c["metric"], c["group"], c["diff"], strict=True)
                        if np.isfinite(value)})
    mlflow.log_metrics(metrics)


def run_tags(cfg: DictConfig, **extra: str) -> dict[str, str]:
    """Tags that make simulation runs easy to filter in the MLflow UI."""
    return {"recsys.command": "simulate", "recsys.data_dir": str(cfg.data_dir),
            "recsys.world": str(cfg.data.get("world", {}).get("name", "?")), **extra}


def run_simulation(cfg: DictConfig) -> SimulationResult:
    """Compose, fit, simulate, report, log."""
    data_dir = pipeline.ensure_data(cfg)
    snapshot = load_snapshot(data_dir, cfg.cutoff_day)
    cutoff = snapshot.start_ns + np.timedelta64(snapshot.cutoff_day, "D")
    policies, fit_seconds = build_policies(cfg, str(data_dir), cutoff)
    channel = RecommendationChannel.of({"share": cfg.recommendation_share, "channels": cfg.recommendation_channels,
                                        "groups": cfg.recommendation_groups})
    with tracked_run(cfg.tracking, run_name=f"simulate {len(policies)} policies",
                     tags=run_tags(cfg)) as parent:
        result = simulate(snapshot, policies, days=int(cfg.days), sim_seeds=list(cfg.sim_seeds),
                          recommendation_share=channel, k=int(cfg.k), progress=progress_enabled(),
                          refit_every=None if cfg.get("refit_every") is None else int(cfg.refit_every))
        result.save(cfg.report_dir)
        if parent is not None:
            import mlflow

            runs.log_config(cfg)
            mlflow.log_artifacts(cfg.report_dir, "report")
            for name in result.policies:
                with tracked_run(cfg.tracking, run_name=name, nested=True,
                                 tags=run_tags(cfg, **{"recsys.policy": name})):
                    node = cfg.policies[name]
                    runs.log_params_flat(OmegaConf.to_container(node, resolve=True), prefix="policy.")  # type: ignore[arg-type]
                    log_policy_metrics(result, name)
                    timing = result.runs[result.runs["policy"] == name]["seconds"]
                    mlflow.log_metrics({"simulate_seconds_per_seed": float(timing.mean()),
                                        **({"fit_seconds": fit_seconds[name]} if name in fit_seconds else {})})
    return result


@hydra.main(version_base="1.3", config_path=str(config_dir()), config_name="simulate")
def main(cfg: DictConfig) -> float:
    """Hydra entry point; returns the best recommending policy's mean placements (all seekers)."""
    result = run_simulation(cfg)
    print(result.to_markdown())
    print(f"\nreport: {cfg.report_dir}/report.md")
    s = result.summary()
    place = s[(s["metric"] == "placements") & (s["group"] == "all")]
    return float(place["mean"].max())


if __name__ == "__main__":
    main()
