"""Compiled kernels of the ranking API (numba, GIL released): the per-request work without Python per job.

* :func:`position_ranges`: the catalogue position ranges that can hold jobs within a radius of a box;
* :func:`top_k_passing`: one pass over those ranges per seeker: rules, scores, top ``k``, screening
  jobs with the low-dimensional bounds of :func:`screening_arrays`;
* :func:`factor_contributions`, :func:`top_factors`: each factor's share of the score of a few
  (seeker, job) pairs, and the factors a reason is given for.

They take plain arrays (the fields of :class:`~recsys.api.catalogue.Catalogue` and of the request)
so that they stay independent of the Python classes. ``cache=True`` stores the machine code next to
this module (or in numba's user cache when that is read-only); the first call in a fresh environment
compiles, which :meth:`recsys.api.ranker.Ranker.warm_up` does at load time.
"""

from __future__ import annotations

import math

import numba
import numpy as np

DOT_FASTMATH = {"reassoc", "contract"}
"""Lets LLVM vectorise the dot products (sums in a different order than numpy/BLAS, float32 rounding
only); NaN and infinity semantics are kept."""


@numba.njit(nogil=True, cache=True)
def position_ranges(strip_key: np.ndarray, n_strips: int, strip_origin_km: float, strip_width_km: float,
                    strip_stride_km: float, north_origin_km: float, slack_km: float, east_min: float,
                    east_max: float, north_min: float, north_max: float, radius_km: float
                    ) -> tuple[np.ndarray, np.ndarray]:
    """Position ranges ``[starts[i], stops[i])`` covering every job within ``radius_km`` of the box.

    Jobs are sorted by (strip, north); ``strip_key = strip * strip_stride_km + north - north_origin_km``.
    In each strip the radius reaches, the box's north interval is widened by the circle's half-chord at
    the strip's nearest east edge (plus ``slack_km``). Ranges are increasing, non-empty; an infinite
    radius gives ``[0, n_jobs)``.
    """
    n_jobs = len(strip_key)
    if not math.isfinite(radius_km):
        if n_jobs == 0:
            return np.empty(0, np.int64), np.empty(0, np.int64)
        return np.zeros(1, np.int64), np.full(1, n_jobs, np.int64)
    reach = radius_km + slack_km
    first = max(math.floor((east_min - reach - strip_origin_km) / strip_width_km), 0)
    last = min(math.floor((east_max + reach - strip_origin_km) / strip_width_km), n_strips - 1)
    count = max(last - first + 1, 0)
    starts, stops = np.empty(count, np.int64), np.empty(count, np.int64)
    n = 0
    for strip in range(first, last + 1):
        west = strip_origin_km + strip * strip_width_km
        east_gap = max(west - east_max, east_min - west - strip_width_km, 0.0)
        half_chord = math.sqrt(max(reach * reach - east_gap * east_gap, 0.0)) + slack_km
        # clipping keeps each query inside its own strip's key interval
        low = max(north_min - north_origin_km - half_chord, -1.0)
        high = min(north_max - north_origin_km + half_chord, strip_stride_km - 1.0)
        base = strip * strip_stride_km
        start = np.searchsorted(strip_key, base + low, side="left")
        stop = np.searchsorted(strip_key, base + high, side="right")
        if start < stop:
            starts[n], stops[n] = start, stop
            n += 1
    return starts[:n], stops[:n]


SCREEN_ENERGY = 0.98
"""Share of the job embeddings' energy (sum of squares) the screening subspace keeps."""
SCREEN_SLACK = 1e-5
"""Rounding allowance of a screening bound, in units of ``||e|| * ||u|| + |bias|``: it covers the
float32 rounding of the head product, of the stored coordinates and of the exact score itself (at most
``(d + 1) * 2**-24`` of those units, about 4e-6 for 64 dimensions)."""


