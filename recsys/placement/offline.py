"""Offline evaluation of the ranking objectives: each objective as a recommender, HR@10 on applications and hires.

:class:`PlacementRecommender` fits a factor model (the apply model), a :class:`~recsys.models.hiring.HiringModel`
and an :class:`~recsys.api.objectives.ApplyCalibration` on the training data only, and scores every
candidate job by the objective's key (:func:`recsys.api.objectives.objective_keys`). With ``two_stage``
(default) it ranks like the ranking API: the apply model's top ``candidates`` jobs under the split's
candidate rules, re-ordered by the key; ``two_stage=False`` computes the key for *every* candidate (the
exact objective). The hiring features of a (seeker, job) pair are taken at the seeker's test time
(posting age) with the applications each posting had in the training data (the offline stand-in for the
live counts the API keeps).

Usage::

    python -m recsys.placement.offline --preset small --seed 0 [--world easy] [--plots docs/figures]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from recsys.api.objectives import ApplyCalibration, Objective, as_objective, competition, objective_keys
from recsys.data.dataset import Dataset
from recsys.models.base import Recommender
from recsys.models.hiring import HiringModel, JobSide, SeekerSide, pair_features


class PlacementRecommender(Recommender):
    """Ranks by a placement objective over a fitted apply model and hiring model.

    Parameters
    ----------
    base
        The apply model (an unfitted factor model, e.g. :class:`~recsys.models.lightfm.LightFMHybrid`);
        fitted on the same training data.
    objective
        Objective name, mapping or :class:`~recsys.api.objectives.Objective`.
    hiring
        Unfitted hiring model (its hyperparameters); default :class:`HiringModel()`.
    calibration_negatives, seed
        Negatives per application of the apply calibration, and its seed.
    two_stage
        Re-rank the apply model's top ``objective.candidates`` (as the API does) instead of every candidate.
    refit
        Fit ``base`` and ``hiring`` in :meth:`fit` (default). ``False``: they are already fitted on the
        dataset :meth:`fit` gets (several objectives then share one fit; :meth:`fit` checks that ``base``
        knows the same seekers and jobs).
    calibration
        With ``refit=False``: an :class:`~recsys.api.objectives.ApplyCalibration` already fitted for ``base``
        on the same dataset, shared instead of refitted (``calibration_`` of another instance).
    """

    serves_cold_seekers = True
    serves_new_jobs = True

    def __init__(self, base: Any = None, objective: Any = "apply", hiring: HiringModel | None = None,
                 calibration_negatives: int = 20, seed: int = 0, two_stage: bool = True,
                 refit: bool = True, calibration: ApplyCalibration | None = None) -> None:
        self.base = base
        self.calibration = calibration
        self.objective = objective
        self.hiring = hiring
        self.calibration_negatives = calibration_negatives
        self.seed = seed
        self.refit = refit
        self.two_stage = two_stage

    def get_params(self, deep: bool = True) -> dict[str, Any]:
        objective = as_objective(self.objective)
        return {"base": type(self.base).__name__, "objective": objective.name, "congestion": objective.congestion,
                "surplus_sigma": objective.surplus_sigma, "candidates": objective.candidates,
                "two_stage": self.two_stage, "calibration_negatives": self.calibration_negatives, "seed": self.seed}

    def _fit(self, dataset: Dataset) -> None:
        if self.base is None:
            raise ValueError("PlacementRecommender needs a base (apply) model")
        self.objective_: Objective = as_objective(self.objective)
        hiring = self.hiring or HiringModel()
        if self.refit:
            self.base_ = self.base.fit(dataset)
            self.hiring_ = hiring.fit(dataset) if self.objective_.needs_hiring else None
        else:
            if not (np.array_equal(self.base.seeker_ids_.ids, dataset.seeker_ids.ids)
                    and np.array_equal(self.base.job_ids_.ids, dataset.job_ids.ids)
                    and (self.base.seen_ != dataset.seen_matrix()).nnz == 0):
                raise ValueError("refit=False: base was not fitted on this dataset")
            self.base_ = self.base
            self.hiring_ = hiring if self.objective_.needs_hiring else None
        if not self.objective_.needs_hiring:
            self.calibration_: ApplyCalibration | None = None
        elif self.calibration is not None and not self.refit:
            self.calibration_ = self.calibration
        else:
            self.calibration_ = ApplyCalibration.fit(self.base_, dataset, negatives=self.calibration_negatives,
                                                     seed=self.seed)
        self.seekers_ = SeekerSide.from_table(dataset.seekers)
        self.jobs_ = JobSide.from_table(dataset.jobs)
        expires = pd.to_datetime(dataset.jobs.get("expires_at", pd.Series(pd.NaT, index=dataset.jobs.index)))
        self.expires_ns_ = np.where(expires.isna().to_numpy(), np.iinfo(np.int64).max,
                                    expires.to_numpy("datetime64[ns]").astype(np.int64))
        applied = dataset.interactions[dataset.event_mask("apply")]
        self.applications_ = np.bincount(applied["job_row"].to_numpy(np.int64), minlength=dataset.n_jobs).astype(float)
        cutoff = dataset.interactions["ts"].max()
        self.time_ns_ = np.full(dataset.n_seekers, pd.Timestamp(cutoff).value, dtype=np.int64)

    def set_test_times(self, seeker_rows: np.ndarray, times: np.ndarray) -> None:
        """The time each test seeker is ranked at (posting ages and the congestion horizon use it)."""
        self.time_ns_[np.asarray(seeker_rows, np.int64)] = np.asarray(times, "datetime64[ns]").astype(np.int64)

    def observe_market(self, seeker_rows: np.ndarray, now: Any, job_rows: np.ndarray,
                       applications: np.ndarray) -> None:
        """Live market inputs (the simulator's :class:`~recsys.simulation.policies.MarketObserver` contract):
        ``seeker_rows`` are ranked at ``now`` (posting ages, congestion horizon) and postings ``job_rows``
        have received ``applications`` so far (hiring feature "applicants so far" and the congestion term),
        as the ranking API's :meth:`~recsys.api.ranker.Ranker.record_applications` keeps them. Rows are
        the fitted dataset's; nothing else changes (the fitted models stay frozen)."""
        seeker_rows = np.asarray(seeker_rows, dtype=np.int64)
        job_rows = np.asarray(job_rows, dtype=np.int64)
        counts = np.asarray(applications, dtype=float)
        if counts.shape != job_rows.shape or (counts < 0).any() or not np.isfinite(counts).all():
            raise ValueError(f"observe_market: applications must be finite counts >= 0, one per job row "
                             f"({len(job_rows)}), got shape {counts.shape}")
        self.time_ns_[seeker_rows] = pd.Timestamp(now).as_unit("ns").value
        self.applications_[job_rows] = counts

    def recommend_rows(self, seeker_rows: np.ndarray, k: int, *, candidate_mask: Any = None,
                       exclude_seen: bool = True, cold_seekers: Any = "raise", batch_size: int = 1024
                       ) -> tuple[np.ndarray, np.ndarray]:
        """:meth:`Recommender.recommend_rows`; with ``two_stage`` the apply model's top ``candidates`` under
        the same candidate rules, re-ordered by the objective's key (ties keep the apply order)."""
        objective = self.objective_
        if not self.two_stage or objective.plain:
            return super().recommend_rows(seeker_rows, k, candidate_mask=candidate_mask, exclude_seen=exclude_seen,
                                          cold_seekers=cold_seekers, batch_size=batch_size)
        seeker_rows = np.asarray(seeker_rows, dtype=np.int64)
        idx, val = self.base_.recommend_rows(seeker_rows, max(k, objective.candidates), candidate_mask=candidate_mask,
                                             exclude_seen=exclude_seen, cold_seekers=cold_seekers,
                                             batch_size=batch_size)
        valid = idx >= 0
        pair_seeker = np.repeat(seeker_rows, valid.sum(axis=1))
        grid = np.full(idx.shape, -np.inf)
        grid[valid] = self._keys(pair_seeker, idx[valid], val[valid])
        order = np.argsort(-grid, axis=1, kind="stable")[:, :k]
        row = np.arange(len(idx))[:, None]
        return np.where(valid[row, order], idx[row, order], -1), grid[row, order]

    def _score(self, seeker_rows: np.ndarray, job_rows: np.ndarray) -> np.ndarray:
        scores = np.asarray(self.base_.score(seeker_rows, job_rows), dtype=float)
        if self.objective_.plain:
            return scores
        b, n = scores.shape
        finite = np.isfinite(scores).ravel()
        keys = self._keys(np.repeat(seeker_rows, n), np.tile(job_rows, b), scores.ravel())
        return np.where(finite, keys, -np.inf).reshape(b, n)

    def _keys(self, pair_seeker: np.ndarray, pair_job: np.ndarray, scores: np.ndarray) -> np.ndarray:
        """The objective's key of pairs ``(pair_seeker[i], pair_job[i])`` with apply scores ``scores``."""
        objective = self.objective_
        times = self.time_ns_[pair_seeker]
        probability = crowding = None
        if objective.needs_hiring:
            assert self.hiring_ is not None
            features = pair_features(self.seekers_, self.jobs_, pair_seeker, pair_job, times,
                                     self.applications_[pair_job])
            probability = self.hiring_.predict_features(features, "hire")
        if objective.congestion > 0:
            crowding = competition(self.applications_[pair_job], self.jobs_.vacancies[pair_job],
                                   self.jobs_.posted_ns[pair_job], self.expires_ns_[pair_job], times,
                                   objective.horizon_days)
        keys, _, _ = objective_keys(objective, scores, probability, self.calibration_, crowding)
        return keys


def default_objectives(congestion: float = 1.0) -> list[Objective]:
    """The objectives :func:`run` compares by default: apply, hire, surplus, and apply / surplus with congestion."""
    return [Objective("apply"), Objective("hire"), Objective("surplus"),
            Objective("apply", congestion=congestion), Objective("surplus", congestion=congestion)]


def objective_label(objective: Objective, two_stage: bool = True) -> str:
    """``surplus σ=2 + congestion 1 (top-50 re-ranked)``: the objective and the parameters that matter for it."""
    label = objective.name
    if objective.name == "surplus" and objective.surplus_sigma != 1.0:
        label += f" σ={objective.surplus_sigma:g}"
    label += f" + congestion {objective.congestion:g}" if objective.congestion else ""
    label += "" if objective.plain else (f" (top-{objective.candidates} re-ranked)" if two_stage else " (exact)")
    return label


def run(preset: str = "small", seed: int = 0, data_dir: Path | None = None, *, last_days: float = 28.0,
        congestion: float = 1.0, n_resamples: int = 1000, exact: bool = True, protocol: str = "temporal",
        objectives: Sequence[Objective] | None = None, events: Sequence[str] = ("apply", "hire"),
        world: str | None = None) -> pd.DataFrame:
    """HR@10 (with 95% intervals) on applications and on hires of each objective; one row per objective and
    ranking (``served``: two stages, the apply model's top 50 re-ranked, as the API; ``exact``: every
    candidate, when ``exact``). Without ``data_dir`` the preset is generated in ``world`` (``None``: the
    default world, ``realistic``).

    ``protocol``: ``"temporal"`` (one ranking per test seeker) or ``"rolling"`` (protocol v2: every test
    application ranked at its own time; :func:`~recsys.evaluation.splits.rolling_split`; hires stay
    one-time, since the rolling protocol drops a hire whose posting the seeker applied to first, i.e. all). Hiring features and
    the congestion term are taken at each test seeker's first test time, with the applications each posting
    had before the cutoff. ``objectives``: default :func:`default_objectives` (``congestion``).
    """
    from recsys.data.synthetic import generate_preset
    from recsys.evaluation.evaluate import evaluate
    from recsys.evaluation.splits import rolling_split, temporal_split
    from recsys.models.lightfm import LightFMHybrid

    if protocol not in ("temporal", "rolling"):
        raise ValueError(f"protocol: expected 'temporal' or 'rolling', got {protocol!r}")
    with tempfile.TemporaryDirectory(prefix="placement-") as tmp:
        directory = data_dir or generate_preset(preset, Path(tmp) / preset, seed=seed, **_world(world))
        dataset = Dataset.load(directory)
        # hires stay one-time (temporal): a hire's posting was always applied to first, so the rolling
        # protocol would drop every hire as already reached; both splits share the cutoff (one fit)
        splits = {event: (rolling_split if protocol == "rolling" and event != "hire" else temporal_split)(
            dataset, last_days=last_days, relevant_event=event) for event in events}
        first = splits[events[0]]
        rows = []
        base = LightFMHybrid(random_state=seed).fit(first.train)
        chosen = list(objectives) if objectives is not None else default_objectives(congestion)
        hiring = (HiringModel(random_state=seed).fit(first.train) if any(o.needs_hiring for o in chosen) else None)
        fitted: dict[str, PlacementRecommender] = {}
        variants = [(o, True) for o in chosen] + ([(o, False) for o in chosen if not o.plain] if exact else [])
        for objective, two_stage in variants:
            label = objective_label(objective, two_stage)
            row: dict[str, Any] = {"objective": label, "name": objective.name, "congestion": objective.congestion,
                                   "surplus_sigma": objective.surplus_sigma, "candidates": objective.candidates,
                                   "two_stage": two_stage}
            for event, split in splits.items():
                key = f"{label}|{event}"
                model = PlacementRecommender(base, objective, hiring, seed=seed, two_stage=two_stage, refit=False)
                # every split shares the cutoff, so one fit serves all (checked by evaluate)
                model = fitted.get(label) or model.fit(split.train)
                fitted[label] = model
                model.set_test_times(split.seeker_rows, split.test_time)
                result = evaluate(model, split, ks=(10,), n_resamples=n_resamples, seed=seed, slice_metrics=(),
                                  name=key)
                summary = result.summary
                hr = summary.loc[(summary["metric"] == "hr") & (summary["k"] == 10)].iloc[0]
                row[f"hr@10 {event}"] = float(hr["mean"])
                row[f"ci {event}"] = (float(hr["ci_low"]), float(hr["ci_high"]))
                row[f"n {event}"] = int(split.n_test)
            rows.append(row)
    return pd.DataFrame(rows)


def to_markdown(table: pd.DataFrame) -> str:
    lines = ["| objective | HR@10 applications [95% CI] | HR@10 hires [95% CI] |", "|---|---:|---:|"]
    for _, row in table.iterrows():
        cells = [f"{row[f'hr@10 {e}']:.4f} [{row[f'ci {e}'][0]:.4f}, {row[f'ci {e}'][1]:.4f}]" for e in ("apply", "hire")]
        lines.append(f"| {row['objective']} | {cells[0]} | {cells[1]} |")
    n_apply, n_hire = int(table["n apply"].iloc[0]), int(table["n hire"].iloc[0])
    lines.append("")
    lines.append(f"Test seekers: {n_apply:,} with an application, {n_hire:,} with a hire in the test window.")
    return "\n".join(lines)


def parse_objective(text: str) -> Objective:
    """``surplus,congestion=1,surplus_sigma=2,candidates=50`` -> :class:`Objective` (typed error on a bad field)."""
    name, *fields = [part.strip() for part in text.split(",")]
    values: dict[str, Any] = {"name": name}
    for field in fields:
        key, sep, value = field.partition("=")
        if not sep:
            raise ValueError(f"--objective {text!r}: expected key=value after the name, got {field!r}")
        values[key] = int(value) if key == "candidates" else float(value)
    return as_objective(values)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", default="small")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--world", default=None, help="world preset of the generated data (default: realistic)")
    parser.add_argument("--data-dir", type=Path, default=None, help="an existing dataset directory")
    parser.add_argument("--congestion", type=float, default=1.0)
    parser.add_argument("--resamples", type=int, default=1000)
    parser.add_argument("--plots", type=Path, default=None, help="directory for the reliability diagrams")
    parser.add_argument("--protocol", choices=("temporal", "rolling"), default="temporal",
                        help="rolling: protocol v2 (every test event ranked at its own time)")
    parser.add_argument("--last-days", type=float, default=28.0, help="test window (protocol v2: 30)")
    parser.add_argument("--objective", action="append", type=parse_objective, default=None,
                        help="objective to evaluate, repeatable: name[,congestion=..][,surplus_sigma=..][,candidates=..]")
    parser.add_argument("--no-exact", action="store_true", help="only the served (two-stage) rankings")
    parser.add_argument("--no-calibration", action="store_true", help="skip the hiring-model calibration table")
    parser.add_argument("--csv", type=Path, default=None, help="also write the HR@10 table as CSV")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="placement-") as tmp:
        from recsys.data.synthetic import generate_preset

        data_dir = args.data_dir or generate_preset(args.preset, Path(tmp) / args.preset, seed=args.seed,
                                                    **_world(args.world))
        calibration = None if args.no_calibration else calibration_check(data_dir, args.seed, plot_dir=args.plots)
        table = run(args.preset, args.seed, data_dir, congestion=args.congestion, n_resamples=args.resamples,
                    exact=not args.no_exact, protocol=args.protocol, last_days=args.last_days,
                    objectives=args.objective)
    if calibration is not None:
        print("Hiring model, fitted before the cutoff, on the applications after it:\n")
        print(calibration.to_markdown(index=False, floatfmt=".4f"))
        print()
    print(to_markdown(table))
    if args.csv is not None:
        args.csv.parent.mkdir(parents=True, exist_ok=True)
        flat = table.assign(**{f"ci_{side} {e}": table[f"ci {e}"].str[i] for e in ("apply", "hire")
                               if f"ci {e}" in table for i, side in enumerate(("low", "high"))})
        flat.drop(columns=[c for c in flat.columns if c.startswith("ci ")]).to_csv(args.csv, index=False)
    return 0



