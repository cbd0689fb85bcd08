"""Feature blocks: one fitted mapping from table column(s) to a sparse float32 matrix.

Each block learns its vocabulary (categories, labels, bin edges, n-grams) in :meth:`fit` and applies
the same layout to any later table, so unseen seekers and postings land on the trained columns.
Values never seen in training map to all-zero rows (no error). Blocks persist without pickle through
``get_state() -> (arrays, meta)`` and ``set_state(arrays, meta)`` on a block built with the same
constructor arguments.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.preprocessing import MultiLabelBinarizer, OneHotEncoder


class FeatureError(ValueError):
    """A feature transformer got a table it cannot read (missing column, bad value, bad argument)."""


def _column(frame: pd.DataFrame, column: str, block: str) -> pd.Series:
    if column not in frame.columns:
        raise FeatureError(f"feature block {block!r} needs column {column!r}, missing from the table "
                           f"(columns: {list(frame.columns)})")
    return frame[column]


class Block:
    """Base of all blocks: ``fit(frame)``, ``transform(frame) -> csr float32``, ``names``, state."""

    kind: str = ""

    def __init__(self, name: str) -> None:
        self.name = name

    def fit(self, frame: pd.DataFrame) -> Block:
        raise NotImplementedError

    def transform(self, frame: pd.DataFrame) -> sp.csr_matrix:
        raise NotImplementedError

    @property
    def names(self) -> list[str]:
        raise NotImplementedError

    def get_state(self) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        raise NotImplementedError

    def set_state(self, arrays: dict[str, np.ndarray], meta: dict[str, Any]) -> Block:
        """Restore what :meth:`fit` learned; returns ``self``."""
        raise NotImplementedError


class OneHotBlock(Block):
    """One-hot of a categorical column (scikit-learn ``OneHotEncoder``, unknown values ignored)."""

    kind = "onehot"

    def __init__(self, name: str, column: str) -> None:
        super().__init__(name)
        self.column = column
        self.categories: list[str] = []

    def _make_encoder(self, categories: list[str]) -> OneHotEncoder:
        encoder = OneHotEncoder(categories=[np.asarray(categories, dtype=object)], handle_unknown="ignore",
                                dtype=np.float32)
        return encoder.fit(pd.DataFrame({self.column: np.asarray(categories, dtype=object)}))

    def _values(self, frame: pd.DataFrame) -> pd.DataFrame:
        values = _column(frame, self.column, self.name).astype(object)
        return pd.DataFrame({self.column: values.where(values.notna(), "<missing>").astype(str).to_numpy(object)})

    def fit(self, frame: pd.DataFrame) -> OneHotBlock:
        values = self._values(frame)[self.column]
        self.categories = sorted(set(values) - {"<missing>"})
        self._encoder = self._make_encoder(self.categories)
        return self

    def transform(self, frame: pd.DataFrame) -> sp.csr_matrix:
        return sp.csr_matrix(self._encoder.transform(self._values(frame)), dtype=np.float32)

    @property
    def names(self) -> list[str]:
        return [f"{self.name}={c}" for c in self.categories]

    def get_state(self) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        return {}, {"column": self.column, "categories": self.categories}

    def set_state(self, arrays: dict[str, np.ndarray], meta: dict[str, Any]) -> OneHotBlock:
        self.categories = list(meta["categories"])
        self._encoder = self._make_encoder(self.categories)
        return self


class FlagsBlock(Block):
    """Boolean columns taken as they are (e.g. the seeker group flags); nothing to learn."""

    kind = "flags"

    def __init__(self, name: str, columns: list[str]) -> None:
        super().__init__(name)
        self.columns = list(columns)

    def fit(self, frame: pd.DataFrame) -> FlagsBlock:
        return self

    def transform(self, frame: pd.DataFrame) -> sp.csr_matrix:
        values = np.column_stack([_column(frame, c, self.name).fillna(False).to_numpy(dtype=np.float32)
                                  for c in self.columns]) if len(frame) else np.zeros((0, len(self.columns)))
        return sp.csr_matrix(values, dtype=np.float32)

    @property
    def names(self) -> list[str]:
        return [f"{self.name}={c}" for c in self.columns]

    def get_state(self) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        return {}, {"columns": self.columns}

    def set_state(self, arrays: dict[str, np.ndarray], meta: dict[str, Any]) -> FlagsBlock:
        self.columns = list(meta["columns"])
        return self


class MultiLabelBlock(Block):
    """Multi-hot of a list-valued column (scikit-learn ``MultiLabelBinarizer``, unknown labels ignored)."""

    kind = "multilabel"

    def __init__(self, name: str, column: str) -> None:
        super().__init__(name)
        self.column = column
        self.classes: list[str] = []

    def _lists(self, frame: pd.DataFrame) -> list[list[str]]:
        values = _column(frame, self.column, self.name)
        return [list(v) if isinstance(v, (list, tuple, np.ndarray)) else [] for v in values]

    def fit(self, frame: pd.DataFrame) -> MultiLabelBlock:
        self.classes = sorted({label for labels in self._lists(frame) for label in labels})
        self._binarizer = MultiLabelBinarizer(classes=self.classes, sparse_output=True).fit([])
        return self

    def transform(self, frame: pd.DataFrame) -> sp.csr_matrix:
        with warnings.catch_warnings():  # unknown labels are ignored by design
            warnings.filterwarnings("ignore", message="unknown class", category=UserWarning)
            matrix = self._binarizer.transform(self._lists(frame))
        return sp.csr_matrix(matrix, shape=(len(frame), len(self.classes)), dtype=np.float32)

    @property
    def names(self) -> list[str]:
        return [f"{self.name}={c}" for c in self.classes]

    def get_state(self) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        return {}, {"column": self.column, "classes": self.classes}

    def set_state(self, arrays: dict[str, np.ndarray], meta: dict[str, Any]) -> MultiLabelBlock:
        self.classes = list(meta["classes"])
        self._binarizer = MultiLabelBinarizer(classes=self.classes, sparse_output=True).fit([])
        return self


class BandBlock(Block):
    """One-hot band of a numeric value; bands are training quantiles (``np.quantile`` + ``np.digitize``).

    Band ``b`` holds values in ``[edges[b-1], edges[b])``; missing values get an all-zero row.
    """

    kind = "band"

    def __init__(self, name: str, value: Callable[[pd.DataFrame], np.ndarray], n_bands: int = 8) -> None:
        super().__init__(name)
        if n_bands < 2:
            raise FeatureError(f"{name}: n_bands must be at least 2, got {n_bands}")
        self.value, self.n_bands = value, n_bands
        self.edges = np.empty(0)

    def fit(self, frame: pd.DataFrame) -> BandBlock:
        values = self.value(frame)
        values = values[np.isfinite(values)]
        if len(values) == 0:
            raise FeatureError(f"feature block {self.name!r}: no finite values to fit bands on")
        quantiles = np.quantile(values, np.linspace(0, 1, self.n_bands + 1)[1:-1])
        self.edges = np.unique(quantiles)
        return self

    def transform(self, frame: pd.DataFrame) -> sp.csr_matrix:
        values = self.value(frame)
        finite = np.isfinite(values)
        band = np.digitize(np.where(finite, values, 0.0), self.edges)
        rows = np.flatnonzero(finite)
        return sp.csr_matrix((np.ones(len(rows), np.float32), (rows, band[finite])),
                             shape=(len(frame), len(self.edges) + 1))

    @property
    def names(self) -> list[str]:
        bounds = ["-inf", *(f"{e:g}" for e in self.edges), "inf"]
        return [f"{self.name}=[{lo},{hi})" for lo, hi in zip(bounds[:-1], bounds[1:], strict=True)]

    def get_state(self) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        return {"edges": np.asarray(self.edges, dtype=np.float64)}, {"n_bands": self.n_bands}

    def set_state(self, arrays: dict[str, np.ndarray], meta: dict[str, Any]) -> BandBlock:
        self.n_bands, self.edges = int(meta["n_bands"]), np.asarray(arrays["edges"], dtype=np.float64)
        return self


class TextBlock(Block):
    """TF-IDF of character n-grams over text columns (``TfidfVectorizer(analyzer="char_wb")``).

    Character n-grams need no Chinese word segmenter. Rows are L2-normalised (scikit-learn default).
    """

    kind = "text"

    def __init__(self, name: str, columns: list[str], max_features: int | None = 5000,
                 ngram_range: tuple[int, int] = (1, 2)) -> None:
        super().__init__(name)
        if max_features is not None and max_features < 1:
            raise FeatureError(f"{name}: max_features must be positive or None, got {max_features}")
        self.columns, self.max_features, self.ngram_range = list(columns), max_features, tuple(ngram_range)
        self._vectorizer = TfidfVectorizer(analyzer="char_wb", ngram_range=self.ngram_range,
                                           max_features=max_features, dtype=np.float32)

    def _text(self, frame: pd.DataFrame) -> list[str]:
        parts = [_column(frame, c, self.name).fillna("").astype(str).to_numpy(object) for c in self.columns]
        joined = parts[0]
        for part in parts[1:]:
            joined = joined + " " + part
        return list(joined)

    def fit(self, frame: pd.DataFrame) -> TextBlock:
        self._vectorizer.fit(self._text(frame))
        return self

    def transform(self, frame: pd.DataFrame) -> sp.csr_matrix:
        return sp.csr_matrix(self._vectorizer.transform(self._text(frame)), dtype=np.float32)

    @property
    def names(self) -> list[str]:
        return [f"{self.name}:{t}" for t in self._vectorizer.get_feature_names_out()]

    def get_state(self) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        vocabulary = {term: int(i) for term, i in self._vectorizer.vocabulary_.items()}
        return ({"idf": self._vectorizer.idf_.astype(np.float64)},
                {"columns": self.columns, "max_features": self.max_features,
                 "ngram_range": list(self.ngram_range), "vocabulary": vocabulary})

    def set_state(self, arrays: dict[str, np.ndarray], meta: dict[str, Any]) -> TextBlock:
        vectorizer = TfidfVectorizer(analyzer="char_wb", ngram_range=tuple(meta["ngram_range"]),
                                     dtype=np.float32, vocabulary=meta["vocabulary"])
        vectorizer.idf_ = arrays["idf"]
        self._vectorizer = vectorizer
        return self
