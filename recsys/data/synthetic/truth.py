"""Ground truth the generator knows and models must never read: ``<data_dir>/truth/``.

Files: ``seekers.npz`` and ``jobs.npz`` (utility arrays keyed by string id), ``trainings.npz`` (skill
gained and completion time per completed enrolment), ``weights.json`` (utility weights and metadata).
:class:`GroundTruth` turns them back into the noise-free expected utility the choice model used.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Literal

import numpy as np

from recsys.data.synthetic.config import UtilityWeights
from recsys.data.synthetic.utility import (
    JobArrays,
    SeekerArrays,
    UtilityTerms,
    latent_utility,
    load_arrays,
    save_arrays,
)

Part = Literal["total", "observable", "latent"]
CHUNK_PAIRS = 4_000_000
"""Seeker x job pairs evaluated per chunk (bounds memory at a few hundred MB)."""


class GroundTruth:
    """Expected utility of any seekers for any jobs at any time.

    Parameters
    ----------
    seekers, jobs
        Utility arrays (row order = ``seeker_ids`` / ``job_ids``).
    seeker_ids, job_ids
        String ids of the rows.
    weights
        Utility weights used by the generator.
    training_seeker, training_skill, training_end
        Completed trainings: seeker row, skill index, completion time (``datetime64[ns]``).
    """

    def __init__(self, seekers: SeekerArrays, jobs: JobArrays, seeker_ids: np.ndarray, job_ids: np.ndarray,
                 weights: UtilityWeights, training_seeker: np.ndarray, training_skill: np.ndarray,
                 training_end: np.ndarray) -> None:
        self.seekers, self.jobs, self.weights = seekers, jobs, weights
        self.seeker_ids, self.job_ids = np.asarray(seeker_ids, dtype=str), np.asarray(job_ids, dtype=str)
        self._seeker_row = {s: i for i, s in enumerate(self.seeker_ids.tolist())}
        self._job_row = {j: i for i, j in enumerate(self.job_ids.tolist())}
        self.training_seeker = np.asarray(training_seeker, dtype=np.int64)
        self.training_skill = np.asarray(training_skill, dtype=np.int64)
        self.training_end = np.asarray(training_end, dtype="datetime64[ns]")
        self._terms: UtilityTerms | None = None

    @property
    def terms(self) -> UtilityTerms:
        """Prepared observable-utility terms (built on first use)."""
        if self._terms is None:
            self._terms = UtilityTerms(self.seekers, self.jobs, self.weights)
        return self._terms

    # ------------------------------------------------------------------ persistence
    def save(self, data_dir: Path | str, meta: dict | None = None) -> None:
        """Write ``truth/`` under ``data_dir``."""
        d = Path(data_dir) / "truth"
        d.mkdir(parents=True, exist_ok=True)
        save_arrays(d / "seekers.npz", self.seekers, self.seeker_ids)
        save_arrays(d / "jobs.npz", self.jobs, self.job_ids)
        np.savez(d / "trainings.npz", seeker=self.training_seeker, skill=self.training_skill,
                 end_ns=self.training_end.astype("datetime64[ns]").astype(np.int64))
        payload = {"utility_weights": dataclasses.asdict(self.weights), **(meta or {})}
        (d / "weights.json").write_text(json.dumps(payload, indent=2, ensure_ascii=False), encoding="utf-8")

    @classmethod
    def load(cls, data_dir: Path | str) -> GroundTruth:
        """Read ``<data_dir>/truth/``."""
        d = Path(data_dir) / "truth"
        if not (d / "weights.json").is_file():
            raise FileNotFoundError(f"no ground truth under {d}")
        seekers, seeker_ids = load_arrays(d / "seekers.npz", SeekerArrays)
        jobs, job_ids = load_arrays(d / "jobs.npz", JobArrays)
        with np.load(d / "trainings.npz", allow_pickle=False) as t:
            seeker, skill, end = t["seeker"], t["skill"], t["end_ns"].astype("datetime64[ns]")
        meta = json.loads((d / "weights.json").read_text(encoding="utf-8"))
        return cls(seekers, jobs, seeker_ids, job_ids, UtilityWeights(**meta["utility_weights"]), seeker, skill, end)

    # ------------------------------------------------------------------ queries
    def seeker_rows(self, seeker_ids: Sequence[str] | np.ndarray) -> np.ndarray:
        """Row index of each seeker id (``KeyError`` for unknown ids)."""
        return np.fromiter((self._seeker_row[s] for s in seeker_ids), dtype=np.int64, count=len(seeker_ids))

    def job_rows(self, job_ids: Sequence[str] | np.ndarray) -> np.ndarray:
        """Row index of each job id (``KeyError`` for unknown ids)."""
        return np.fromiter((self._job_row[j] for j in job_ids), dtype=np.int64, count=len(job_ids))

    def skill_bits_at(self, rows: np.ndarray, at: np.datetime64 | np.ndarray | None) -> np.ndarray:
        """Skill bitmasks of seeker ``rows`` including trainings completed at or before ``at``.

        ``at`` is one time, one time per row, or ``None`` (= base skills, before any training).
        """
        bits = self.seekers.bits[rows].copy()
        if at is None or len(self.training_seeker) == 0:
            return bits
        at_row = np.broadcast_to(np.asarray(at, dtype="datetime64[ns]"), rows.shape)
        pos: dict[int, list[int]] = {}
        for i, r in enumerate(rows.tolist()):
            pos.setdefault(r, []).append(i)
        hit = np.isin(self.training_seeker, rows)
        for t in np.flatnonzero(hit):
            for i in pos[int(self.training_seeker[t])]:
                if self.training_end[t] <= at_row[i]:
                    s = int(self.training_skill[t])
                    bits[i, s // 64] |= np.uint64(1) << np.uint64(s % 64)
        return bits

    def expected_utility(self, seeker_ids: Sequence[str] | np.ndarray, job_ids: Sequence[str] | np.ndarray,
                         at: np.datetime64 | np.ndarray | None = None, part: Part | str = "total") -> np.ndarray:
        """Noise-free utility, shape ``(len(seeker_ids), len(job_ids))``, float32.

        ``total`` = ``observable`` + ``latent`` is what the choice model perturbs with Gumbel noise.
        ``observable``: skills, distance, wage, job type, schedule, education, posted age limits, employer
        attractiveness. ``latent``: the low-rank taste no feature explains. ``at`` (scalar or one time
        per seeker) decides which completed trainings count; ``None`` uses skills at registration.
        """
        if part not in ("total", "observable", "latent"):
            raise ValueError(f"part: expected 'total', 'observable' or 'latent', got {part!r}")
        srows, jrows = self.seeker_rows(seeker_ids), self.job_rows(job_ids)
        if at is not None and np.ndim(at) == 1 and np.size(at) != len(srows):
            raise ValueError(f"at: expected a scalar or {len(srows)} times, got {np.size(at)}")
        out = np.empty((len(srows), len(jrows)), dtype=np.float32)
        if out.size == 0:
            return out
        bits_all = self.skill_bits_at(srows, at) if part != "latent" else None
        step = max(1, CHUNK_PAIRS // max(len(jrows), 1))
        ji = jrows[None, :]
        for a in range(0, len(srows), step):
            si = srows[a:a + step, None]
            block = np.zeros((len(si), len(jrows)), dtype=np.float32)
            if bits_all is not None:
                block += self.terms.observable(si, ji, bits_all[a:a + step, None, :])
            if part != "observable":
                block += latent_utility(self.seekers, self.jobs, si, ji, self.weights)
            out[a:a + step] = block
        return out
