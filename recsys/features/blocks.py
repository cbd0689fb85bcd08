"""Feature blocks: one fitted mapping from table column(s) to a sparse float32 matrix.

Each block learns its vocabulary (categories, labels, bin edges, n-grams) in :meth:`fit` and applies
the same layout to any later table, so unseen seekers and postings land on the trained columns.
Values never seen in training, and missing values, map to all-zero rows (no error). Blocks persist
without pickle through ``get_state() -> (arrays, meta)`` and ``set_state(arrays, meta)`` on a block
built with the same constructor arguments.

A block whose input columns are absent from the training table, or hold no usable value, raises
:class:`MissingInputError` from :meth:`Block.fit`; :class:`~recsys.features.TableFeatures` catches it
and leaves the block out of the layout (``skipped_blocks_``).
"""

from __future__ import annotations

import re
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


class MissingInputError(FeatureError):
    """A block's input columns are absent from the table or hold no usable value.

    Raised by :meth:`Block.fit` (the transformer then skips the block) and by :meth:`Block.transform`
    when a column the block was fitted on is missing from a later table.
    """


class NoUsableFeaturesError(FeatureError):
    """A model that needs profile features found none it can use in the training tables."""


TEXT_ANALYZERS = ("auto", "char", "word")
"""Analysers of :class:`TextBlock`: ``char`` n-grams (scripts written without spaces between words,
such as Chinese), ``word`` n-grams (Latin and other space-separated scripts), or ``auto`` (chosen from
the training text, see :func:`detect_analyzer`)."""

_UNSEGMENTED = re.compile("[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\u0e00-\u0e7f]")
"""Characters of scripts written without spaces between words: CJK ideographs, Japanese kana, Thai."""

UNSEGMENTED_SHARE = 0.2
"""``auto`` picks character n-grams when at least this share of the non-empty texts contain a character
of an unsegmented script (a mixed corpus is better served by characters: word n-grams of Chinese are
whole clauses, character n-grams of English still match)."""


def detect_analyzer(texts: list[str]) -> str:
    """``"char"`` if >= :data:`UNSEGMENTED_SHARE` of the non-empty ``texts`` contain CJK/kana/Thai, else ``"word"``."""
    non_empty = [t for t in texts if t.strip()]
    if not non_empty:
        return "word"
    unsegmented = sum(1 for t in non_empty if _UNSEGMENTED.search(t))
    return "char" if unsegmented >= UNSEGMENTED_SHARE * len(non_empty) else "word"


def _column(frame: pd.DataFrame, column: str, block: str) -> pd.Series:
    if column not in frame.columns:
        raise MissingInputError(f"feature block {block!r} needs column {column!r}, missing from the table "
                                f"(columns: {list(frame.columns)})")
    return frame[column]


def _has_values(frame: pd.DataFrame, column: str) -> bool:
    """Whether ``column`` is present and holds at least one non-null value."""
    return column in frame.columns and bool(frame[column].notna().any())


