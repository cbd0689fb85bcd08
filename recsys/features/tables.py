"""Seeker and job feature transformers: named blocks stacked into one sparse matrix.

A transformer is fitted on a table (training seekers or jobs) and then maps *any* table with the same
columns, including seekers and postings never seen in training, onto the same columns::

    features = JobFeatures(blocks=("occupation", "skills", "text")).fit(dataset.jobs)
    matrix = features.transform(new_postings)          # scipy CSR float32, (n, len(feature_names_))

Blocks are chosen by name (a Hydra config lists them). ``block_slices_`` says which columns each block
owns, so a model can weigh blocks separately.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, ClassVar

import numpy as np
import pandas as pd
import scipy.sparse as sp
from sklearn.base import BaseEstimator, TransformerMixin

from recsys.data.schema import SEEKER_GROUPS, monthly_wage
from recsys.features.blocks import (
    BandBlock,
    Block,
    FeatureError,
    FlagsBlock,
    MultiLabelBlock,
    OneHotBlock,
    TextBlock,
    _column,
)

STATE_FORMAT_VERSION = 1


def job_monthly_wage(jobs: pd.DataFrame) -> np.ndarray:
    """Monthly-equivalent mid-point wage of each posting, CNY (see :func:`recsys.data.schema.monthly_wage`)."""
    mid = (_column(jobs, "wage_min", "wage").to_numpy(float) + _column(jobs, "wage_max", "wage").to_numpy(float)) / 2
    return monthly_wage(mid, _column(jobs, "wage_unit", "wage").astype(str).to_numpy())


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
        Character n-gram lengths of the TF-IDF block.
    """

    AVAILABLE_BLOCKS: ClassVar[tuple[str, ...]] = ()
    table: ClassVar[str] = ""

    def __init__(self, blocks: Sequence[str] = (), n_bands: int = 8, text_max_features: int | None = 5000,
                 text_ngram_range: tuple[int, int] = (1, 2)) -> None:
        self.blocks = blocks
        self.n_bands = n_bands
        self.text_max_features = text_max_features
        self.text_ngram_range = text_ngram_range

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
        factories = self._factories()
        return [factories[n]() for n in names]

    # ------------------------------------------------------------------ sklearn API
    def fit(self, frame: pd.DataFrame, y: Any = None) -> TableFeatures:
        """Learn every block's vocabulary from ``frame``."""
        self._check_frame(frame)
        self.blocks_ = [block.fit(frame) for block in self._build_blocks()]
        self._finish_layout()
        return self

    def transform(self, frame: pd.DataFrame) -> sp.csr_matrix:
        """CSR float32 matrix ``(len(frame), n_features_)`` on the fitted column layout."""
        if not hasattr(self, "blocks_"):
            raise FeatureError(f"{type(self).__name__} is not fitted; call fit(table) first")
        self._check_frame(frame)
        matrix = sp.hstack([block.transform(frame) for block in self.blocks_], format="csr", dtype=np.float32)
        matrix.sort_indices()
        return matrix

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
                  "text_max_features": self.text_max_features, "text_ngram_range": list(self.text_ngram_range)}
        return arrays, {"format_version": STATE_FORMAT_VERSION, "class": type(self).__name__,
                        "params": params, "blocks": block_meta}

    @classmethod
    def from_state(cls, arrays: dict[str, np.ndarray], meta: dict[str, Any]) -> TableFeatures:
        """Rebuild a fitted transformer from :meth:`get_state` output."""
        if meta.get("format_version") != STATE_FORMAT_VERSION or meta.get("class") != cls.__name__:
            raise FeatureError(f"cannot restore {cls.__name__} from state of {meta.get('class')!r} "
                               f"version {meta.get('format_version')!r}")
        params = dict(meta["params"])
        params["text_ngram_range"] = tuple(params["text_ngram_range"])
        features = cls(**params)
        blocks = features._build_blocks()
        for block, saved in zip(blocks, meta["blocks"], strict=True):
            prefix = f"{block.name}."
            block.set_state({k[len(prefix):]: v for k, v in arrays.items() if k.startswith(prefix)}, saved["meta"])
        features.blocks_ = blocks
        features._finish_layout()
        return features


