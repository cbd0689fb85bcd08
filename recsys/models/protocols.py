"""The serving contract: what a fitted model must offer for :class:`recsys.api.Ranker` to serve it.

A *factor model* scores a (seeker, job) pair as ``u . e + b_u + b_e`` where the job's embedding ``e``
and bias ``b_e`` are its weighted feature row ``x`` times the feature embeddings ``E`` and biases ``b``
(``e = x @ E``, ``b_e = x @ b``). The ranker stores those representations, scores with one dot product
per job and explains a score by splitting ``x`` into feature blocks (the reasons).

:class:`FactorModel` spells the contract out as a :class:`typing.Protocol`; :func:`check_factor_model`
checks a model (or a model class) against it and raises :class:`UnservableModelError` naming every
missing member, and :func:`check_factor_shapes` checks that a fitted (or loaded) model's arrays agree.

Why :class:`~recsys.models.content.Content` is not a factor model: its score includes terms that
depend on the pair jointly and not linearly on a per-job vector (the haversine commute distance, the
wage shortfall against the seeker's reservation wage, education and age gaps), so no fixed job
embedding reproduces it; serving it would need a second, slower scoring path and reasons of another
kind. It is evaluated offline only (``recsys-compare``) and ``register=true`` refuses it.
"""

from __future__ import annotations

from typing import Any, ClassVar, Protocol

import numpy as np
import pandas as pd
import scipy.sparse as sp

Representations = tuple[np.ndarray, np.ndarray]
"""``(embeddings (n, d) float32, biases (n,) float32)``."""


class UnservableModelError(TypeError):
    """A model does not satisfy :class:`FactorModel`; the message lists the missing members."""


class FactorModel(Protocol):
    """A fitted recommender the ranking API can serve (see the module docstring).

    Row arguments are the fitted dataset's internal rows; table arguments are seekers / jobs tables
    (new profiles, new postings) in the fitted column layout.
    """

    serves_cold_seekers: ClassVar[bool]
    """Whether :meth:`seeker_representations` accepts seekers without training history."""
    serves_new_jobs: ClassVar[bool]
    """Whether :meth:`job_feature_matrix` accepts postings without training history (``add_jobs``)."""

    def seeker_representations(self, seekers: pd.DataFrame | None = None, rows: np.ndarray | None = None
                               ) -> Representations:
        """Embeddings and biases of fitted seeker ``rows`` or of a seekers table."""
        ...

    def job_representations(self, jobs: pd.DataFrame | None = None, rows: np.ndarray | None = None
                            ) -> Representations:
        """Embeddings and biases of fitted job ``rows`` or of a jobs table."""
        ...

    def job_feature_matrix(self, jobs: pd.DataFrame | None = None, rows: np.ndarray | None = None
                           ) -> sp.csr_matrix:
        """Weighted job-feature rows ``x`` ``(n, n_features)``: ``x @ E`` is the job embedding."""
        ...

    def job_feature_names(self) -> list[str]:
        """Name of each job-feature column (``block=value``; identities ``job_id=<id>``)."""
        ...

    def feature_representations(self) -> Representations:
        """``(E (n_features, d), b (n_features,))``: the job-feature embeddings and biases."""
        ...

    def representable_seekers(self) -> np.ndarray:
        """Boolean mask over fitted seeker rows: which have a representation."""
        ...

    def representable_jobs(self) -> np.ndarray:
        """Boolean mask over fitted job rows: which have a representation."""
        ...


FACTOR_MODEL_METHODS = ("seeker_representations", "job_representations", "job_feature_matrix",
                        "job_feature_names", "feature_representations", "representable_seekers",
                        "representable_jobs")
FACTOR_MODEL_FLAGS = ("serves_cold_seekers", "serves_new_jobs")


def missing_members(model: Any) -> list[str]:
    """Members of :class:`FactorModel` that ``model`` (an instance or a class) lacks or has wrongly typed."""
    cls = model if isinstance(model, type) else type(model)
    missing = [f"method {name}()" for name in FACTOR_MODEL_METHODS if not callable(getattr(cls, name, None))]
    missing += [f"flag {name} (bool)" for name in FACTOR_MODEL_FLAGS if not isinstance(getattr(cls, name, None), bool)]
    return missing


def is_factor_model(model: Any) -> bool:
    """Whether ``model`` (instance or class) satisfies :class:`FactorModel`."""
    return not missing_members(model)


def check_factor_model(model: Any) -> FactorModel:
    """``model`` typed as :class:`FactorModel`; raises :class:`UnservableModelError` naming what is missing."""
    missing = missing_members(model)
    if missing:
        name = model.__name__ if isinstance(model, type) else type(model).__name__
        raise UnservableModelError(f"{name} cannot be served by recsys.api.Ranker: it is not a FactorModel "
                                   f"(missing {', '.join(missing)}); serve a LightFM model instead")
    return model


def check_factor_shapes(model: FactorModel) -> tuple[int, int]:
    """Check that a fitted factor model's arrays agree; returns ``(n_features, d)``.

    Raises :class:`ValueError` naming the array whose shape or dtype disagrees.
    """
    embeddings, biases = model.feature_representations()
    if embeddings.ndim != 2 or not np.issubdtype(embeddings.dtype, np.floating):
        raise ValueError(f"feature embeddings must be a 2-d float array, got {embeddings.dtype} {embeddings.shape}")
    n_features, dim = embeddings.shape
    if biases.shape != (n_features,) or not np.issubdtype(biases.dtype, np.floating):
        raise ValueError(f"feature biases must be float ({n_features},), got {biases.dtype} {biases.shape}")
    names = model.job_feature_names()
    if len(names) != n_features:
        raise ValueError(f"{len(names)} job feature names for {n_features} feature embeddings")
    try:  # the first and last representable rows exercise every per-row array's length and width
        for kind, mask in (("seeker", model.representable_seekers()), ("job", model.representable_jobs())):
            rows = np.flatnonzero(mask)[[0, -1]] if mask.any() else np.empty(0, dtype=np.int64)
            represent = model.seeker_representations if kind == "seeker" else model.job_representations
            vectors, offsets = represent(rows=rows)
            if vectors.shape != (len(rows), dim) or offsets.shape != (len(rows),):
                raise ValueError(f"{kind} representations have shape {vectors.shape} / {offsets.shape}, expected "
                                 f"({len(rows)}, {dim}) / ({len(rows)},)")
            if kind == "job" and model.job_feature_matrix(rows=rows).shape != (len(rows), n_features):
                raise ValueError(f"job feature rows do not have {n_features} columns")
    except (IndexError, KeyError, TypeError) as exc:
        raise ValueError(f"the model's arrays disagree with each other ({type(exc).__name__}: {exc})") from exc
    return n_features, dim
