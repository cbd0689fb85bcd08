"""LightFM recommenders: collaborative (identities only) and hybrid (identities + profile features).

Scoring never calls ``LightFM.predict``: after training, every seeker and job row gets a representation
``x @ E`` (embedding) and ``x @ b`` (bias) from its weighted feature row ``x``, computed once, and a
score is ``seeker_emb @ job_emb.T + seeker_bias + job_bias``.

Feature weights (the cold-start scheme)
---------------------------------------
LightFM is *not* asked to normalise rows. We build every row ourselves on the trained column layout
``[identity columns | feature columns]``:

* a seeker or job seen in training has its identity column at weight ``identity_weight`` (``a``);
* its profile features carry ``1 - a`` in total, split equally between the feature blocks (each block
  L1-normalised), so a TF-IDF block with fifty n-grams weighs as much as a one-hot;
* a cold seeker or a new posting has no identity column and *the same* feature weights.

So a feature's weight never depends on whether the identity is present: a cold row is exactly the
trained row minus its identity term (with LightFM's ``normalize=True`` a row with identity + 3 features
weighs each feature 1/4 in training but 1/3 when the identity is missing, silently shifting cold
scores).

Determinism
-----------
With ``num_threads=1`` (the default) and an integer ``random_state`` training is reproducible bit for
bit. With more threads LightFM trains Hogwild-style (lock-free, racing updates) and results differ run to
run; ``fit`` then logs a warning saying so. Deterministic runs (every default config) stay single-threaded;
``model.num_threads=2`` trades reproducibility for speed on large data.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

import numpy as np
import pandas as pd
import scipy.sparse as sp
from lightfm import LightFM

from recsys.data.dataset import Dataset
from recsys.features import JobFeatures, SeekerFeatures, TableFeatures, seeker_profiles
from recsys.features.blocks import TEXT_ANALYZERS
from recsys.models._common import (
    check_choice,
    check_event_weights,
    check_number,
    csr_from_arrays,
    csr_to_arrays,
    datetime64,
    l1_normalize_blocks,
    last_event_time,
    positive_events,
    require_events,
    split_state,
    time_column,
)
from recsys.models.base import NonFiniteScoreError, Recommender, UnsupportedSeekerError, top_k
from recsys.progress import progress

LOSSES = ("warp", "bpr", "logistic", "warp-kos")

Representations = tuple[np.ndarray, np.ndarray]

logger = logging.getLogger(__name__)


class _LightFMModel(Recommender):
    """Shared training and scoring of :class:`LightFMCollaborative` and :class:`LightFMHybrid`."""

    uses_features: ClassVar[bool] = False

    def __init__(self, loss: str = "warp", no_components: int = 64, learning_rate: float = 0.05,
                 item_alpha: float = 1e-6, user_alpha: float = 1e-6, epochs: int = 30, max_sampled: int = 30,
                 event_weights: Mapping[str, float] | None = None, num_threads: int = 1, random_state: int = 0,
                 early_stopping_days: float | None = None, patience: int = 3) -> None:
        self.loss = loss
        self.no_components = no_components
        self.learning_rate = learning_rate
        self.item_alpha = item_alpha
        self.user_alpha = user_alpha
        self.epochs = epochs
        self.max_sampled = max_sampled
        self.event_weights = event_weights
        self.num_threads = num_threads
        self.random_state = random_state
        self.early_stopping_days = early_stopping_days
        self.patience = patience

    # ------------------------------------------------------------------ training
    def _check_params(self) -> None:
        check_choice(self, "loss", self.loss, LOSSES)
        check_number(self, "no_components", self.no_components, low=0, integer=True)
        check_number(self, "learning_rate", self.learning_rate, low=0.0)
        check_number(self, "item_alpha", self.item_alpha, low=0.0, strict=False)
        check_number(self, "user_alpha", self.user_alpha, low=0.0, strict=False)
        check_number(self, "epochs", self.epochs, low=0, integer=True)
        check_number(self, "max_sampled", self.max_sampled, low=0, integer=True)
        check_number(self, "num_threads", self.num_threads, low=0, integer=True)
        check_number(self, "random_state", self.random_state, low=0, strict=False, integer=True)
        check_number(self, "early_stopping_days", self.early_stopping_days, low=0.0, allow_none=True)
        check_number(self, "patience", self.patience, low=0, integer=True)
        check_event_weights(self, self.event_weights)
        if self.loss == "warp-kos" and self.event_weights is not None:
            check_choice(self, "event_weights (warp-kos takes no sample weights)", self.event_weights, [None])

    def _fit(self, dataset: Dataset) -> None:
        interactions, user_x, item_x = self.training_matrices(dataset)
        if self.num_threads > 1:
            logger.warning("%s: num_threads=%d: Hogwild training is not reproducible (the same seed gives "
                           "different models); use num_threads=1 for deterministic runs",
                           type(self).__name__, self.num_threads)
        self.best_epochs_ = self.epochs
        self.validation_curve_: list[float] = []
        if self.early_stopping_days:
            self.best_epochs_, self.validation_curve_ = self._early_stopping(dataset, user_x, item_x)
        model = self._train(interactions, user_x, item_x, self.best_epochs_)
        self._store(model, self._seeker_x, self._job_x)
        # Warm for LightFM means a trained identity: a seeker whose only events carry no sample weight
        # (e.g. views) is warm for the dataset but has no identity, so it is served as a cold seeker.
        self.known_seekers_ = self.known_seekers_ & (self.seeker_identity_ >= 0)
        del self._seeker_x, self._job_x, self._train_seekers, self._train_jobs  # fit-time scratch

    def training_matrices(self, dataset: Dataset) -> tuple[sp.coo_matrix, sp.csr_matrix, sp.csr_matrix]:
        """Check hyperparameters, fit the feature layout and return what ``LightFM.fit`` receives.

        Returns the weighted interactions (COO, seekers with training events x jobs that existed during
        training; the weights become LightFM sample weights) and the user and item feature matrices.
        """
        self._check_params()
        if len(dataset.interactions) == 0:
            raise ValueError(f"{type(self).__name__}: the training dataset has no interactions")
        weights = dataset.interaction_matrix(self._training_weights(dataset))
        last_ts = last_event_time(dataset)
        existed = time_column(dataset.jobs, "posted_at", "min") <= last_ts  # no posted_at: every job existed
        # Item set = postings that existed during training (LightFM samples negatives among them);
        # postings published later are never trained as negatives and get features-only rows.
        self._train_jobs = np.flatnonzero(existed | (weights.getnnz(axis=0) > 0))
        self._train_seekers = np.flatnonzero(np.diff(weights.indptr) > 0)
        self.seeker_identity_ = _identity_index(dataset.n_seekers, self._train_seekers)
        self.job_identity_ = _identity_index(dataset.n_jobs, self._train_jobs)
        profiles = self._seeker_table(dataset)
        self._fit_transformers(dataset, last_ts, profiles)
        self._seeker_x = self._seeker_matrix(self.seeker_identity_, profiles)
        self._job_x = self._job_matrix(self.job_identity_, dataset.jobs)
        interactions = weights[self._train_seekers][:, self._train_jobs].tocoo()
        return interactions, self._seeker_x[self._train_seekers], self._job_x[self._train_jobs]

    def _event_weights(self, dataset: Dataset) -> dict[str, float]:
        """``event_weights``, or the training sample weights of the dataset's funnel."""
        return dict(self.event_weights or dataset.funnel.training_weights)

    def _training_weights(self, dataset: Dataset) -> dict[str, float]:
        """Positive event weights of the events present in ``dataset``; :class:`NoTrainingEventsError` if none."""
        weights = self._event_weights(dataset)
        return {event: weights[event] for event in require_events(self, dataset, positive_events(weights))}

    def _new_lightfm(self) -> LightFM:
        return LightFM(no_components=self.no_components, loss=self.loss, learning_rate=self.learning_rate,
                       item_alpha=self.item_alpha, user_alpha=self.user_alpha, max_sampled=self.max_sampled,
                       random_state=self.random_state)

    def _train(self, interactions: sp.coo_matrix, user_x: sp.csr_matrix, item_x: sp.csr_matrix, epochs: int,
               model: LightFM | None = None) -> LightFM:
        """Run ``epochs`` more epochs of ``model`` (a fresh one by default)."""
        model = model or self._new_lightfm()
        ones = sp.coo_matrix((np.ones_like(interactions.data), (interactions.row, interactions.col)),
                             shape=interactions.shape, dtype=np.float32)
        sample_weight = None if self.loss == "warp-kos" else interactions
        try:
            # one epoch per call (the same random draws as epochs=n), so long fits show a bar on a terminal
            for _ in progress(range(epochs), f"{type(self).__name__} epochs", unit="epoch", wanted=epochs > 1):
                model.fit_partial(ones, user_features=user_x, item_features=item_x, sample_weight=sample_weight,
                                  epochs=1, num_threads=self.num_threads)
        except ValueError as exc:
            if "finite" in str(exc):
                raise NonFiniteScoreError(f"{type(self).__name__} diverged: {exc} (learning_rate="
                                          f"{self.learning_rate}, loss={self.loss!r})") from exc
            raise
        _check_finite_params(self, model)
        return model

    def _early_stopping(self, dataset: Dataset, user_x: sp.csr_matrix, item_x: sp.csr_matrix
                        ) -> tuple[int, list[float]]:
        """Epoch count with the best HR@10 on the last ``early_stopping_days`` of training data.

        Trains on interactions before the window, one epoch at a time; stops after ``patience`` epochs
        without improvement. Validation targets are the window's training events (those with a positive
        weight: applications and later stages by default) on item-set jobs.
        """
        train_seekers, train_jobs = self._train_seekers, self._train_jobs
        weights = self._training_weights(dataset)
        ts = datetime64(dataset.interactions["ts"])
        cut = ts.max() - np.timedelta64(pd.Timedelta(days=float(self.early_stopping_days or 0.0)))
        early = dataset.with_interactions(ts <= cut)
        late = dataset.with_interactions(ts > cut)
        fit_part = early.interaction_matrix(weights)
        fit_part = fit_part[train_seekers][:, train_jobs]
        targets = late.interaction_matrix(dict.fromkeys(weights, 1.0))[train_seekers][:, train_jobs]
        targets = targets - targets.multiply(fit_part > 0)
        targets.eliminate_zeros()
        val_users = np.flatnonzero(np.diff(targets.indptr) > 0)
        if fit_part.nnz == 0 or len(val_users) == 0:
            raise ValueError(f"{type(self).__name__}: early_stopping_days={self.early_stopping_days} leaves no "
                             f"training or no validation interactions; use a shorter window or None")
        model, curve, best, since_best = None, [], 0, 0
        for epoch in range(1, self.epochs + 1):
            model = self._train(fit_part.tocoo(), user_x, item_x, 1, model)
            user_emb, user_bias = _represent(user_x[val_users], model.user_embeddings, model.user_biases)
            item_emb, item_bias = _represent(item_x, model.item_embeddings, model.item_biases)
            scores = user_emb @ item_emb.T + item_bias[None, :]
            seen = fit_part[val_users].tocoo()
            scores[seen.row, seen.col] = -np.inf
            top, _ = top_k(scores, 10)
            hits = np.take_along_axis(targets[val_users].toarray() > 0, np.maximum(top, 0), axis=1) & (top >= 0)
            curve.append(float(hits.any(axis=1).mean()))
            if curve[-1] > curve[best] or epoch == 1:
                best, since_best = epoch - 1, 0
            else:
                since_best += 1
                if since_best >= self.patience:
                    break
        return best + 1, curve

    def _store(self, model: LightFM, seeker_x: sp.csr_matrix, job_x: sp.csr_matrix) -> None:
        self.user_embeddings_ = model.user_embeddings.astype(np.float32)
        self.user_biases_ = model.user_biases.astype(np.float32)
        self.item_embeddings_ = model.item_embeddings.astype(np.float32)
        self.item_biases_ = model.item_biases.astype(np.float32)
        self.job_x_ = job_x
        self.seeker_emb_, self.seeker_bias_ = _represent(seeker_x, self.user_embeddings_, self.user_biases_)
        self.job_emb_, self.job_bias_ = _represent(job_x, self.item_embeddings_, self.item_biases_)

    # ------------------------------------------------------------------ feature rows
    def _fit_transformers(self, dataset: Dataset, last_ts: np.datetime64, profiles: pd.DataFrame) -> None:
        """Collaborative: nothing. Hybrid overrides (``profiles``: :meth:`_seeker_table`)."""

    def _seeker_table(self, dataset: Dataset) -> pd.DataFrame:
        """The seekers table seeker rows are built from at fit time (the hybrid may add completed trainings)."""
        return dataset.seekers

    def _seeker_matrix(self, identity: np.ndarray, seekers: pd.DataFrame | None) -> sp.csr_matrix:
        """Weighted seeker rows on the trained layout (``identity[i]`` = identity column or -1)."""
        raise NotImplementedError

    def _job_matrix(self, identity: np.ndarray, jobs: pd.DataFrame | None) -> sp.csr_matrix:
        raise NotImplementedError

    @property
    def n_seeker_identities_(self) -> int:
        return int((self.seeker_identity_ >= 0).sum())

    @property
    def n_job_identities_(self) -> int:
        return int((self.job_identity_ >= 0).sum())

    # ------------------------------------------------------------------ scoring
    def _score(self, seeker_rows: np.ndarray, job_rows: np.ndarray) -> np.ndarray:
        scores = self.seeker_emb_[seeker_rows] @ self.job_emb_[job_rows].T
        scores += self.seeker_bias_[seeker_rows, None]
        scores += self.job_bias_[None, job_rows]
        return scores

    def unsupported_seekers(self, seeker_rows: np.ndarray) -> np.ndarray:
        if self.serves_cold_seekers:
            return np.zeros(len(seeker_rows), dtype=bool)
        return self.seeker_identity_[seeker_rows] < 0

    def seeker_representations(self, seekers: pd.DataFrame | None = None, rows: np.ndarray | None = None
                               ) -> Representations:
        """Embeddings ``(n, d)`` and biases ``(n,)`` (float32) of seekers.

        ``rows``: fitted seeker rows; ``seekers``: a seekers table (new profiles; a ``seeker_id`` seen in
        training also gets its identity term); neither: every fitted row.
        """
        self._check_fitted()
        if seekers is not None:
            if rows is not None:
                raise ValueError("pass seekers or rows, not both")
            identity = self._identity_of(seekers, "seeker_id", self.seeker_ids_, self.seeker_identity_, "seeker")
            return _represent(self._seeker_matrix(identity, seekers), self.user_embeddings_, self.user_biases_)
        rows = self._rows(rows, len(self.seeker_ids_), "seeker")
        if not self.serves_cold_seekers and (self.seeker_identity_[rows] < 0).any():
            raise UnsupportedSeekerError(f"{type(self).__name__} has no representation for seekers without "
                                         f"training history (first row {rows[self.seeker_identity_[rows] < 0][0]})")
        return self.seeker_emb_[rows].copy(), self.seeker_bias_[rows].copy()

    def job_representations(self, jobs: pd.DataFrame | None = None, rows: np.ndarray | None = None
                            ) -> Representations:
        """Embeddings ``(n, d)`` and biases ``(n,)`` (float32) of jobs (fitted ``rows`` or a jobs table)."""
        self._check_fitted()
        if jobs is not None:
            if rows is not None:
                raise ValueError("pass jobs or rows, not both")
            return _represent(self.job_feature_matrix(jobs=jobs), self.item_embeddings_, self.item_biases_)
        rows = self._rows(rows, len(self.job_ids_), "job")
        if not self.serves_new_jobs and (self.job_identity_[rows] < 0).any():
            raise ValueError(f"{type(self).__name__} has no representation for jobs outside its training "
                             f"item set (first row {rows[self.job_identity_[rows] < 0][0]})")
        return self.job_emb_[rows].copy(), self.job_bias_[rows].copy()

    def job_feature_matrix(self, jobs: pd.DataFrame | None = None, rows: np.ndarray | None = None
                           ) -> sp.csr_matrix:
        """Weighted job-feature rows ``x`` (identity columns first) of fitted ``rows`` or a jobs table.

        A job's embedding is ``x @ item_embeddings_`` and its bias ``x @ item_biases_``; a job outside
        the training item set has no identity column.
        """
        self._check_fitted()
        if jobs is not None:
            if rows is not None:
                raise ValueError("pass jobs or rows, not both")
            identity = self._identity_of(jobs, "job_id", self.job_ids_, self.job_identity_, "job")
            return self._job_matrix(identity, jobs)
        return self.job_x_[self._rows(rows, len(self.job_ids_), "job")]

    def job_feature_names(self) -> list[str]:
        """Names of the job columns: ``job_id=<id>`` of each identity column (features follow in the hybrid)."""
        self._check_fitted()
        trained = np.flatnonzero(self.job_identity_ >= 0)
        trained = trained[np.argsort(self.job_identity_[trained])]
        return [f"job_id={i}" for i in self.job_ids_.to_ids(trained)]

    def feature_representations(self) -> Representations:
        """``(item_embeddings_, item_biases_)``: embeddings ``(n_features, d)`` and biases of the job columns."""
        self._check_fitted()
        return self.item_embeddings_, self.item_biases_

    def representable_seekers(self) -> np.ndarray:
        """Which fitted seeker rows have a representation (all of them when cold seekers are served)."""
        self._check_fitted()
        return np.ones(len(self.seeker_ids_), dtype=bool) if self.serves_cold_seekers else self.seeker_identity_ >= 0

    def representable_jobs(self) -> np.ndarray:
        """Which fitted job rows have a representation (all of them when new jobs are served)."""
        self._check_fitted()
        return np.ones(len(self.job_ids_), dtype=bool) if self.serves_new_jobs else self.job_identity_ >= 0

    def _identity_of(self, frame: pd.DataFrame, id_column: str, id_map: Any, identity: np.ndarray,
                     kind: str) -> np.ndarray:
        if not isinstance(frame, pd.DataFrame):
            raise TypeError(f"expected a DataFrame of {kind}s, got {type(frame).__name__}")
        if id_column not in frame.columns:
            out = np.full(len(frame), -1)
        else:
            rows = id_map.to_rows(frame[id_column].astype(object).to_numpy(), strict=False)
            out = np.where(rows >= 0, identity[np.maximum(rows, 0)], -1)
        if not self.uses_features and (out < 0).any():
            raise UnsupportedSeekerError(f"{type(self).__name__} only represents {kind}s seen in training; "
                                         f"{int((out < 0).sum())} of {len(frame)} are not")
        return out

    @staticmethod
    def _rows(rows: np.ndarray | Sequence[int] | None, n: int, kind: str) -> np.ndarray:
        rows = np.arange(n) if rows is None else np.asarray(rows, dtype=np.int64)
        if rows.ndim != 1 or (len(rows) and (rows.min() < 0 or rows.max() >= n)):
            raise ValueError(f"{kind} rows must be a 1-d array of indices in [0, {n})")
        return rows

    # ------------------------------------------------------------------ persistence
    def _get_state(self) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        arrays = {
            "seeker_identity": self.seeker_identity_, "job_identity": self.job_identity_,
            "user_embeddings": self.user_embeddings_, "user_biases": self.user_biases_,
            "item_embeddings": self.item_embeddings_, "item_biases": self.item_biases_,
            "seeker_emb": self.seeker_emb_, "seeker_bias": self.seeker_bias_,
            "job_emb": self.job_emb_, "job_bias": self.job_bias_, **csr_to_arrays("job_x", self.job_x_),
        }
        meta: dict[str, Any] = {"best_epochs": self.best_epochs_, "validation_curve": self.validation_curve_}
        return arrays, meta

    def _set_state(self, arrays: dict[str, np.ndarray], meta: dict[str, Any]) -> None:
        for name in ("seeker_identity", "job_identity", "user_embeddings", "user_biases", "item_embeddings",
                     "item_biases", "seeker_emb", "seeker_bias", "job_emb", "job_bias"):
            setattr(self, f"{name}_", arrays[name])
        self.job_x_ = csr_from_arrays("job_x", arrays)
        self.best_epochs_, self.validation_curve_ = int(meta["best_epochs"]), list(meta["validation_curve"])