class SeekerFeatures(TableFeatures):
    """Features of seekers (profile only: no interaction history)."""

    AVAILABLE_BLOCKS = ("district", "education", "gender", "groups", "skills", "desired_job_types",
                        "wage_band", "age_band", "experience_band")
    table = "seekers"

    def __init__(self, blocks: Sequence[str] = ("district", "education", "groups", "skills", "wage_band",
                                                "age_band", "desired_job_types"),
                 n_bands: int = 8, text_max_features: int | None = 5000,
                 text_ngram_range: tuple[int, int] = (1, 2)) -> None:
        super().__init__(blocks, n_bands, text_max_features, text_ngram_range)

    def _factories(self) -> dict[str, Callable[[], Block]]:
        def numeric(column: str, name: str) -> Callable[[pd.DataFrame], np.ndarray]:
            return lambda frame: _column(frame, column, name).to_numpy(dtype=float, na_value=np.nan)

        return {
            "district": lambda: OneHotBlock("district", "district"),
            "education": lambda: OneHotBlock("education", "education"),
            "gender": lambda: OneHotBlock("gender", "gender"),
            "groups": lambda: FlagsBlock("groups", list(SEEKER_GROUPS)),
            "skills": lambda: MultiLabelBlock("skills", "skills"),
            "desired_job_types": lambda: MultiLabelBlock("desired_job_types", "desired_job_types"),
            "wage_band": lambda: BandBlock("wage_band", numeric("reservation_wage", "wage_band"), self.n_bands),
            "age_band": lambda: BandBlock("age_band", numeric("age", "age_band"), self.n_bands),
            "experience_band": lambda: BandBlock("experience_band", numeric("experience_years", "experience_band"),
                                                 self.n_bands),
        }


class JobFeatures(TableFeatures):
    """Features of job postings; ``text`` is TF-IDF over the Chinese title and description."""

    AVAILABLE_BLOCKS = ("district", "occupation", "industry", "job_type", "schedule", "channel", "skills",
                        "wage_band", "education", "age_limit", "employer", "text")
    table = "jobs"

    def __init__(self, blocks: Sequence[str] = ("district", "occupation", "industry", "job_type", "schedule",
                                                "channel", "skills", "wage_band", "education", "text"),
                 n_bands: int = 8, text_max_features: int | None = 5000,
                 text_ngram_range: tuple[int, int] = (1, 2)) -> None:
        super().__init__(blocks, n_bands, text_max_features, text_ngram_range)

    def _factories(self) -> dict[str, Callable[[], Block]]:
        def age_limit(frame: pd.DataFrame) -> np.ndarray:
            return _column(frame, "age_max", "age_limit").to_numpy(dtype=float, na_value=np.nan)

        return {
            "district": lambda: OneHotBlock("district", "district"),
            "occupation": lambda: OneHotBlock("occupation", "occupation"),
            "industry": lambda: OneHotBlock("industry", "industry"),
            "job_type": lambda: OneHotBlock("job_type", "job_type"),
            "schedule": lambda: OneHotBlock("schedule", "schedule"),
            "channel": lambda: OneHotBlock("channel", "channel"),
            "employer": lambda: OneHotBlock("employer", "employer_id"),
            "skills": lambda: MultiLabelBlock("skills", "skills"),
            "wage_band": lambda: BandBlock("wage_band", job_monthly_wage, self.n_bands),
            "education": lambda: OneHotBlock("education", "min_education"),
            "age_limit": lambda: BandBlock("age_limit", age_limit, self.n_bands),
            "text": lambda: TextBlock("text", ["title", "description"], self.text_max_features,
                                      self.text_ngram_range),
        }
