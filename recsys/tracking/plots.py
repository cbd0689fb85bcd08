"""Figures logged with runs and reports (matplotlib, non-interactive Agg backend)."""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from recsys.io import atomic_file  # noqa: E402


def hr_curve(hit_rates: pd.DataFrame, lower: pd.DataFrame | None = None, upper: pd.DataFrame | None = None
             ) -> Figure:
    """HR@k against k, one line per model.

    Parameters
    ----------
    hit_rates
        Index ``k`` (ints), one column per model, values HR@k in [0, 1].
    lower, upper
        Same shape: bounds of a confidence band, drawn shaded when given.
    """
    fig, ax = plt.subplots(figsize=(7, 4), layout="constrained")
    for model in hit_rates.columns:
        line, = ax.plot(hit_rates.index, hit_rates[model], marker="o", label=str(model))
        if lower is not None and upper is not None:
            ax.fill_between(hit_rates.index, lower[model], upper[model], color=line.get_color(), alpha=0.15)
    ax.set(xlabel="k (list length)", ylabel="HR@k", ylim=(0, None), xticks=list(hit_rates.index),
           title="Hit rate at k")
    ax.grid(alpha=0.3)
    ax.legend(fontsize="small", loc="upper left", bbox_to_anchor=(1.01, 1.0))
    return fig


def group_bars(values: pd.DataFrame, metric: str = "HR@10") -> Figure:
    """Grouped bars: ``values`` has one row per seeker group and one column per model."""
    fig, ax = plt.subplots(figsize=(max(7.0, 1.4 * len(values) + 2), 4), layout="constrained")
    values.plot.bar(ax=ax, rot=0, width=0.8)
    ax.set(xlabel="seeker group", ylabel=metric, ylim=(0, None), title=f"{metric} by seeker group")
    ax.grid(axis="y", alpha=0.3)
    ax.legend(fontsize="small", loc="upper left", bbox_to_anchor=(1.01, 1.0))  # outside: bars reach the top
    return fig


def optimization_history(study: Any, metric: str) -> Figure:
    """Objective value of every completed trial of an Optuna ``study`` and the best value so far.

    Drawn by Optuna's own matplotlib plot (marked experimental; its warning is silenced here).
    """
    import optuna

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        ax = optuna.visualization.matplotlib.plot_optimization_history(study, target_name=metric)
    fig = ax.figure
    assert isinstance(fig, Figure)
    fig.set_size_inches(7, 4)
    fig.set_layout_engine("constrained")
    return fig


def save(fig: Figure, path: str) -> None:
    """Write ``fig`` as a PNG (atomically) and free its memory."""
    with atomic_file(path, "wb", overwrite=True) as handle:
        fig.savefig(handle, format="png", dpi=120)
    plt.close(fig)


def log_figures(figures: Mapping[str, Figure], artifact_dir: str = "plots") -> None:
    """Log figures to the active MLflow run as ``<artifact_dir>/<name>.png`` and close them."""
    import mlflow

    for name, fig in figures.items():
        mlflow.log_figure(fig, f"{artifact_dir}/{name}.png")
        plt.close(fig)
