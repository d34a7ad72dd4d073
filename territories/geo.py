"""Geometry of alignments: km, rep homes, projection, nearest reps, hulls, adjacency.

Great-circle km, an equal-area projection, k nearest, convex hulls and a Delaunay
adjacency, in numpy (scipy is not a dependency).

Matplotlib's triangulation (qhull, bundled with matplotlib) gives the Delaunay
triangles; the hull is Andrew's monotone chain.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

EARTH_KM = 6371.0088


def haversine_km(lat1, lon1, lat2, lon2) -> np.ndarray:
    """Great-circle distance in km, vectorised."""
    p1, p2 = np.radians(lat1), np.radians(lat2)
    dphi = p2 - p1
    dlmb = np.radians(np.asarray(lon2) - np.asarray(lon1))
    a = np.sin(dphi / 2) ** 2 + np.cos(p1) * np.cos(p2) * np.sin(dlmb / 2) ** 2
    return 2 * EARTH_KM * np.arcsin(np.sqrt(np.clip(a, 0, 1)))


def rep_homes(reps: pd.DataFrame, accounts: pd.DataFrame) -> pd.DataFrame:
    """Each rep's home: reps.lat/lon, else the centroid of the rep's current accounts."""
    geo = accounts.dropna(subset=["lat", "lon", "rep_id"])
    centroid = geo.groupby("rep_id")[["lat", "lon"]].mean()
    homes = reps.set_index("rep_id")[["lat", "lon"]].copy()
    fill = centroid.reindex(homes.index)
    homes["lat"] = homes["lat"].fillna(fill["lat"])
    homes["lon"] = homes["lon"].fillna(fill["lon"])
    return homes


def _unit(lat, lon) -> np.ndarray:
    """Points on the unit sphere: squared chord length orders pairs like great-circle km."""
    p, la = np.radians(np.asarray(lat, dtype=float)), np.radians(np.asarray(lon, dtype=float))
    return np.stack([np.cos(p) * np.cos(la), np.cos(p) * np.sin(la), np.sin(p)], axis=-1)


def nearest(lat, lon, to_lat, to_lon, k: int, allowed=None, chunk: int = 4096) -> np.ndarray:
    """Indexes of the `k` nearest targets of every point, nearest first (-1 when fewer).

    `allowed(rows)` may return a boolean (len(rows) x targets) mask of permitted targets.
    Chunked so 20,000 x 400 needs a few MB at a time.
    """
    pts, tgt = _unit(lat, lon), _unit(to_lat, to_lon)
    n, m = len(pts), len(tgt)
    k = min(k, m)
    out = np.full((n, k), -1, dtype=np.int64)
    for s in range(0, n, chunk):
        rows = np.arange(s, min(s + chunk, n))
        d = 2 - 2 * pts[rows] @ tgt.T
        if allowed is not None:
            d = np.where(allowed(rows), d, np.inf)
        part = np.argpartition(d, k - 1, axis=1)[:, :k] if k < m else np.tile(np.arange(m), (len(rows), 1))
        order = np.take_along_axis(d, part, axis=1).argsort(axis=1, kind="stable")
        best = np.take_along_axis(part, order, axis=1)
        best[~np.isfinite(np.take_along_axis(d, best, axis=1))] = -1
        out[rows] = best
    return out


def albers(lat, lon, *, lat1=29.5, lat2=45.5, lat0=37.5, lon0=-96.0) -> tuple[np.ndarray, np.ndarray]:
    """Albers equal-area conic (spherical), km; defaults are the USGS lower-48 parallels."""
    p1, p2, p0 = np.radians([lat1, lat2, lat0])
    nn = (np.sin(p1) + np.sin(p2)) / 2
    c = np.cos(p1) ** 2 + 2 * nn * np.sin(p1)
    rho0 = EARTH_KM * np.sqrt(c - 2 * nn * np.sin(p0)) / nn
    phi = np.radians(np.asarray(lat, dtype=float))
    theta = nn * np.radians(np.asarray(lon, dtype=float) - lon0)
    rho = EARTH_KM * np.sqrt(np.clip(c - 2 * nn * np.sin(phi), 0, None)) / nn
    return rho * np.sin(theta), rho0 - rho * np.cos(theta)


def project(lat, lon) -> tuple[np.ndarray, np.ndarray]:
    """Equal-area km, centred on the points' own middle (any continent, not only the US)."""
    lat, lon = np.asarray(lat, dtype=float), np.asarray(lon, dtype=float)
    if not len(lat):
        return lat, lon
    lo, hi = np.nanpercentile(lat, [5, 95])
    span = max(hi - lo, 2.0)
    mid_lon = float(np.degrees(np.arctan2(np.nanmean(np.sin(np.radians(lon))),
                                          np.nanmean(np.cos(np.radians(lon))))))
    return albers(lat, lon, lat1=lo + span / 6, lat2=hi - span / 6, lat0=(lo + hi) / 2,
                  lon0=mid_lon)


def convex_hull(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Indexes of the hull's corners, counter-clockwise (Andrew's monotone chain)."""
    pts = np.unique(np.column_stack([x, y]), axis=0)
    if len(pts) < 3:
        return _hull_index(x, y, pts)

    def chain(points):
        out: list = []
        for p in points:
            while len(out) >= 2 and _cross(out[-2], out[-1], p) <= 0:
                out.pop()
            out.append(p)
        return out

    lower, upper = chain(pts), chain(pts[::-1])
    return _hull_index(x, y, np.array(lower[:-1] + upper[:-1]))


def _cross(o, a, b) -> float:
    return (a[0] - o[0]) * (b[1] - o[1]) - (a[1] - o[1]) * (b[0] - o[0])


def _hull_index(x, y, corners: np.ndarray) -> np.ndarray:
    lookup = {(float(a), float(b)): i for i, (a, b) in enumerate(zip(x, y, strict=True))}
    return np.array([lookup[(float(a), float(b))] for a, b in corners], dtype=np.int64)


def delaunay_edges(lat, lon) -> np.ndarray:
    """Neighbouring pairs (i < j) of the Delaunay triangulation of the projected points.

    Used as the adjacency when no data/adjacency.csv is given: an approximation, since two
    accounts can be Delaunay neighbours across a lake or a state line.
    """
    from matplotlib.tri import Triangulation

    x, y = project(lat, lon)
    if len(x) < 3:
        return np.array([[0, 1]], dtype=np.int64) if len(x) == 2 else np.empty((0, 2), np.int64)
    # identical points break qhull: jitter them by a metre, deterministically
    jitter = np.random.default_rng(0).normal(0, 1e-3, (2, len(x)))
    tri = Triangulation(x + jitter[0], y + jitter[1])
    edges = np.sort(tri.edges, axis=1)
    return np.unique(edges, axis=0)