def _world(world: str | None) -> dict[str, str]:
    """``generate_preset`` keyword for ``world`` (none: the config's default world)."""
    return {} if world is None else {"world": world}


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


def truth_probabilities(data_dir: Path, dataset: Dataset, seeker_rows: np.ndarray, job_rows: np.ndarray
                        ) -> dict[str, np.ndarray]:
    """The synthetic generator's screening and hiring probabilities of applications (synthetic data only).

    ``interview = sigmoid(screen)`` and ``hire = sigmoid(screen) * sigmoid(hire_score)`` with the logits of
    :mod:`recsys.data.synthetic.behaviour` (skills share on the truth's skill bits, education gap, posted age
    limits, the employer's hidden gender preference, the unposted 4050 penalty; skill and experience for the
    hire), the default :class:`~recsys.data.synthetic.config.ScreeningParams` (what the presets use) plus the
    world's shifts. They ignore what the generator adds on top (limited employer attention, vacancies
    running out, one offer per day, decisions cut off by the posting's end), so they are upper bounds of the
    realised rates.
    """
    import json

    from recsys.data.schema import EDUCATION_LEVELS
    from recsys.data.synthetic.config import ScreeningParams
    from recsys.data.synthetic.truth import GroundTruth
    from recsys.data.synthetic.utility import skill_share

    truth = GroundTruth.load(data_dir)
    meta = json.loads((Path(data_dir) / "truth" / "weights.json").read_text(encoding="utf-8"))
    world = meta.get("world", {})
    params = ScreeningParams()
    seeker_ids = dataset.seeker_ids.to_ids(seeker_rows)
    job_ids = dataset.job_ids.to_ids(job_rows)
    t_seeker = pd.Index(truth.seeker_ids).get_indexer(pd.Index(seeker_ids))
    t_job = pd.Index(truth.job_ids).get_indexer(pd.Index(job_ids))
    share = skill_share(truth.seekers.bits[t_seeker], truth.jobs.bits[t_job])
    seekers, jobs = dataset.seekers.iloc[seeker_rows], dataset.jobs.iloc[job_rows]
    levels = pd.Index(EDUCATION_LEVELS)
    edu_gap = np.maximum(levels.get_indexer(pd.Index(jobs["min_education"])) -
                         levels.get_indexer(pd.Index(seekers["education"])), 0)
    age = seekers["age"].to_numpy(float)
    low = jobs["age_min"].astype("Float64").to_numpy(float, na_value=-np.inf)
    high = jobs["age_max"].astype("Float64").to_numpy(float, na_value=np.inf)
    outside = (age < low) | (age > high)
    preferred = np.asarray(meta["job_preferred_gender"]["values"])[t_job]
    male = (seekers["gender"].astype(str).to_numpy() == "M").astype(int)
    wrong_gender = (preferred >= 0) & (preferred != male)
    is_4050 = seekers["is_4050"].to_numpy(bool)
    screen = (params.base + world.get("screening_base_shift", 0.0) + params.skill * share
              - params.education * edu_gap - params.age_limit * outside - params.gender * wrong_gender
              - params.worker_4050 * is_4050)
    hire = (params.hire_base + world.get("hire_base_shift", 0.0) + params.hire_skill * share
            + params.hire_experience * seekers["experience_years"].to_numpy(float) / 10)
    return {"interview": _sigmoid(screen), "hire": _sigmoid(screen) * _sigmoid(hire)}


