"""Seeker and job feature transformers: named blocks stacked into one sparse matrix.

A transformer is fitted on a table (training seekers or jobs) and then maps *any* table with the same
columns, including seekers and postings never seen in training, onto the same columns::

    features = JobFeatures(blocks=("occupation", "skills", "text")).fit(dataset.jobs)
    matrix = features.transform(new_postings)          # scipy CSR float32, (n, len(feature_names_))

Blocks are chosen by name (a Hydra config lists them). ``block_slices_`` says which columns each block
owns, so a model can weigh blocks separately.

Only the seeker and job ids are required. A listed block whose input columns are absent from the
training table, or all null, is left out of the layout: it is logged once (one warning per fit) and
reported in ``skipped_blocks_`` and :meth:`TableFeatures.describe`, never raised. Missing values in
a column that is present give all-zero entries in that block. Which columns each block reads:
``SeekerFeatures.BLOCK_COLUMNS`` and ``JobFeatures.BLOCK_COLUMNS``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import Any, ClassVar

import numpy as np
import pandas as pd
import scipy.sparse as sp
from sklearn.base import BaseEstimator, TransformerMixin

from recsys.data.dataset import Dataset
from recsys.data.schema import SEEKER_GROUPS, monthly_wage
from recsys.features.blocks import (
    TEXT_ANALYZERS,
    BandBlock,
    Block,
    FeatureError,
    FlagsBlock,
    MissingInputError,
    MultiLabelBlock,
    OneHotBlock,
    TextBlock,
    _column,
)

STATE_FORMAT_VERSION = 1
"""Version of :meth:`TableFeatures.get_state`. States without ``skipped`` or a text ``analyzer`` (written
before blocks could be skipped) read as nothing skipped and character n-grams."""

logger = logging.getLogger(__name__)

WAGE_COLUMNS = ["wage_min", "wage_max", "wage_unit"]


def _numeric(frame: pd.DataFrame, column: str) -> np.ndarray:
    """``column`` as float64 with NaN for missing values; all NaN if the column is absent."""
    if column not in frame.columns:
        return np.full(len(frame), np.nan)
    return pd.to_numeric(frame[column], errors="coerce").to_numpy(dtype=float, na_value=np.nan)


def job_monthly_wage(jobs: pd.DataFrame) -> np.ndarray:
    """Monthly-equivalent mid-point wage of each posting, CNY (see :func:`recsys.data.schema.monthly_wage`).

    The mid-point of ``wage_min`` and ``wage_max``, or whichever of the two is known; NaN if neither
    (or neither column exists). A missing ``wage_unit`` (column or value) means ``month``. Raises
    :class:`~recsys.features.blocks.MissingInputError` when neither wage column exists.
    """
    if "wage_min" not in jobs.columns and "wage_max" not in jobs.columns:
        _column(jobs, "wage_min", "wage")  # raises, naming the column
    low, high = _numeric(jobs, "wage_min"), _numeric(jobs, "wage_max")
    mid = np.where(np.isfinite(low) & np.isfinite(high), (low + high) / 2, np.where(np.isfinite(low), low, high))
    unit = jobs["wage_unit"] if "wage_unit" in jobs.columns else pd.Series("month", index=jobs.index)
    return monthly_wage(mid, unit.astype(object).where(unit.notna(), "month").astype(str).to_numpy())


def seeker_profiles(dataset: Dataset, completed_trainings: bool = False) -> pd.DataFrame:
    """The seekers table a model builds its seeker features from.

    ``completed_trainings=False``: ``dataset.seekers`` as it is (profile skills). ``True``: skills as of the
    time the dataset is frozen at (:meth:`recsys.data.Dataset.seekers_as_of`: a split's training set at its
    cutoff), so each seeker also holds the skills of the trainings completed strictly before it and never
    one completed later. Without a ``trainings`` table the switch does nothing (logged once per call).
    """
    if not completed_trainings:
        return dataset.seekers
    if "trainings" not in dataset.extras:
        logger.warning("completed_trainings=true: the dataset has no trainings table; seeker skills are the "
                       "profile's (the switch does nothing)")
        return dataset.seekers
    at = dataset.frozen_at()
    logger.info("seeker skills as of %s: profile skills plus trainings completed before it", at)
    return dataset.seekers_as_of(at)


class TableFeatures(BaseEstimator, TransformerMixin):
    """Common machinery of :class:`SeekerFeatures` and :class:`JobFeatures`.

    Parameters
    ----------
    blocks
        Names of the blocks to stack, in order (see ``AVAILABLE_BLOCKS``).
    n_bands
        Number of quantile bands of numeric blocks (wage, age).
    text_max_features
        Largest TF-IDF vocabulary (most frequent n-grams); ``None`` keeps all.
    text_ngram_range
        n-gram lengths of the TF-IDF block (characters or words, see ``text_analyzer``).
    text_analyzer
        ``"auto"`` (default: character n-grams for Chinese/Japanese/Thai text, word n-grams otherwise,
        decided on the training text), ``"char"`` or ``"word"``.

    Attributes
    ----------
    blocks_ : list of fitted blocks, in the order of ``blocks``, without the skipped ones
    block_slices_ : dict, block name -> its columns in the matrix
    feature_names_ : list of column names; ``n_features_`` their number (0 if every block was skipped)
    skipped_blocks_ : dict, block name -> why it was left out (input columns absent or all null)
    """

    AVAILABLE_BLOCKS: ClassVar[tuple[str, ...]] = ()
    BLOCK_COLUMNS: ClassVar[dict[str, tuple[str, ...]]] = {}
    """Input columns of each block (documentation and :meth:`describe`; blocks read them themselves)."""
    table: ClassVar[str] = ""

    def __init__(self, blocks: Sequence[str] = (), n_bands: int = 8, text_max_features: int | None = 5000,
                 text_ngram_range: tuple[int, int] = (1, 2), text_analyzer: str = "auto") -> None:
        self.blocks = blocks
        self.n_bands = n_bands
        self.text_max_features = text_max_features
        self.text_ngram_range = text_ngram_range
        self.text_analyzer = text_analyzer

    # ------------------------------------------------------------------ block catalogue
    def _factories(self) -> dict[str, Callable[[], Block]]:
        raise NotImplementedError

    def _build_blocks(self) -> list[Block]:
        names = list(self.blocks)
        if not names:
            raise FeatureError(f"{type(self).__name__}: blocks must name at least one block; "
                               f"available: {list(self.AVAILABLE_BLOCKS)}")
        unknown = [n for n in names if n not in self.AVAILABLE_BLOCKS]
        if unknown:
            raise FeatureError(f"{type(self).__name__}: unknown block(s) {unknown}; "
                               f"available: {list(self.AVAILABLE_BLOCKS)}")
        if len(set(names)) != len(names):
            raise FeatureError(f"{type(self).__name__}: duplicate block names in {names}")
        if self.text_analyzer not in TEXT_ANALYZERS:
            raise FeatureError(f"{type(self).__name__}(text_analyzer={self.text_analyzer!r}): expected one of "
                               f"{list(TEXT_ANALYZERS)}")
        factories = self._factories()
        return [factories[n]() for n in names]

    # ------------------------------------------------------------------ sklearn API
    def fit(self, frame: pd.DataFrame, y: Any = None) -> TableFeatures:
        """Learn every block's vocabulary from ``frame``; blocks without usable input are skipped."""
        self._check_frame(frame)
        self.blocks_ = []
        self.skipped_blocks_: dict[str, str] = {}
        for block in self._build_blocks():
            try:
                self.blocks_.append(block.fit(frame))
            except MissingInputError as exc:
                self.skipped_blocks_[block.name] = str(exc)
        if self.skipped_blocks_:
            logger.warning("%s: skipped feature block(s) %s (input columns absent or all null); using %s",
                           type(self).__name__, sorted(self.skipped_blocks_), [b.name for b in self.blocks_])
        self._finish_layout()
        return self

    def transform(self, frame: pd.DataFrame) -> sp.csr_matrix:
        """CSR float32 matrix ``(len(frame), n_features_)`` on the fitted column layout.

        Only the fitted blocks' columns are read; a fitted block's column missing from ``frame`` raises
        :class:`~recsys.features.blocks.MissingInputError` (pass it with null values instead).
        """
        if not hasattr(self, "blocks_"):
            raise FeatureError(f"{type(self).__name__} is not fitted; call fit(table) first")
        self._check_frame(frame)
        if not self.blocks_:
            return sp.csr_matrix((len(frame), 0), dtype=np.float32)
        matrix = sp.hstack([block.transform(frame) for block in self.blocks_], format="csr", dtype=np.float32)
        matrix.sort_indices()
        return matrix

    def describe(self) -> pd.DataFrame:
        """One row per requested block: ``block, used, n_features, columns, reason`` (why it was skipped)."""
        if not hasattr(self, "blocks_"):
            raise FeatureError(f"{type(self).__name__} is not fitted; call fit(table) first")
        rows = []
        for name in self.blocks:
            used = name in self.block_slices_
            width = self.block_slices_[name].stop - self.block_slices_[name].start if used else 0
            rows.append({"block": name, "used": used, "n_features": width,
                         "columns": list(self.BLOCK_COLUMNS.get(name, ())),
                         "reason": "" if used else self.skipped_blocks_.get(name, "")})
        return pd.DataFrame(rows, columns=["block", "used", "n_features", "columns", "reason"])

    def get_feature_names_out(self, input_features: Any = None) -> np.ndarray:
        return np.asarray(self.feature_names_, dtype=object)

    def _finish_layout(self) -> None:
        self.feature_names_: list[str] = []
        self.block_slices_: dict[str, slice] = {}
        for block in self.blocks_:
            names = block.names
            start = len(self.feature_names_)
            self.block_slices_[block.name] = slice(start, start + len(names))
            self.feature_names_.extend(names)
        self.n_features_ = len(self.feature_names_)

    def _check_frame(self, frame: pd.DataFrame) -> None:
        if not isinstance(frame, pd.DataFrame):
            raise FeatureError(f"{type(self).__name__}: expected a pandas DataFrame of {self.table}, "
                               f"got {type(frame).__name__}")

    # ------------------------------------------------------------------ persistence (no pickle)
    def get_state(self) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        """Fitted state as (arrays for ``np.savez``, JSON-able metadata); see :meth:`from_state`."""
        arrays: dict[str, np.ndarray] = {}
        block_meta = []
        for block in self.blocks_:
            block_arrays, meta = block.get_state()
            arrays.update({f"{block.name}.{key}": value for key, value in block_arrays.items()})
            block_meta.append({"name": block.name, "meta": meta})
        params = {"blocks": list(self.blocks), "n_bands": self.n_bands,
                  "text_max_features": self.text_max_features, "text_ngram_range": list(self.text_ngram_range),
                  "text_analyzer": self.text_analyzer}
        return arrays, {"format_version": STATE_FORMAT_VERSION, "class": type(self).__name__,
                        "params": params, "blocks": block_meta, "skipped": dict(self.skipped_blocks_)}

    @classmethod
    def from_state(cls, arrays: dict[str, np.ndarray], meta: dict[str, Any]) -> TableFeatures:
        """Rebuild a fitted transformer from :meth:`get_state` output."""
        if meta.get("format_version") != STATE_FORMAT_VERSION or meta.get("class") != cls.__name__:
            raise FeatureError(f"cannot restore {cls.__name__} from state of {meta.get('class')!r} "
                               f"version {meta.get('format_version')!r}")
        params = dict(meta["params"])
        params["text_ngram_range"] = tuple(params["text_ngram_range"])
        features = cls(**params)
        factories = features._factories()
        features._build_blocks()  # checks the parameters
        blocks = []
        for saved in meta["blocks"]:
            block = factories[saved["name"]]()
            prefix = f"{block.name}."
            block.set_state({k[len(prefix):]: v for k, v in arrays.items() if k.startswith(prefix)}, saved["meta"])
            blocks.append(block)
        features.blocks_ = blocks
        features.skipped_blocks_ = dict(meta.get("skipped", {}))
        features._finish_layout()
        return features


