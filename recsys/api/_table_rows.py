"""A catalogue's job table as rows of earlier tables, gathered only when it is read.

Only saving reads :attr:`recsys.api.catalogue.Catalogue.table`, while gathering a 50,000-row pandas
table (Arrow strings) costs about as much as the rest of a catalogue update; so an update records
which rows it keeps and gathers them on first read.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

MAX_PARTS = 16
"""Tables an unread table may refer to before an update gathers it (bounds the cost of a read)."""


@dataclass(frozen=True)
class TableRows:
    """Rows ``rows`` of the concatenation of ``parts`` (``None``: all rows of a single part)."""

    parts: tuple[pd.DataFrame, ...]
    rows: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.parts[0]) if self.rows is None else len(self.rows)

    def frame(self) -> pd.DataFrame:
        """The table itself, with a default index."""
        if self.rows is None:
            return self.parts[0]
        whole = self.parts[0] if len(self.parts) == 1 else pd.concat(self.parts, ignore_index=True)
        return whole.take(self.rows).reset_index(drop=True)

    def take(self, source: np.ndarray, new: pd.DataFrame | None = None) -> TableRows:
        """Rows ``source`` of this table followed by ``new`` (row ``len(self) + i`` is row ``i`` of ``new``).

        The parts are kept while they hold at most about twice the rows taken (and are few);
        otherwise the result is gathered now, so memory and the cost of a later read stay bounded.
        """
        rows = np.arange(len(self)) if self.rows is None else self.rows
        parts = self.parts
        if new is not None:
            rows = np.concatenate((rows, sum(map(len, parts)) + np.arange(len(new))))
            parts = (*parts, new)
        taken = TableRows(parts, rows[source])
        if len(parts) > MAX_PARTS or sum(map(len, parts)) > 2 * len(source) + 1_000:
            return TableRows((taken.frame(),))
        return taken