def screening_arrays(embeddings: np.ndarray, basis: np.ndarray | None = None
                     ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """What :func:`top_k_passing` screens jobs with: ``(basis, head, tail, slack)``.

    ``basis`` ``(m, d)`` float64 holds the top ``m`` principal directions of the embeddings (uncentred;
    the fewest that keep :data:`SCREEN_ENERGY` of their sum of squares), ``head = basis @ embeddings.T``
    ``(m, n)`` float32 (coordinate-major, so the kernel runs along jobs), ``tail`` the norm of each
    embedding's remainder outside the subspace and ``slack = SCREEN_SLACK * ||embedding||`` (both float32, rounded up). For a seeker ``u`` with head
    ``h = basis @ u`` and remainder norm ``t``, Cauchy-Schwarz on the remainder gives
    ``e . u <= head[:, j] . h + tail * t``; adding ``slack * ||u||`` and ``SCREEN_SLACK * |bias|`` makes it
    hold for the float32 scores.
    The bound holds for any orthonormal ``basis``; pass the basis of an earlier snapshot to extend it
    to new jobs (it stays tight while they come from the same model). Non-finite entries count as 0
    (a catalogue holding them refuses to rank anyway).
    """
    e = np.asarray(embeddings, dtype=np.float64)
    e = np.where(np.isfinite(e), e, 0.0)
    if basis is None:
        energy, directions = np.linalg.eigh(e.T @ e)  # ascending
        energy, directions = energy[::-1], directions[:, ::-1]
        kept = np.cumsum(energy) >= SCREEN_ENERGY * energy.sum()
        m = int(np.argmax(kept)) + 1 if energy.sum() > 0 else 1
        basis = np.ascontiguousarray(directions[:, :m].T)
    head = e @ basis.T
    round_up = 1.0 + 1e-6
    tail = np.linalg.norm(e - head @ basis, axis=1) * round_up
    slack = SCREEN_SLACK * np.linalg.norm(e, axis=1) * round_up
    return basis, np.ascontiguousarray(head.T, dtype=np.float32), tail.astype(np.float32), slack.astype(np.float32)


@numba.njit(nogil=True, cache=True, fastmath=DOT_FASTMATH)
def top_k_passing(jobs: tuple, layout: tuple, rules: tuple, seekers: tuple, rows: np.ndarray,
                  applied_offsets: np.ndarray, applied_positions: np.ndarray, out_positions: np.ndarray,
                  out_scores: np.ndarray) -> tuple[int, int]:
    """Best ``k`` jobs passing every rule for the seekers at ``rows``: row ``i`` of ``out_positions`` /
    ``out_scores`` ``(len(rows), k)`` for seeker ``rows[i]``.

    Returns how many (seeker, job) pairs were visited (within the position ranges) and how many of
    them were scored exactly (the rest were ruled out by their screening bound), summed over seekers.

    Positions are best first, ties to the lower position; missing entries are -1 / ``-inf``; scores are
    float32 and exclude the seeker's own bias.

    Parameters (tuples of arrays, so the catalogue and the seekers each pass as one argument)
    ----------
    jobs
        ``(scoring, basis, head, tail, slack, bias, posted_ns, expires_ns, job_type, district, east_km,
        north_km, min_education, age_min, age_max)``: the catalogue's kernel arrays
        (:attr:`recsys.api.catalogue.Catalogue.kernel_arrays`; the screen from :func:`screening_arrays`).
    layout
        ``(strip_key, n_strips, strip_origin_km, strip_width_km, strip_stride_km, north_origin_km,
        slack_km)``: the arguments of :func:`position_ranges` before the box.
    rules
        ``(now_ns, check_codes, job_type_ok, district_ok, check_requirements, radius_km)``;
        ``radius_km`` NaN means each seeker's own ``max_commute_km``.
    seekers
        ``(vectors, east_km, north_km, max_commute_km, education, age)`` of all seekers
        (:class:`recsys.api.profile.SeekerRequests`); ``vectors`` row ``s`` is the embedding with a
        trailing 1 (it multiplies the job bias in the last column of ``scoring``).
    applied_offsets, applied_positions
        Seeker ``rows[i]`` applied to ``applied_positions[applied_offsets[i]:applied_offsets[i + 1]]``.

    Rules of job ``j`` for a seeker: ``posted_ns[j] <= now_ns < expires_ns[j]``; if ``check_codes``,
    job type and district codes allowed by the lookups; squared float32 distance from home at most the
    squared float32 radius (a NaN radius or seeker location turns this rule off; a job without a location
    fails a finite radius); if ``check_requirements``, ``min_education[j] <= education`` and
    ``age_min[j] <= age <= age_max[j]`` (skipped for a seeker's unknown education or age, coded -1); not
    applied to.
    """
    vectors, seeker_east, seeker_north, max_commute_km, education, age = seekers
    radius_override = rules[5]
    visited, scored = 0, 0
    for i in range(len(rows)):
        s = rows[i]
        radius = max_commute_km[s] if math.isnan(radius_override) else radius_override
        if math.isnan(radius) or math.isnan(seeker_east[s]) or math.isnan(seeker_north[s]):
            radius = math.inf  # no limit known, or no home location: the commute rule is off
        starts, stops = position_ranges(*layout, seeker_east[s], seeker_east[s], seeker_north[s],  # type: ignore[call-arg]
                                        seeker_north[s], radius)
        scored += _top_k_one(jobs, rules, starts, stops, vectors[s], seeker_east[s], seeker_north[s],
                             np.float32(radius * radius), education[s], age[s],
                             applied_positions[applied_offsets[i]:applied_offsets[i + 1]], out_positions[i],
                             out_scores[i])
        for r in range(len(starts)):
            visited += stops[r] - starts[r]
    return visited, scored


@numba.njit(nogil=True, cache=True, fastmath=DOT_FASTMATH)
def _top_k_one(jobs: tuple, rules: tuple, starts: np.ndarray, stops: np.ndarray, vector: np.ndarray,
               home_east: np.float32, home_north: np.float32, radius_sq: np.float32, education: int, age: int,
               applied: np.ndarray, out_positions: np.ndarray, out_scores: np.ndarray) -> int:
    """:func:`top_k_passing` for one seeker over the position ranges ``[starts, stops)``; returns how
    many jobs it scored exactly.

    Per range, first every job's screening bound (:func:`screening_arrays`: ``m`` float32 products
    instead of ``d``), in branch-free loops along the jobs. Then, in position order, a job whose bound cannot beat
    the current ``k``-th score is skipped; the others are checked against the rules and scored exactly
    from ``scoring``. The result equals scoring every job exactly.
    """
    scoring, basis, head, tail, slack, bias, posted_ns, expires_ns, job_type, district, east_km, north_km, \
        min_education, age_min, age_max = jobs
    now_ns, check_codes, job_type_ok, district_ok, check_requirements, _ = rules
    k, dim = len(out_positions), basis.shape[1]
    out_positions[:] = -1
    out_scores[:] = -np.inf
    seeker_head, seeker_tail, seeker_norm = _seeker_screen(basis, vector[:dim])
    longest = 0
    for r in range(len(starts)):
        longest = max(longest, stops[r] - starts[r])
    bounds = np.empty(longest, np.float32)
    count, worst, scored = 0, np.float32(-np.inf), 0
    for r in range(len(starts)):
        lo, hi = starts[r], stops[r]
        _screening_bounds(head, tail, slack, bias, seeker_head, seeker_tail, seeker_norm, lo, hi, bounds)
        j = lo - 1
        while j + 1 < hi:
            j += 1
            if count == k:  # jump to the next job whose bound could beat the k-th score
                j = lo + _first_above(bounds, j - lo, hi - lo, worst)
                if j == hi:
                    break
            if posted_ns[j] > now_ns or expires_ns[j] <= now_ns:
                continue
            if check_codes and not (job_type_ok[job_type[j]] and district_ok[district[j]]):
                continue
            d_east = east_km[j] - home_east
            d_north = north_km[j] - home_north
            if radius_sq < np.inf and not d_east * d_east + d_north * d_north <= radius_sq:
                continue  # a job without a location (NaN) never passes a finite limit
            if check_requirements and ((education >= 0 and min_education[j] > education)
                                       or (age >= 0 and (age_min[j] > age or age_max[j] < age))):
                continue  # a seeker's unknown education or age (-1) is not checked
            score = np.float32(0.0)
            for t in range(dim + 1):
                score += scoring[j, t] * vector[t]
            scored += 1
            if count == k and not score > worst:
                continue
            if _contains(applied, j):
                continue
            i = count if count < k else k - 1  # insertion sort into the sorted top list
            while i > 0 and out_scores[i - 1] < score:
                out_scores[i] = out_scores[i - 1]
                out_positions[i] = out_positions[i - 1]
                i -= 1
            out_scores[i], out_positions[i] = score, j
            count = min(count + 1, k)
            worst = out_scores[k - 1]
    return scored


@numba.njit(nogil=True, cache=True, fastmath=DOT_FASTMATH)
def _screening_bounds(head: np.ndarray, tail: np.ndarray, slack: np.ndarray, bias: np.ndarray,
                      seeker_head: np.ndarray, seeker_tail: np.float32, seeker_norm: np.float32, lo: int, hi: int,
                      bounds: np.ndarray) -> None:
    """``bounds[:hi - lo]``: upper bounds of the float32 scores of jobs ``lo..hi-1`` (see :func:`screening_arrays`).

    A function of its own, with loops along the jobs, so that LLVM vectorises them (inlined into the
    larger kernel they ran several times slower).
    """
    n = hi - lo
    for j in range(n):
        b = bias[lo + j]
        bounds[j] = tail[lo + j] * seeker_tail + slack[lo + j] * seeker_norm + b + abs(b) * np.float32(SCREEN_SLACK)
    for i in range(head.shape[0]):
        coordinate = seeker_head[i]
        row = head[i, lo:hi]
        for j in range(n):
            bounds[j] += row[j] * coordinate
    for j in range(n):
        bounds[j] += abs(bounds[j]) * np.float32(1e-6)  # rounding of the bound itself


@numba.njit(nogil=True, cache=True)
def _seeker_screen(basis: np.ndarray, embedding: np.ndarray) -> tuple[np.ndarray, np.float32, np.float32]:
    """A seeker's screening head ``basis @ u`` (float32), remainder norm and norm (float64, rounded up)."""
    m, dim = basis.shape
    head = np.zeros(m)
    for i in range(m):
        for t in range(dim):
            head[i] += basis[i, t] * embedding[t]
    tail, norm = 0.0, 0.0
    for t in range(dim):
        remainder = float(embedding[t])
        for i in range(m):
            remainder -= head[i] * basis[i, t]
        tail += remainder * remainder
        norm += float(embedding[t]) * float(embedding[t])
    round_up = 1.0 + 1e-6
    return head.astype(np.float32), np.float32(math.sqrt(tail) * round_up), np.float32(math.sqrt(norm) * round_up)


@numba.njit(nogil=True, cache=True)
def _first_above(values: np.ndarray, start: int, stop: int, threshold: np.float32) -> int:
    """First ``i`` in ``[start, stop)`` with ``values[i] > threshold``, else ``stop``."""
    for i in range(start, stop):
        if values[i] > threshold:
            return i
    return stop


@numba.njit(nogil=True, cache=True)
def _contains(values: np.ndarray, value: int) -> bool:
    for v in values:
        if v == value:
            return True
    return False


@numba.njit(nogil=True, cache=True, fastmath=DOT_FASTMATH)
def factor_contributions(indptr: np.ndarray, indices: np.ndarray, data: np.ndarray, rows: np.ndarray,
                         seeker_vectors: np.ndarray, seeker_of: np.ndarray, feature_embeddings: np.ndarray,
                         feature_biases: np.ndarray, factors: np.ndarray, n_factors: int) -> np.ndarray:
    """``(len(rows), n_factors)`` float64: factor ``f``'s share of job ``rows[i]``'s score for seeker
    ``seeker_of[i]`` (a row of ``seeker_vectors``, whose first ``d`` entries are the embedding).

    The job's weighted feature row is CSR ``(indptr, indices, data)``; column ``c`` contributes
    ``data * (feature_embeddings[c] . embedding + feature_biases[c])`` to factor ``factors[c]``.
    """
    out = np.zeros((len(rows), n_factors))
    dim = feature_embeddings.shape[1]
    for i in range(len(rows)):
        row, seeker = rows[i], seeker_of[i]
        for entry in range(indptr[row], indptr[row + 1]):
            column = indices[entry]
            value = np.float32(0.0)
            for t in range(dim):
                value += feature_embeddings[column, t] * seeker_vectors[seeker, t]
            out[i, factors[column]] += float(data[entry]) * (float(value) + float(feature_biases[column]))
    return out


@numba.njit(nogil=True, cache=True)
def top_factors(contributions: np.ndarray, max_reasons: int) -> np.ndarray:
    """``(n, max_reasons)`` int64 factor indices per row of ``contributions``, -1 padded (see
    :func:`recsys.api.reasons.top_reasons`).

    The largest positive factors, best first (ties: lower index); the largest factor alone if none is
    positive.
    """
    n, n_factors = contributions.shape
    picked = np.full((n, max_reasons), -1, np.int64)
    for i in range(n):
        for slot in range(max_reasons):
            best = -1
            for f in range(n_factors):
                taken = False
                for earlier in range(slot):
                    taken |= picked[i, earlier] == f
                if not taken and (best < 0 or contributions[i, f] > contributions[i, best]):
                    best = f
            if slot > 0 and not contributions[i, best] > 0:
                break
            picked[i, slot] = best
    return picked


@numba.njit(nogil=True, cache=True, inline="always")
def _log1p_exp(x: float) -> float:
    """``log(1 + exp(x))`` without overflow."""
    return x + math.log1p(math.exp(-x)) if x > 0 else math.log1p(math.exp(x))


@numba.njit(nogil=True, cache=True)
def placement_keys(scores: np.ndarray, probability: np.ndarray, jobs: np.ndarray, applications: np.ndarray,
                   vacancies: np.ndarray, posted_ns: np.ndarray, expires_ns: np.ndarray, now_ns: int,
                   objective: int, sigma: float, slope: float, intercept: float, congestion: float,
                   horizon_days: float, out: np.ndarray) -> None:
    """The objective's key of candidate pairs in one pass (the per-request second stage of the ranker).

    Pair ``i`` is catalogue job ``jobs[i]`` with apply score ``scores[i]`` and P(hire | apply)
    ``probability[i]`` (ignored for ``objective`` 0). ``objective``: 0 apply, 1 hire, 2 surplus. Writes
    ``out[i] = (key, hire_term, congestion_term, competitors per opening or NaN)``, equal to
    :func:`recsys.api.objectives.objective_keys` with :func:`recsys.api.objectives.competition` (tested),
    without the numpy temporaries of the vectorised reference.
    """
    unknown_time = np.iinfo(np.int64).min + 1
    ns_per_day = 86_400.0 * 1e9
    log_sigma = math.log(sigma)
    for i in range(len(jobs)):
        s = float(scores[i])
        hire_term = 0.0
        if objective == 0:
            base = s
        else:
            p = min(max(float(probability[i]), 1e-9), 1.0)
            hire_term = math.log(p)
            logit = slope * s + intercept
            if objective == 1:
                base = -_log1p_exp(-logit)
            else:
                base = log_sigma + math.log(max(_log1p_exp(logit / sigma), 1e-300))
        congestion_term, crowd = 0.0, math.nan
        if congestion > 0:
            j = jobs[i]
            n = float(applications[j])
            posted = posted_ns[j]
            age = (now_ns - posted) / ns_per_day if posted > unknown_time else 1.0
            remaining = min(max((float(expires_ns[j]) - now_ns) / ns_per_day, 0.0), horizon_days)
            crowd = (n + n / max(age, 1.0) * remaining) / max(float(vacancies[j]), 1.0)
            congestion_term = -congestion * math.log1p(crowd)
        out[i, 0] = base + hire_term + congestion_term
        out[i, 1] = hire_term
        out[i, 2] = congestion_term
        out[i, 3] = crowd
