"""Rate tables applied transaction by transaction (`commission: {per: transaction}`).

Oracle's "processed individually": each credited transaction is rated on its own, by its
own size, not by the period's total. The band is chosen by the transaction's credited
value (after share, multiplier and FX) or by the `band_by` column. A table of rates pays
the band's rate on the credited value (step) or each part of the value in a band at that
band's rate (split); a table of fixed amounts pays the band's amount (step) or each band's
amount prorated by the share of the band covered (split), times the rep's share. Each
transaction's earning is exact; the period's sum is rounded once. A cancellation earns
minus its original's earning, times the share of the original's amount it cancels.
"""

from __future__ import annotations

from decimal import Decimal

import numpy as np
import pandas as pd

from compensation.money import _EXACT, round_exact, to_decimal
from compensation.plan import Commission
from compensation.tiers import amount_table, band_index, marginal_slices


def transaction_earning(base: int, band: float, share: float, portion_num: float, portion_den: float,
                        rule: Commission) -> Decimal:
    """Exact cents one credit earns: its original's earning times the portion it stands for."""
    position = to_decimal(band)
    if rule.pays_amounts:
        earned = amount_table(position, rule) * 100 * to_decimal(share)
    else:
        froms = [t.from_ for t in rule.tiers]
        base_d = Decimal(int(base))
        if rule.method == "retroactive":
            earned = _EXACT.multiply(base_d, rule.tiers[band_index(position, froms)].rate)
        else:
            parts = marginal_slices(position, froms, rule.tiers[-1].to)
            rated = sum((_EXACT.multiply(part, t.rate) for part, t in zip(parts, rule.tiers, strict=True)),
                        Decimal(0))
            if rule.band_by is None:  # the band value is the credited value itself
                earned = rated * 100
            else:  # the value is shared out over the bands as the band_by value is
                earned = _EXACT.divide(_EXACT.multiply(base_d, rated), position) if position > 0 else (
                    _EXACT.multiply(base_d, rule.tiers[0].rate))
    if portion_num != 1 or portion_den != 1:
        earned = _EXACT.divide(_EXACT.multiply(earned, to_decimal(portion_num)), to_decimal(portion_den))
    return earned


def transaction_earnings(credits: pd.DataFrame, rule: Commission) -> np.ndarray:
    """Float cents each credit row earns (vectorised; `transaction_earning` is the exact value).

    `credits` has base, band, txn_share, portion_num and portion_den (see `measure.transaction_bands`).
    """
    base = credits["base"].to_numpy(dtype=float)
    band = np.nan_to_num(credits["band"].to_numpy(dtype=float), nan=0.0)
    share = credits["txn_share"].to_numpy(dtype=float)
    portion = credits["portion_num"].to_numpy(dtype=float) / credits["portion_den"].to_numpy(dtype=float)
    froms = np.array([float(t.from_) for t in rule.tiers])
    top = float(rule.tiers[-1].to) if rule.tiers[-1].to is not None else np.inf
    idx = np.clip(np.searchsorted(froms, band, side="right") - 1, 0, None)
    uppers = np.append(froms[1:], top)
    parts = np.clip(band[:, None], froms, uppers) - froms
    parts[:, 0] = np.minimum(band, uppers[0])
    if rule.pays_amounts:
        amounts = np.array([float(t.amount) for t in rule.tiers]) * 100.0
        if rule.method == "retroactive":
            earned = amounts[idx]
        else:
            earned = (parts * amounts / (uppers - froms)).sum(axis=1)
        earned = np.where(band > 0, earned * share, 0.0)
    else:
        rates = np.array([float(t.rate) for t in rule.tiers])
        if rule.method == "retroactive":
            earned = base * rates[idx]
        elif rule.band_by is None:
            earned = (parts * rates).sum(axis=1) * 100.0
        else:
            blended = np.divide((parts * rates).sum(axis=1), band, out=np.full(len(band), rates[0]), where=band > 0)
            earned = base * blended
    return earned * portion


def transaction_sums(rows: pd.DataFrame, credits: pd.DataFrame, rule: Commission) -> np.ndarray:
    """Earned-to-date cents of each (rep_id, attainment_period) row: its credits' exact sum, rounded once.

    `credits` are the component's credit rows with their `attainment_period`.
    """
    keys = pd.MultiIndex.from_frame(rows[["rep_id", "attainment_period"]])
    owner = keys.get_indexer(pd.MultiIndex.from_frame(credits[["rep_id", "attainment_period"]]))
    mine = credits[owner >= 0]
    owner = owner[owner >= 0]
    approx = np.zeros(len(rows))
    np.add.at(approx, owner, transaction_earnings(mine, rule))
    by_row = pd.Series(np.arange(len(owner))).groupby(owner).indices if len(owner) else {}
    columns = [mine[c].to_numpy() for c in ("base", "band", "txn_share", "portion_num", "portion_den")]

    def exact(i: int) -> Decimal:
        return sum((transaction_earning(*(c[j] for c in columns), rule) for j in by_row.get(i, ())), Decimal(0))

    return round_exact(approx, exact)
