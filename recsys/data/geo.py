"""Distances inside one city: an equirectangular projection around central Guangzhou.

Shared by the generator (utility), the ranking API (commute filter) and anything else that needs
commute kilometres, so every part of the package measures distance the same way. Within the city the
error against great-circle distance is well under 1%.
"""

from __future__ import annotations

import numpy as np

KM_PER_DEG_LAT = 111.0
CENTRE_LAT, CENTRE_LON = 23.1, 113.3
KM_PER_DEG_LON = KM_PER_DEG_LAT * float(np.cos(np.deg2rad(CENTRE_LAT)))


def planar_km(lat: np.ndarray, lon: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(east, north) kilometres from the city centre, float32; the Euclidean norm of a difference
    of two projected points is :func:`distance_km` between them."""
    east = (np.asarray(lon, dtype=np.float64) - CENTRE_LON) * KM_PER_DEG_LON
    north = (np.asarray(lat, dtype=np.float64) - CENTRE_LAT) * KM_PER_DEG_LAT
    return east.astype(np.float32), north.astype(np.float32)


def distance_km(lat1: np.ndarray, lon1: np.ndarray, lat2: np.ndarray, lon2: np.ndarray) -> np.ndarray:
    """Equirectangular distance in km between two sets of points; arguments broadcast."""
    dy = (np.asarray(lat1) - np.asarray(lat2)) * KM_PER_DEG_LAT
    dx = (np.asarray(lon1) - np.asarray(lon2)) * KM_PER_DEG_LON
    return np.sqrt(dx * dx + dy * dy)