class SeekerFeatures(TableFeatures):
    """Features of seekers (profile only: no interaction history)."""

    AVAILABLE_BLOCKS = ("district", "education", "gender", "groups", "skills", "desired_job_types",
                        "wage_band", "age_band", "experience_band")
    BLOCK_COLUMNS = {
        "district": ("district",), "education": ("education",), "gender": ("gender",), "groups": SEEKER_GROUPS,
        "skills": ("skills",), "desired_job_types": ("desired_job_types",), "wage_band": ("reservation_wage",),
        "age_band": ("age",), "experience_band": ("experience_years",),
    }
    table = "seekers"

    def __init__(self, blocks: Sequence[str] = ("district", "education", "groups", "skills", "wage_band",
                                                "age_band", "desired_job_types"),
                 n_bands: int = 8, text_max_features: int | None = 5000,
                 text_ngram_range: tuple[int, int] = (1, 2), text_analyzer: str = "auto") -> None:
        super().__init__(blocks, n_bands, text_max_features, text_ngram_range, text_analyzer)

    def _factories(self) -> dict[str, Callable[[], Block]]:
        def numeric(column: str, name: str) -> Callable[[pd.DataFrame], np.ndarray]:
            return lambda frame: pd.to_numeric(_column(frame, column, name), errors="coerce").to_numpy(
                dtype=float, na_value=np.nan)

        def band(name: str, column: str) -> Callable[[], Block]:
            return lambda: BandBlock(name, numeric(column, name), self.n_bands, [column])

        return {
            "district": lambda: OneHotBlock("district", "district"),
            "education": lambda: OneHotBlock("education", "education"),
            "gender": lambda: OneHotBlock("gender", "gender"),
            "groups": lambda: FlagsBlock("groups", list(SEEKER_GROUPS)),
            "skills": lambda: MultiLabelBlock("skills", "skills"),
            "desired_job_types": lambda: MultiLabelBlock("desired_job_types", "desired_job_types"),
            "wage_band": band("wage_band", "reservation_wage"),
            "age_band": band("age_band", "age"),
            "experience_band": band("experience_band", "experience_years"),
        }