class LightFMCollaborative(_LightFMModel):
    """LightFM matrix factorisation on identity features only: warm seekers, jobs with history.

    Parameters
    ----------
    loss
        ``"warp"`` (default), ``"bpr"``, ``"logistic"`` or ``"warp-kos"`` (no sample weights).
    no_components
        Embedding dimension ``d``.
    learning_rate, item_alpha, user_alpha, max_sampled
        As in :class:`lightfm.LightFM` (adagrad schedule; L2 penalties per example).
    epochs
        Training epochs (the maximum when early stopping).
    event_weights
        Sample weight per funnel stage (default: the dataset funnel's ``training_weights``; for the
        synthetic funnel apply 1, interview 1.5, hire 2),
        keyed by any event names of the dataset's funnel (``{"view": 1.0, "apply": 2.0}``, ``{"click": 1.0}``).
        Events with weight 0 are not trained on. ``fit`` raises
        :class:`~recsys.models.base.NoTrainingEventsError` if none of the positively weighted events
        occurs in the training data (e.g. the default weights on a view-only log), instead of training
        identities on nothing.
    num_threads
        Training threads. 1 (default) is deterministic; more threads train Hogwild-style (lock-free,
        racing updates): faster on large data but not reproducible (``fit`` logs a warning).
    random_state
        Seed of initialisation and sampling.
    early_stopping_days, patience
        If set, choose the number of epochs on the last ``early_stopping_days`` of training data
        (stop after ``patience`` epochs without improvement of HR@10), then refit on all of it.
    """

    def _seeker_matrix(self, identity: np.ndarray, seekers: pd.DataFrame | None) -> sp.csr_matrix:
        return _identity_rows(identity, self.n_seeker_identities_, 1.0)

    def _job_matrix(self, identity: np.ndarray, jobs: pd.DataFrame | None) -> sp.csr_matrix:
        return _identity_rows(identity, self.n_job_identities_, 1.0)


