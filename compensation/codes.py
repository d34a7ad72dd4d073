"""Ids as integer codes: each text hashed once, rows then matched and grouped as integers.

pandas hashes every cell of an object column in a merge, a groupby or an isin; a million
rows of a few thousand rep ids pay for a million string hashes each time. These helpers
turn id columns into codes once and give exactly what the pandas operation would.
"""

from __future__ import annotations

import ctypes

import numpy as np
import pandas as pd

SAMPLE = 2000  # rows looked at to tell a column of a few values from one of many


def sample_rows(rows: int) -> np.ndarray | None:
    """2,000 row positions picked at random (the same for every column of a frame) from over 1,000 rows, else None."""
    return np.unique(np.random.default_rng(0).integers(0, rows, SAMPLE)) if rows > 1000 else None


def shared_codes(*columns: np.ndarray) -> tuple[list[np.ndarray], np.ndarray]:
    """`pd.factorize` of several columns as one (each value hashed once): their codes (-1: missing) and the uniques."""
    codes, uniques = pd.factorize(np.concatenate([np.asarray(c, dtype=object) for c in columns]))
    bounds = np.cumsum([0] + [len(c) for c in columns])
    return [codes[a:b] for a, b in zip(bounds[:-1], bounds[1:], strict=True)], uniques


def combined_codes(*codes: np.ndarray) -> np.ndarray:
    """One int64 per row for several columns' codes (from -1): equal tuples, equal codes, in their order."""
    code = np.zeros(len(codes[0]), dtype=np.int64)
    for c in codes:
        size = int(c.max(initial=-1)) + 2
        if code.max(initial=0) >= 2**62 // size:  # keep the combined codes in int64 (and in order)
            code = pd.factorize(code, sort=True)[0].astype(np.int64)
        code = code * size + c + 1
    return code


def key_codes(*tables: list[np.ndarray]) -> list[np.ndarray]:
    """One int64 per row of each table over the same key columns: equal keys, equal codes.

    Missing values equal each other, as a pandas merge matches them. Each key is hashed
    once over all tables; rows are then matched as integers.
    """
    columns = [shared_codes(*key)[0] for key in zip(*tables, strict=True)]
    code = combined_codes(*[np.concatenate(c) for c in columns])
    bounds = np.cumsum([0] + [len(t[0]) for t in tables])
    return [code[a:b] for a, b in zip(bounds[:-1], bounds[1:], strict=True)]


def merge_pairs(left: np.ndarray, right: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(left, right) row positions an inner merge on integer keys pairs, in a merge's order.

    Each left row in turn, with its right rows in table order.
    """
    order = np.argsort(right, kind="stable")
    table = right[order]
    lo = np.searchsorted(table, left, side="left")
    counts = np.searchsorted(table, left, side="right") - lo
    at = np.repeat(np.arange(len(left)), counts)
    offsets = np.arange(len(at)) - np.repeat(np.cumsum(counts) - counts, counts)
    return at, order[np.repeat(lo, counts) + offsets]


def run_codes(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """`pd.factorize` of a column in long runs of one value, as component credits' `line` (a run per component).

    Only the first cell of each run is hashed: comparing neighbours costs a third of hashing every cell.
    """
    values = np.asarray(values, dtype=object)
    if not len(values):
        return pd.factorize(values)
    starts = np.flatnonzero(np.append(True, values[1:] != values[:-1]))
    codes, uniques = pd.factorize(values[starts])
    return np.repeat(codes, np.diff(np.append(starts, len(values)))), uniques


def positions_of(left: pd.DataFrame, right: pd.DataFrame, keys: list[str]) -> np.ndarray:
    """The row of `right` (keys unique there) with each `left` row's keys, -1 for none: a left merge's match.

    Found through one integer per row (`key_codes`: missing keys equal to missing): pandas
    merges on several object columns far more slowly.
    """
    left_code, right_code = key_codes([left[key].to_numpy() for key in keys], [right[key].to_numpy() for key in keys])
    return pd.Index(right_code).get_indexer(left_code)


def object_codes(values: np.ndarray, picks: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """`pd.factorize` of an object array, hashing each distinct object once rather than every row.

    A text column with few values usually holds a few Python objects, each repeated many
    times. Their addresses (what an object array stores) factorize as integers, several
    times faster than text; the objects found, in order of first appearance, are then
    factorized as values, so the codes and uniques are exactly pd.factorize's. When the
    sample hardly repeats an object (ids, or text made anew in each row), hashing their
    addresses saves nothing and the values are factorized directly.
    """
    values = np.ascontiguousarray(values, dtype=object)
    if picks is None:
        picks = sample_rows(len(values))
    if picks is None:  # a short column: hashing its text costs little
        return pd.factorize(values, use_na_sentinel=True)
    addresses = np.frombuffer((ctypes.c_void_p * len(values)).from_address(values.ctypes.data), dtype=np.intp)
    sampled = pd.unique(addresses[picks])
    if len(picks) - len(sampled) < len(picks) // 100:  # under 1% of the sample repeats an object
        return pd.factorize(values, use_na_sentinel=True)
    if len(sampled) == 1 and (addresses == sampled[0]).all():  # one object in every row (a blank column)
        codes, uniques = pd.factorize(values[:1], use_na_sentinel=True)
        return np.full(len(values), codes[0], dtype=np.int8), uniques
    by_address, objects = pd.factorize(addresses)
    # Codes count up as objects first appear, so the running maximum rises exactly at first
    # appearances, all of them by the last object's first row.
    end = np.argmax(by_address == len(objects) - 1) + 1
    first = np.searchsorted(np.maximum.accumulate(by_address[:end]), np.arange(len(objects)))
    codes, uniques = pd.factorize(values[first], use_na_sentinel=True)
    return codes.astype(np.min_scalar_type(-len(uniques) - 1))[by_address], uniques  # small codes: no copy later
