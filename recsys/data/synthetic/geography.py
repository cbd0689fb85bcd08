"""Guangzhou's 11 districts and the public employment service points (342 stations, 29 gig markets).

Populations are 2020 census figures (millions); centroids are approximate district centres. Places are
real counts at every preset: only people and postings are scaled.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from recsys.data.geo import KM_PER_DEG_LAT, KM_PER_DEG_LON, distance_km
from recsys.data.schema import DISTRICTS

N_STATIONS = 342
N_GIG_MARKETS = 29
"""Reference point of planar (x, y) km coordinates (keeps them small, hence exact in float32)."""


@dataclass(frozen=True)
class District:
    """One district: code, Chinese name, centroid, census population (M), spread of places (km sd)."""

    code: str
    name_zh: str
    lat: float
    lon: float
    population_m: float
    spread_km: float


DISTRICT_TABLE: tuple[District, ...] = (
    District("yuexiu", "越秀区", 23.129, 113.267, 1.04, 1.6),
    District("haizhu", "海珠区", 23.090, 113.317, 1.81, 3.0),
    District("liwan", "荔湾区", 23.110, 113.240, 1.12, 2.5),
    District("tianhe", "天河区", 23.135, 113.362, 2.24, 3.2),
    District("baiyun", "白云区", 23.240, 113.290, 3.74, 6.0),
    District("huangpu", "黄埔区", 23.180, 113.470, 1.26, 6.0),
    District("panyu", "番禺区", 22.945, 113.384, 2.65, 6.0),
    District("huadu", "花都区", 23.400, 113.220, 1.64, 8.0),
    District("nansha", "南沙区", 22.800, 113.530, 0.85, 8.0),
    District("conghua", "从化区", 23.550, 113.590, 0.72, 11.0),
    District("zengcheng", "增城区", 23.270, 113.780, 1.47, 10.0),
)
assert tuple(d.code for d in DISTRICT_TABLE) == DISTRICTS

DISTRICT_INDEX = {d.code: i for i, d in enumerate(DISTRICT_TABLE)}
DISTRICT_LAT = np.array([d.lat for d in DISTRICT_TABLE])
DISTRICT_LON = np.array([d.lon for d in DISTRICT_TABLE])
DISTRICT_SPREAD_KM = np.array([d.spread_km for d in DISTRICT_TABLE])
POP_WEIGHT = np.array([d.population_m for d in DISTRICT_TABLE]) / sum(d.population_m for d in DISTRICT_TABLE)

# Gig markets the source names, pinned to their district: (name, district, lat, lon).
NAMED_GIG_MARKETS = (
    ("越秀区洪桥零工市场", "yuexiu", 23.138, 113.268),
    ("海珠区中大布匹市场零工市场", "haizhu", 23.098, 113.292),
    ("花都区狮岭皮具零工市场", "huadu", 23.455, 113.155),
    ("天河区棠下零工市场", "tianhe", 23.130, 113.383),
)
NAMED_STATIONS = (("越秀区洪桥街就业驿站", "yuexiu", 23.136, 113.266),)


DISTRICT_DISTANCE_KM = distance_km(DISTRICT_LAT[:, None], DISTRICT_LON[:, None], DISTRICT_LAT[None], DISTRICT_LON[None])
"""Centroid-to-centroid distances, shape (11, 11)."""


def scatter(rng: np.random.Generator, district_idx: np.ndarray, spread_scale: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    """Random coordinates around each district's centroid (normal, sd = district spread)."""
    sd = DISTRICT_SPREAD_KM[district_idx] * spread_scale
    lat = DISTRICT_LAT[district_idx] + rng.normal(0.0, 1.0, len(district_idx)) * sd / KM_PER_DEG_LAT
    lon = DISTRICT_LON[district_idx] + rng.normal(0.0, 1.0, len(district_idx)) * sd / KM_PER_DEG_LON
    return lat, lon


def allocate(total: int, weights: np.ndarray) -> np.ndarray:
    """Integer counts summing to ``total`` proportional to ``weights`` (largest remainder), each >= 1."""
    weights = np.asarray(weights, dtype=float)
    raw = weights / weights.sum() * (total - len(weights))
    counts = np.floor(raw).astype(int) + 1
    order = np.argsort(-(raw - np.floor(raw)), kind="stable")
    counts[order[: total - counts.sum()]] += 1
    return counts


def districts_table() -> pd.DataFrame:
    """The ``districts`` table."""
    return pd.DataFrame({
        "district": list(DISTRICTS),
        "name_zh": [d.name_zh for d in DISTRICT_TABLE],
        "lat": DISTRICT_LAT,
        "lon": DISTRICT_LON,
        "population_m": [d.population_m for d in DISTRICT_TABLE],
        "pop_weight": POP_WEIGHT,
    })


def service_points_table(rng: np.random.Generator) -> pd.DataFrame:
    """The ``service_points`` table: 342 stations by population share, 29 gig markets.

    Gig markets: the four named by the source, the rest spread by population with at least one per
    district. Ids: ``ST001``.. for stations, ``GM01``.. for gig markets.
    """
    rows: list[dict] = []
    station_counts = allocate(N_STATIONS, POP_WEIGHT)
    k = 0
    for d_idx, n in enumerate(station_counts):
        district = DISTRICT_TABLE[d_idx]
        lat, lon = scatter(rng, np.full(n, d_idx))
        for i in range(n):
            k += 1
            name = f"{district.name_zh}第{i + 1}就业驿站"
            plat, plon = lat[i], lon[i]
            for station_name, code, nlat, nlon in NAMED_STATIONS:
                if code == district.code and i == 0:
                    name, plat, plon = station_name, nlat, nlon
            rows.append({"point_id": f"ST{k:03d}", "kind": "station", "name": name, "district": district.code,
                         "lat": plat, "lon": plon})
    market_counts = allocate(N_GIG_MARKETS, POP_WEIGHT)
    k = 0
    for d_idx, n in enumerate(market_counts):
        district = DISTRICT_TABLE[d_idx]
        named = [m for m in NAMED_GIG_MARKETS if m[1] == district.code]
        lat, lon = scatter(rng, np.full(n, d_idx))
        for i in range(n):
            k += 1
            if i < len(named):
                name, _, plat, plon = named[i]
            else:
                name, plat, plon = f"{district.name_zh}第{i + 1}零工服务站点", lat[i], lon[i]
            rows.append({"point_id": f"GM{k:02d}", "kind": "gig_market", "name": name, "district": district.code,
                         "lat": plat, "lon": plon})
    return pd.DataFrame(rows)