class LightFMHybrid(_LightFMModel):
    """LightFM on identities plus seeker and job profile features: serves cold seekers and new jobs.

    Parameters (beyond :class:`LightFMCollaborative`'s)
    ----------
    seeker_blocks, job_blocks
        Feature blocks of :class:`~recsys.features.SeekerFeatures` / :class:`~recsys.features.JobFeatures`.
    identity_weight
        Weight ``a`` of a row's identity column; its feature blocks share ``1 - a`` (module docstring).
        Small shares work best on ``small``: the profile features carry most of the signal and untrained
        identity noise is kept small. The default 0.005 was chosen on a validation window carved from the
        training period (``recsys-tune``; ``docs/workflow.md``, "How each model default was chosen"); the
        previous 0.05 had been chosen on the test split.
    text_max_features
        TF-IDF vocabulary size of the job text block (add ``"text"`` to ``job_blocks`` to use it; it is
        off by default: on the synthetic data it adds little beyond occupation and skills and makes
        every item row ~10x denser, so training ~10x slower).
    text_analyzer
        Analyser of the job text block: ``"auto"`` (character n-grams for Chinese, word n-grams for
        Latin scripts, decided on the training text), ``"char"`` or ``"word"``.
    completed_trainings
        The seeker ``skills`` block includes the skills of the trainings completed before the time the
        training data is frozen at (:func:`~recsys.features.seeker_profiles`: a split's cutoff); default
        ``False``: profile skills only. Without a ``trainings`` table it does nothing.

    Missing columns: a listed block whose input columns are absent or all null in the training tables
    is skipped (``seeker_features_.skipped_blocks_``, ``job_features_.skipped_blocks_``), so the default
    blocks work on a log with ids and events only. If *no* block of a side is usable, that side falls
    back to identity features: its rows are the identity column at weight 1 (as in
    :class:`LightFMCollaborative`), a warning is logged, and a row without identity (a cold seeker or a
    new posting of that side) has the zero representation: a cold seeker is then ranked by the job
    biases alone (LightFM's learned popularity) and a new posting scores the seeker's bias only.

    The ``employer`` block lets a new posting inherit what was learned about its employer's earlier
    postings (employers share part of their postings' appeal).

    Attributes
    ----------
    seeker_features_, job_features_ : fitted transformers (fitted on seekers registered and jobs posted
        by the end of the training data, so test-period postings do not shape the vocabulary).
    """

    serves_cold_seekers: ClassVar[bool] = True
    serves_new_jobs: ClassVar[bool] = True
    uses_features: ClassVar[bool] = True

    def __init__(self, loss: str = "warp", no_components: int = 64, learning_rate: float = 0.05,
                 item_alpha: float = 1e-6, user_alpha: float = 1e-6, epochs: int = 30, max_sampled: int = 30,
                 event_weights: Mapping[str, float] | None = None, num_threads: int = 1, random_state: int = 0,
                 early_stopping_days: float | None = None, patience: int = 3,
                 seeker_blocks: Sequence[str] = ("district", "education", "groups", "skills", "wage_band",
                                                 "age_band", "desired_job_types"),
                 job_blocks: Sequence[str] = ("district", "occupation", "industry", "job_type", "schedule",
                                              "channel", "skills", "wage_band", "education", "age_limit",
                                              "employer"),
                 identity_weight: float = 0.005, text_max_features: int | None = 2000,
                 text_analyzer: str = "auto", completed_trainings: bool = False) -> None:
        super().__init__(loss=loss, no_components=no_components, learning_rate=learning_rate,
                         item_alpha=item_alpha, user_alpha=user_alpha, epochs=epochs, max_sampled=max_sampled,
                         event_weights=event_weights, num_threads=num_threads, random_state=random_state,
                         early_stopping_days=early_stopping_days, patience=patience)
        self.seeker_blocks = seeker_blocks
        self.job_blocks = job_blocks
        self.identity_weight = identity_weight
        self.text_max_features = text_max_features
        self.text_analyzer = text_analyzer
        self.completed_trainings = completed_trainings

    def _check_params(self) -> None:
        super()._check_params()
        check_choice(self, "text_analyzer", self.text_analyzer, TEXT_ANALYZERS)
        check_number(self, "identity_weight", self.identity_weight, low=0.0)
        if self.identity_weight >= 1.0:
            check_choice(self, "identity_weight (must be < 1 to leave weight for features)",
                         self.identity_weight, [])

    def _seeker_table(self, dataset: Dataset) -> pd.DataFrame:
        return seeker_profiles(dataset, self.completed_trainings)

    def _fit_transformers(self, dataset: Dataset, last_ts: np.datetime64, profiles: pd.DataFrame) -> None:
        seekers = profiles.loc[time_column(profiles, "registered_at", "min") <= last_ts]
        jobs = dataset.jobs.loc[time_column(dataset.jobs, "posted_at", "min") <= last_ts]
        self.seeker_features_ = SeekerFeatures(blocks=tuple(self.seeker_blocks)).fit(
            seekers if len(seekers) else profiles)
        self.job_features_ = JobFeatures(blocks=tuple(self.job_blocks), text_max_features=self.text_max_features,
                                         text_analyzer=self.text_analyzer).fit(jobs if len(jobs) else dataset.jobs)
        for side, features in (("seeker", self.seeker_features_), ("job", self.job_features_)):
            if features.n_features_ == 0:
                logger.warning("%s: no usable %s feature (blocks %s skipped: input columns absent or all null); "
                               "%ss are represented by their identities alone", type(self).__name__, side,
                               sorted(features.skipped_blocks_), side)

    def _seeker_matrix(self, identity: np.ndarray, seekers: pd.DataFrame | None) -> sp.csr_matrix:
        return self._weighted(identity, self.n_seeker_identities_, self.seeker_features_, seekers)

    def _job_matrix(self, identity: np.ndarray, jobs: pd.DataFrame | None) -> sp.csr_matrix:
        return self._weighted(identity, self.n_job_identities_, self.job_features_, jobs)

    def _weighted(self, identity: np.ndarray, n_identities: int, features: TableFeatures,
                  frame: pd.DataFrame | None) -> sp.csr_matrix:
        if features.n_features_ == 0:  # no profile feature: identities alone, at full weight (collaborative)
            return sp.csr_matrix(_identity_rows(identity, n_identities, 1.0), dtype=np.float32)
        if frame is None:
            raise ValueError(f"{type(self).__name__}: profile rows need their table (seekers or jobs), got None")
        starts = np.asarray([s.start for s in features.block_slices_.values()])
        profile = l1_normalize_blocks(features.transform(frame), starts, 1.0 - self.identity_weight)
        ids = _identity_rows(identity, n_identities, self.identity_weight)
        return sp.hstack([ids, profile], format="csr", dtype=np.float32)

    def job_feature_contributions(self, seeker_embedding: np.ndarray, jobs: pd.DataFrame | None = None,
                                  rows: np.ndarray | None = None) -> tuple[sp.csr_matrix, list[str]]:
        """Each job column's additive share of the score for one seeker.

        Entry ``(j, f)`` is ``x[j, f] * (seeker_embedding . E[f] + b[f])`` where ``x`` is the job's
        weighted feature row (identity columns first). Row sums plus the seeker's bias equal the scores.
        """
        self._check_fitted()
        seeker_embedding = np.asarray(seeker_embedding, dtype=np.float32)
        if seeker_embedding.shape != (self.item_embeddings_.shape[1],):
            raise ValueError(f"seeker_embedding must have shape ({self.item_embeddings_.shape[1]},), "
                             f"got {seeker_embedding.shape}")
        x = self.job_feature_matrix(jobs=jobs, rows=rows)
        per_column = self.item_embeddings_ @ seeker_embedding + self.item_biases_
        contributions = sp.csr_matrix(x.multiply(per_column[None, :]), dtype=np.float32)
        return contributions, self.job_feature_names()

    def job_feature_names(self) -> list[str]:
        """Names of the job columns: ``job_id=<id>`` identities, then the feature names."""
        return super().job_feature_names() + list(self.job_features_.feature_names_)

    def _get_state(self) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        arrays, meta = super()._get_state()
        for prefix, features in (("seeker_features", self.seeker_features_), ("job_features", self.job_features_)):
            feature_arrays, feature_meta = features.get_state()
            arrays.update({f"{prefix}.{k}": v for k, v in feature_arrays.items()})
            meta[prefix] = feature_meta
        return arrays, meta

    def _set_state(self, arrays: dict[str, np.ndarray], meta: dict[str, Any]) -> None:
        super()._set_state(arrays, meta)
        self.seeker_features_ = SeekerFeatures.from_state(split_state("seeker_features", arrays),
                                                          meta["seeker_features"])
        self.job_features_ = JobFeatures.from_state(split_state("job_features", arrays), meta["job_features"])