class JobFeatures(TableFeatures):
    """Features of job postings; ``text`` is TF-IDF over the title and description (analyser by script)."""

    AVAILABLE_BLOCKS = ("district", "occupation", "industry", "job_type", "schedule", "channel", "skills",
                        "wage_band", "education", "age_limit", "employer", "text")
    BLOCK_COLUMNS = {
        "district": ("district",), "occupation": ("occupation",), "industry": ("industry",),
        "job_type": ("job_type",), "schedule": ("schedule",), "channel": ("channel",), "skills": ("skills",),
        "wage_band": tuple(WAGE_COLUMNS), "education": ("min_education",), "age_limit": ("age_max",),
        "employer": ("employer_id",), "text": ("title", "description"),
    }
    table = "jobs"

    def __init__(self, blocks: Sequence[str] = ("district", "occupation", "industry", "job_type", "schedule",
                                                "channel", "skills", "wage_band", "education", "text"),
                 n_bands: int = 8, text_max_features: int | None = 5000,
                 text_ngram_range: tuple[int, int] = (1, 2), text_analyzer: str = "auto") -> None:
        super().__init__(blocks, n_bands, text_max_features, text_ngram_range, text_analyzer)

    def _factories(self) -> dict[str, Callable[[], Block]]:
        def age_limit(frame: pd.DataFrame) -> np.ndarray:
            return pd.to_numeric(_column(frame, "age_max", "age_limit"), errors="coerce").to_numpy(
                dtype=float, na_value=np.nan)

        return {
            "district": lambda: OneHotBlock("district", "district"),
            "occupation": lambda: OneHotBlock("occupation", "occupation"),
            "industry": lambda: OneHotBlock("industry", "industry"),
            "job_type": lambda: OneHotBlock("job_type", "job_type"),
            "schedule": lambda: OneHotBlock("schedule", "schedule"),
            "channel": lambda: OneHotBlock("channel", "channel"),
            "employer": lambda: OneHotBlock("employer", "employer_id"),
            "skills": lambda: MultiLabelBlock("skills", "skills"),
            "wage_band": lambda: BandBlock("wage_band", job_monthly_wage, self.n_bands, WAGE_COLUMNS),
            "education": lambda: OneHotBlock("education", "min_education"),
            "age_limit": lambda: BandBlock("age_limit", age_limit, self.n_bands, ["age_max"]),
            "text": lambda: TextBlock("text", ["title", "description"], self.text_max_features,
                                      self.text_ngram_range, self.text_analyzer),
        }