def calibration_check(data_dir: Path, seed: int = 0, *, last_days: float = 28.0, plot_dir: Path | None = None
                      ) -> pd.DataFrame:
    """The hiring model fitted before the temporal cutoff, judged on the applications after it.

    One row per target: test applications, observed rate, mean prediction, Brier score, Brier score of the
    base rate, and (synthetic data) the mean of the generator's probability and its Pearson and Spearman
    correlations with the model's. ``plot_dir``: also save the reliability diagrams there.
    """
    from recsys.evaluation.splits import temporal_split
    from recsys.models.hiring import TARGETS, calibration_report, plot_reliability, training_table

    dataset = Dataset.load(data_dir)
    split = temporal_split(dataset, last_days=last_days)
    hiring = HiringModel(random_state=seed).fit(split.train)
    table = training_table(dataset, None)
    if split.cutoff is None:
        raise ValueError("the temporal split has no cutoff")
    test = table["time_ns"] >= pd.Timestamp(split.cutoff).value
    truth = (truth_probabilities(data_dir, dataset, table["seeker_row"][test], table["job_row"][test])
             if (Path(data_dir) / "truth").is_dir() else None)
    rows = []
    for target in TARGETS:
        predicted = hiring.predict_features(table["features"][test], target)
        outcome = table[target][test]
        report = calibration_report(predicted, outcome)
        row = {"target": target, "applications": int(test.sum()), "observed_rate": float(outcome.mean()),
               "mean_predicted": float(predicted.mean()), "brier": report["brier"],
               "base_rate_brier": report["base_rate_brier"]}
        if truth is not None:
            row["mean_truth"] = float(truth[target].mean())
            row["pearson_vs_truth"] = float(np.corrcoef(predicted, truth[target])[0, 1])
            row["spearman_vs_truth"] = float(pd.Series(predicted).corr(pd.Series(truth[target]), method="spearman"))
            row["brier_of_truth"] = float(np.mean((truth[target] - outcome) ** 2))
        rows.append(row)
        if plot_dir is not None:
            Path(plot_dir).mkdir(parents=True, exist_ok=True)
            plot_reliability(report, Path(plot_dir) / f"placement_reliability_{target}.png",
                             title=f"P({target} | apply)")
    return pd.DataFrame(rows)


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