def _identity_index(n_rows: int, trained_rows: np.ndarray) -> np.ndarray:
    """``index[row]`` = identity column of ``row``, or -1 for rows outside the training set."""
    index = np.full(n_rows, -1, dtype=np.int64)
    index[trained_rows] = np.arange(len(trained_rows))
    return index


def _identity_rows(identity: np.ndarray, n_identities: int, weight: float) -> sp.csr_matrix:
    """CSR ``(len(identity), n_identities)`` with ``weight`` at each row's identity column (none if -1)."""
    has = identity >= 0
    indptr = np.concatenate([[0], np.cumsum(has)])
    return sp.csr_matrix((np.full(int(has.sum()), weight, dtype=np.float32), identity[has], indptr),
                         shape=(len(identity), n_identities))


def _represent(x: sp.csr_matrix, embeddings: np.ndarray, biases: np.ndarray) -> Representations:
    """Row representations ``x @ E`` and biases ``x @ b`` (float32)."""
    return (np.asarray(x @ embeddings, dtype=np.float32), np.asarray(x @ biases, dtype=np.float32).ravel())


def _check_finite_params(model_owner: object, model: LightFM) -> None:
    for name in ("user_embeddings", "user_biases", "item_embeddings", "item_biases"):
        if not np.isfinite(getattr(model, name)).all():
            raise NonFiniteScoreError(f"{type(model_owner).__name__}: LightFM parameter {name} is not finite "
                                      f"after training (diverged); lower learning_rate or the sample weights")
