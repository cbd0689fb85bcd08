"""Common random numbers: per-seeker random streams keyed by (simulation seed, day, purpose, seeker block).

Every draw the simulator makes for a row keyed by seeker ``s`` on day ``d`` is a function of
``(seed, d, purpose, s, occurrence)`` only, where *occurrence* counts earlier rows of the same seeker in the
same call. Two policies run with the same seed therefore give a seeker the same session, session time,
channel, apply noise, screening noise... as long as the seeker is in the same situation; they differ only
through what the policy lists. Streams are ``numpy`` PCG64 generators seeded by ``SeedSequence([seed, day,
purpose, block])`` for blocks of :data:`SEEKER_BLOCK` seekers (vectorised per block, not per seeker);
within a block, uniforms are laid out column-major (all seekers' first draw, then all seekers' second
draw...) so that how many draws a call needs never changes the earlier ones (a seeker's first row is the same whatever
``cols``; rows of repeated seekers are stable for a given ``cols``, which is 1 wherever the steps repeat seekers).
"""

from __future__ import annotations

import numpy as np
from scipy import stats

SEEKER_BLOCK = 1024
"""Seekers per stream: one generator per (seed, day, purpose, block) draws for all seekers of the block."""
PURPOSES = ("session", "session_time", "channel", "listing", "views", "open", "view_time", "apply", "apply_time",
            "interview", "interview_delay", "hire", "hire_delay", "offer", "away", "patience", "recommend", "fair",
            "fair_time")
"""Every stream name the behaviour steps and the simulator use (position = the key in the seed sequence; new
names go at the end, so the streams of the others stay what they were)."""


class SeekerStreams:
    """:class:`recsys.data.synthetic.behaviour.Draws` from per-seeker streams of one simulation seed and day.

    Distributions are drawn by inverting the CDF of the stream's uniforms (same distributions as the
    generator's ``numpy`` calls, other realisations).
    """

    def __init__(self, seed: int, day: int) -> None:
        if seed < 0 or day < 0:
            raise ValueError(f"seed and day must be non-negative, got seed={seed!r}, day={day!r}")
        self.seed, self.day = int(seed), int(day)
        # (purpose, block) -> the block's uniforms drawn so far: a stream is a pure function of its key, so
        # calls of one day that hit the same block (one per listing group, say) reuse one draw.
        self._drawn: dict[tuple[int, int], np.ndarray] = {}

    def _block(self, purpose: int, block: int, depth: int) -> np.ndarray:
        """The first ``depth`` rows (one row = one draw for each seeker of the block) of a block's stream."""
        drawn = self._drawn.get((purpose, block))
        if drawn is None or len(drawn) < depth:
            g = np.random.Generator(np.random.PCG64(np.random.SeedSequence([self.seed, self.day, purpose, block])))
            drawn = self._drawn[(purpose, block)] = g.random((depth, SEEKER_BLOCK))
        return drawn

    def _uniforms(self, stream: str, keys: np.ndarray, cols: int) -> np.ndarray:
        """(len(keys), cols) uniforms in (0, 1); row i depends on (seed, day, stream, keys[i], occurrence) only."""
        keys = np.asarray(keys, dtype=np.int64)
        out = np.empty((len(keys), cols))
        if len(keys) == 0 or cols == 0:
            return out
        purpose = PURPOSES.index(stream)
        order = np.argsort(keys, kind="stable")
        sorted_keys = keys[order]
        run_start = np.r_[0, np.flatnonzero(np.diff(sorted_keys)) + 1]
        occurrence = np.empty(len(keys), dtype=np.int64)
        occurrence[order] = np.arange(len(keys)) - np.repeat(run_start, np.diff(np.r_[run_start, len(keys)]))
        block = sorted_keys // SEEKER_BLOCK
        bounds = np.r_[0, np.flatnonzero(np.diff(block)) + 1, len(keys)]
        col = np.arange(cols)
        for a, b in zip(bounds[:-1].tolist(), bounds[1:].tolist(), strict=True):
            rows = order[a:b]
            depth = int(occurrence[rows].max() + 1) * cols
            u = self._block(purpose, int(block[a]), depth)  # column-major per seeker: prefix-stable in depth
            out[rows] = u[occurrence[rows, None] * cols + col, (keys[rows] % SEEKER_BLOCK)[:, None]]
        # random() is in [0, 1); keep away from 0 so logs and quantiles stay finite.
        return np.maximum(out, np.finfo(np.float64).tiny)

    def uniform(self, stream: str, keys: np.ndarray, cols: int | None = None) -> np.ndarray:
        u = self._uniforms(stream, keys, 1 if cols is None else cols)
        return u[:, 0] if cols is None else u

    def integers(self, stream: str, keys: np.ndarray, low: int, high: int) -> np.ndarray:
        return low + np.floor(self.uniform(stream, keys) * (high - low)).astype(np.int64)

    def gumbel(self, stream: str, keys: np.ndarray, cols: int) -> np.ndarray:
        return -np.log(-np.log(self.uniform(stream, keys, cols)))

    def exponential(self, stream: str, keys: np.ndarray, scale: float | np.ndarray) -> np.ndarray:
        return -np.log1p(-self.uniform(stream, keys)) * scale

    def poisson(self, stream: str, keys: np.ndarray, lam: float) -> np.ndarray:
        if lam <= 0:
            return np.zeros(len(keys), dtype=np.int64)
        return stats.poisson.ppf(self.uniform(stream, keys), lam).astype(np.int64)

    def standard_exponential32(self, stream: str, keys: np.ndarray, cols: int) -> np.ndarray:
        return (-np.log1p(-self.uniform(stream, keys, cols))).astype(np.float32)

    def permutation(self, stream: str, keys: np.ndarray) -> np.ndarray:
        return np.argsort(self.uniform(stream, keys), kind="stable")