class Block:
    """Base of all blocks: ``fit(frame)``, ``transform(frame) -> csr float32``, ``names``, state."""

    kind: str = ""

    def __init__(self, name: str) -> None:
        self.name = name

    @property
    def input_columns(self) -> list[str]:
        """Table columns the block reads."""
        raise NotImplementedError

    def fit(self, frame: pd.DataFrame) -> Block:
        """Learn the layout from ``frame``; :class:`MissingInputError` if its inputs hold nothing usable."""
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

    @property
    def input_columns(self) -> list[str]:
        return [self.column]

    def fit(self, frame: pd.DataFrame) -> OneHotBlock:
        values = self._values(frame)[self.column]
        self.categories = sorted(set(values) - {"<missing>"})
        if not self.categories:
            raise MissingInputError(f"feature block {self.name!r}: column {self.column!r} has no values")
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
    """Boolean columns taken as they are (e.g. the seeker group flags); missing values count as false.

    :meth:`fit` keeps the columns present with at least one non-null value (all of them on the
    synthetic data); none present raises :class:`MissingInputError`.
    """

    kind = "flags"

    def __init__(self, name: str, columns: list[str]) -> None:
        super().__init__(name)
        self.columns = list(columns)

    @property
    def input_columns(self) -> list[str]:
        return list(self.columns)

    def fit(self, frame: pd.DataFrame) -> FlagsBlock:
        present = [c for c in self.columns if _has_values(frame, c)]
        if not present:
            raise MissingInputError(f"feature block {self.name!r}: none of the columns {self.columns} has values")
        self.columns = present
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
        return [[str(label) for label in v] if isinstance(v, (list, tuple, np.ndarray)) else [] for v in values]

    @property
    def input_columns(self) -> list[str]:
        return [self.column]

    def fit(self, frame: pd.DataFrame) -> MultiLabelBlock:
        self.classes = sorted({str(label) for labels in self._lists(frame) for label in labels})
        if not self.classes:
            raise MissingInputError(f"feature block {self.name!r}: column {self.column!r} has no labels")
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

    def __init__(self, name: str, value: Callable[[pd.DataFrame], np.ndarray], n_bands: int = 8,
                 columns: list[str] | None = None) -> None:
        super().__init__(name)
        if n_bands < 2:
            raise FeatureError(f"{name}: n_bands must be at least 2, got {n_bands}")
        self.value, self.n_bands = value, n_bands
        self.columns = list(columns or [])
        self.edges = np.empty(0)

    @property
    def input_columns(self) -> list[str]:
        return list(self.columns)

    def fit(self, frame: pd.DataFrame) -> BandBlock:
        values = self.value(frame)
        values = values[np.isfinite(values)]
        if len(values) == 0:
            raise MissingInputError(f"feature block {self.name!r}: no finite values to fit bands on")
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
    """TF-IDF of character or word n-grams over text columns (scikit-learn ``TfidfVectorizer``).

    ``analyzer``: ``"char"`` (``analyzer="char_wb"``: character n-grams inside word boundaries; need no
    Chinese word segmenter), ``"word"`` (word n-grams, lower-cased, accents stripped) or ``"auto"``
    (:func:`detect_analyzer` on the training text; ``analyzer_`` says which was used). Of ``columns``,
    those present with a value in training are joined with a space (``columns_used``). Rows are
    L2-normalised (scikit-learn default).
    """

    kind = "text"

    def __init__(self, name: str, columns: list[str], max_features: int | None = 5000,
                 ngram_range: tuple[int, int] = (1, 2), analyzer: str = "auto") -> None:
        super().__init__(name)
        if max_features is not None and max_features < 1:
            raise FeatureError(f"{name}: max_features must be positive or None, got {max_features}")
        if analyzer not in TEXT_ANALYZERS:
            raise FeatureError(f"{name}: analyzer must be one of {list(TEXT_ANALYZERS)}, got {analyzer!r}")
        self.columns, self.max_features = list(columns), max_features
        self.ngram_range: tuple[int, int] = (int(ngram_range[0]), int(ngram_range[1]))
        self.analyzer = analyzer
        self.columns_used: list[str] = list(columns)
        self.analyzer_ = analyzer

    @property
    def input_columns(self) -> list[str]:
        return list(self.columns)

    @staticmethod
    def _make_vectorizer(analyzer: str, ngram_range: tuple[int, int], max_features: int | None = None,
                         vocabulary: dict[str, int] | None = None) -> TfidfVectorizer:
        if analyzer == "char":
            return TfidfVectorizer(analyzer="char_wb", ngram_range=ngram_range, max_features=max_features,
                                   dtype=np.float32, vocabulary=vocabulary)
        return TfidfVectorizer(analyzer="word", ngram_range=ngram_range, max_features=max_features,
                               strip_accents="unicode", dtype=np.float32, vocabulary=vocabulary)

    def _text(self, frame: pd.DataFrame) -> list[str]:
        parts = [_column(frame, c, self.name).fillna("").astype(str).to_numpy(object) for c in self.columns_used]
        joined = parts[0]
        for part in parts[1:]:
            joined = joined + " " + part
        return list(joined)

    def fit(self, frame: pd.DataFrame) -> TextBlock:
        self.columns_used = [c for c in self.columns if _has_values(frame, c)]
        if not self.columns_used:
            raise MissingInputError(f"feature block {self.name!r}: none of the columns {self.columns} has text")
        text = self._text(frame)
        self.analyzer_ = detect_analyzer(text) if self.analyzer == "auto" else self.analyzer
        self._vectorizer = self._make_vectorizer(self.analyzer_, self.ngram_range, self.max_features)
        try:
            self._vectorizer.fit(text)
        except ValueError as exc:  # scikit-learn: "empty vocabulary; perhaps the documents only contain stop words"
            raise MissingInputError(f"feature block {self.name!r}: no {self.analyzer_} n-grams in columns "
                                    f"{self.columns_used} ({exc})") from exc
        return self

    def transform(self, frame: pd.DataFrame) -> sp.csr_matrix:
        return self.vectorize(self._text(frame))

    def vectorize(self, texts: list[str]) -> sp.csr_matrix:
        """TF-IDF rows of raw strings on the fitted vocabulary (e.g. skill names matched against job text)."""
        return sp.csr_matrix(self._vectorizer.transform(texts), dtype=np.float32)

    @property
    def names(self) -> list[str]:
        return [f"{self.name}:{t}" for t in self._vectorizer.get_feature_names_out()]

    def get_state(self) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        vocabulary = {term: int(i) for term, i in self._vectorizer.vocabulary_.items()}
        return ({"idf": self._vectorizer.idf_.astype(np.float64)},
                {"columns": self.columns_used, "max_features": self.max_features,
                 "ngram_range": list(self.ngram_range), "vocabulary": vocabulary, "analyzer": self.analyzer_})

    def set_state(self, arrays: dict[str, np.ndarray], meta: dict[str, Any]) -> TextBlock:
        # states written before the analyser choice existed are character n-grams
        self.analyzer_ = str(meta.get("analyzer", "char"))
        self.columns_used = list(meta["columns"])
        low, high = meta["ngram_range"]
        vectorizer = self._make_vectorizer(self.analyzer_, (int(low), int(high)), vocabulary=meta["vocabulary"])
        vectorizer.idf_ = arrays["idf"]
        self._vectorizer = vectorizer
        return self
