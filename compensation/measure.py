"""Rule 1's measure and rule 3: credited value per component, quotas and attainment.

`component_credits` turns credit lines into credited cents per component: the `where`
filter, the first matching multiplier, FX into the plan currency, then one rounding
to the cent per credit (rule 10). `period_totals` sums them per attainment period and
`quotas_for` finds the quota of each period (rows inside it, or a longer period's
quota split evenly).
"""

from __future__ import annotations

from collections.abc import Collection, Mapping

import numpy as np
import pandas as pd

from compensation.assignments import plan_values
from compensation.codes import key_codes, merge_pairs, object_codes
from compensation.coerce import frame_of
from compensation.errors import Problem
from compensation.money import checked_sum, product_cents
from compensation.periods import Calendar, month_name
from compensation.plan import Condition, Plan

ON_ORIGINAL = ("amount", "date")  # a cancellation is judged on its original's value of these (rule 2)


def where_mask(frame: pd.DataFrame, where: Mapping[str, tuple[str, ...] | Condition]) -> np.ndarray:
    """Every key must match; a tuple of values means one of. Unknown columns match nothing."""
    return where_at(frame, np.arange(len(frame)), where)


def _condition_in(values: np.ndarray, cond: Condition) -> np.ndarray:
    """Whether each value meets a `Condition`: text one of / none of, numeric bounds, a date window."""
    mask = np.ones(len(values), dtype=bool)
    if cond.one_of is not None:
        mask &= _text_in(values, cond.one_of)
    if cond.not_in:
        mask &= ~_text_in(values, cond.not_in)
    if cond.numeric:
        numbers = pd.to_numeric(pd.Series(values, dtype=object if values.dtype == object else None),
                                errors="coerce").to_numpy(dtype=float)
        for bound, test in ((cond.ge, np.greater_equal), (cond.gt, np.greater), (cond.le, np.less_equal),
                            (cond.lt, np.less)):
            if bound is not None:
                mask &= test(numbers, float(bound))  # NaN (not a number) fails every bound
    if cond.from_ is not None or cond.to is not None:
        when = pd.to_datetime(pd.Series(values), errors="coerce").to_numpy(dtype="datetime64[ns]")
        if cond.from_ is not None:
            mask &= when >= np.datetime64(cond.from_, "ns")
        if cond.to is not None:
            mask &= when <= np.datetime64(cond.to, "ns")  # NaT compares False
    return mask


# What `str` makes of a missing cell: a wanted value like these takes the general path.
_MISSING_TEXT = frozenset({"None", "nan", "NaN", "NaT", "<NA>"})


def _text_in(values: np.ndarray, wanted: Collection[str]) -> np.ndarray:
    """Whether each value's text (`str`, as `astype(str)` gives it) is one of `wanted`.

    Text columns compare each cell with the few wanted values; other object columns are
    judged once per distinct value, and missing cells (None, NaN) by their own text.
    """
    if values.dtype != object:
        return pd.Series(values).astype(str).isin(wanted).to_numpy()
    wanted = set(wanted)
    if (all(isinstance(w, str) for w in wanted) and not wanted & _MISSING_TEXT
            and pd.api.types.infer_dtype(values, skipna=True) in ("string", "empty")):
        # Text cells (str or missing): compare with each wanted value, no hashing of every cell.
        mask = np.zeros(len(values), dtype=bool)
        for w in wanted:
            mask |= values == w
        return mask
    codes, uniques = pd.factorize(values)
    return _codes_in(codes, uniques, values, np.arange(len(values)), wanted)


def _codes_in(codes: np.ndarray, uniques: np.ndarray, values: np.ndarray, at: np.ndarray,
              wanted: Collection[str]) -> np.ndarray:
    """`_text_in` of the cells `at` of `values`, given their `pd.factorize` codes and uniques."""
    wanted = set(wanted)
    hit = np.fromiter((str(u) in wanted for u in uniques), dtype=bool, count=len(uniques))
    mask = np.append(hit, False)[codes]  # code -1 (missing) takes the trailing False
    missing = np.flatnonzero(codes < 0)
    if missing.size:
        mask[missing] = pd.Series(values[at[missing]], dtype=object).astype(str).isin(wanted).to_numpy()
    return mask


def where_at(lines: pd.DataFrame, at: np.ndarray, where: Mapping[str, tuple[str, ...] | Condition],
             factorized: dict | None = None) -> np.ndarray:
    """`where_mask` of the rows `at` of `lines`, without copying the frame.

    A cancellation is tested with its original's values, its amount and date included, so
    a reversal meets the same filters as what it reverses. `factorized`, when given, keeps
    each text column's `pd.factorize` between calls: components filtering on the same
    column then judge its distinct values, not a million cells each.
    """
    mask = np.ones(len(at), dtype=bool)
    for column, wanted in where.items():
        if column not in lines.columns:
            return np.zeros(len(at), dtype=bool)
        if factorized is None or isinstance(wanted, Condition) or column in ON_ORIGINAL:
            values = original_values(lines, column, at)
            mask &= _condition_in(values, wanted) if isinstance(wanted, Condition) else _text_in(values, wanted)
            continue
        values = lines[column].to_numpy()
        if column not in factorized:
            factorized[column] = object_codes(values) if values.dtype == object else pd.factorize(values)
        codes, uniques = factorized[column]
        mask &= _codes_in(codes[at], uniques, values, at, wanted)
    return mask


def original_values(lines: pd.DataFrame, column: str, at: np.ndarray) -> np.ndarray:
    """Column values of rows `at`; for a cancellation its original's (`ON_ORIGINAL`: amount, date; rule 2)."""
    if column == "amount" and "orig_amount" in lines.columns:
        return lines["orig_amount"].to_numpy()[at]
    if column == "date" and "orig_date" in lines.columns and "is_cancel" in lines.columns:
        return np.where(lines["is_cancel"].to_numpy(dtype=bool)[at], lines["orig_date"].to_numpy()[at],
                        lines["date"].to_numpy()[at])
    return lines[column].to_numpy()[at]


def fx_factors(lines: pd.DataFrame, plan_currency: np.ndarray, fx: pd.DataFrame, base_currency: str,
               ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Numerator and denominator rates converting each line to its plan currency, and a missing mask.

    Converting X to plan currency Y uses rate(X) / rate(Y) of the line's month (base = 1).
    """
    if not len(lines):
        return np.ones(0), np.ones(0), np.zeros(0, dtype=bool)
    # Text of each (transaction currency, plan currency) pair, worked out once per pair of
    # the few currencies: pair k is transaction currency k // n - 1 (-1: none), plan k % n.
    txn_codes, txn_uniques = object_codes(lines["currency"].to_numpy(dtype=object))
    plan_currency = np.asarray(plan_currency, dtype=object)
    plan_codes, plan_uniques = object_codes(plan_currency)  # use_na_sentinel=False would scan for NaN apart
    if (plan_codes < 0).any():  # a plan without currency: its own code, as the first such value
        plan_uniques = np.append(np.asarray(plan_uniques, dtype=object), plan_currency[np.argmax(plan_codes < 0)])
        plan_codes = np.where(plan_codes < 0, len(plan_uniques) - 1, plan_codes)
    n = len(plan_uniques)
    pair_codes = (txn_codes.astype(np.int64) + 1) * n + plan_codes
    pair_plan = np.array([str(plan_uniques[k % n]) for k in range((len(txn_uniques) + 1) * n)], dtype=object)
    pair_txn = np.array([str(txn_uniques[k // n - 1]) if k >= n else pair_plan[k]
                         for k in range(len(pair_plan))], dtype=object)
    months = lines["month"].to_numpy()
    same = (pair_txn == pair_plan)[pair_codes]
    rates = {}
    if len(fx):
        fx_months = fx["period"].map(lambda p: int(p[:4]) * 12 + int(p[5:7]) - 1)
        rates = dict(zip(zip(fx_months, fx["currency"], strict=True), fx["rate"], strict=True))

    def lookup(ccy: np.ndarray, months: np.ndarray) -> np.ndarray:
        keys = pd.MultiIndex.from_arrays([months, ccy])
        found = pd.Series(rates, dtype=float).reindex(keys).to_numpy() if rates else np.full(len(ccy), np.nan)
        return np.where(ccy == base_currency, 1.0, found)

    num = np.ones(len(lines))
    den = np.ones(len(lines))
    todo = ~same
    if todo.any():
        codes = pair_codes[todo]
        num[todo] = lookup(pair_txn[codes].astype(str), months[todo])
        den[todo] = lookup(pair_plan[codes].astype(str), months[todo])
    missing = np.isnan(num) | np.isnan(den)
    return num, den, missing


# A credited value must stay below 10^15 currency units: its cents then fit exactly (SPEC).
CREDIT_LIMIT = 1e15


def component_credits(
    lines: pd.DataFrame, plans: Mapping[str, Plan], fx: pd.DataFrame, base_currency: str,
) -> tuple[pd.DataFrame, list[Problem]]:
    """Credited cents per (credit line, component): line_idx, rep_id, plan_id, line, multiplier, fx_rate, credited."""
    problems: list[Problem] = []
    # Plan ids hashed once: each plan's rows and currency then come from integer codes.
    plan_codes, plan_names = object_codes(lines["plan_id"].to_numpy(dtype=object))
    plan_currency = np.append(plan_values(plan_names, plans, lambda p: p.currency).to_numpy(dtype=object),
                              np.nan)[plan_codes]
    num, den, missing = fx_factors(lines, plan_currency, fx, base_currency)
    if missing.any():
        lacking = lines[missing].assign(plan_currency=plan_currency[missing])
        for row in lacking.drop_duplicates(["txn_id", "rep_id"]).itertuples():
            ccy = row.currency if isinstance(row.currency, str) else row.plan_currency
            need = ", ".join(c for c in dict.fromkeys((ccy, row.plan_currency)) if c != base_currency)
            problems.append(Problem.hold(
                "fx", f"no fx rate for {need} in {month_name(row.month)} to convert transaction {row.txn_id} "
                f"into {row.plan_currency}; add a row to fx (period {month_name(row.month)})",
                txn_id=row.txn_id, rep_id=row.rep_id))
    # Columns are taken per component as arrays: the wide lines frame is never copied.
    direct = pd.isna(lines["via_rep_id"].to_numpy(dtype=object))
    parts: list[dict] = []
    factorized: dict = {}
    code_of = {name: k for k, name in enumerate(plan_names)}
    for plan_id, plan in plans.items():
        if plan_id not in code_of:
            continue
        in_plan = (plan_codes == code_of[plan_id]) & ~missing
        if not in_plan.any():
            continue
        idx = np.flatnonzero(in_plan)
        for comp in plan.components:
            m = comp.measure
            sel = where_at(lines, idx, m.where, factorized)
            if m.credit == "direct":
                sel &= direct[idx]
            if comp.from_ is not None or comp.to is not None:  # the component's campaign dates
                sel &= _condition_in(original_values(lines, "date", idx), Condition(from_=comp.from_, to=comp.to))
            if not sel.any():
                continue
            rows = idx[sel]
            factor = np.ones(len(rows))
            if m.multipliers:
                conditions = [where_at(lines, rows, mult.where, factorized) for mult in m.multipliers]
                factor = np.select(conditions, [float(mult.factor) for mult in m.multipliers], default=1.0)
            raw = lines[m.value].to_numpy()[rows]
            value = (raw.astype(float) if raw.dtype.kind == "f" else
                     pd.to_numeric(pd.Series(raw), errors="coerce").fillna(0.0).to_numpy(dtype=float))
            value = np.where(np.isnan(value), 0.0, value)
            if m.value != "amount":
                # A cancellation reverses the original's value (it borrowed the original's columns).
                value = np.where(lines["is_cancel"].to_numpy()[rows], -np.abs(value), value)
            share = lines["share"].to_numpy(dtype=float)[rows]
            with np.errstate(all="ignore"):
                size = np.abs(value * share * factor * num[rows] / den[rows])
            too_big = ~np.isfinite(size) | (size > CREDIT_LIMIT * (1 + 1e-12))  # float of 999..999.99 is 1e15
            if too_big.any():  # refused as a row problem: never a rounded or wrapped figure
                for r in rows[too_big]:
                    problems.append(Problem.hold(
                        "transactions", f"transaction {lines['txn_id'].iat[r]} would credit {comp.id} with "
                        f"10^15 {plan_currency[r]} or more (amount x share x multiplier x fx rate); check its "
                        "amount and the fx rate", row=lines["row"].iat[r] if "row" in lines else None,
                        txn_id=lines["txn_id"].iat[r], rep_id=lines["rep_id"].iat[r]))
                keep = ~too_big
                rows, factor, value = rows[keep], factor[keep], value[keep]
            if m.value == "amount" and "amount_cents" in lines:
                # Exact cents from the data's text: a float cannot hold the cents of 10^13 and more.
                cents = lines["amount_cents"].to_numpy(dtype=np.int64)[rows]
                credited = product_cents(cents, lines["share"].to_numpy(dtype=float)[rows], factor, num[rows],
                                         divisor=den[rows] * 100)
            else:
                credited = product_cents(value, lines["share"].to_numpy(dtype=float)[rows], factor, num[rows],
                                         divisor=den[rows])
            part = {"line_idx": rows, "rep_id": lines["rep_id"].to_numpy()[rows], "plan_id": plan_id,
                    "line": comp.id, "month": lines["month"].to_numpy()[rows], "multiplier": factor,
                    "fx_rate": num[rows] / den[rows], "credited": credited}
            if comp.commission is not None and comp.commission.per == "transaction":
                part.update(transaction_bands(lines, rows, comp, value, factor, credited, fx,
                                              base_currency, plan_currency[rows], num[rows], den[rows]))
            parts.append(part)
    return _stacked(parts), problems


def _stacked(parts: list[dict]) -> pd.DataFrame:
    """Component credits' parts (arrays, with `plan_id` and `line` one value each) as one frame.

    Stacked column by column: a frame per part and their concat would fill a million
    cells of text per part and copy every column again. Parts with different columns
    (a component rated per transaction beside others) are concatenated as frames, which
    fills the columns some parts lack.
    """
    if not parts:
        return pd.DataFrame({c: pd.Series(dtype=t) for c, t in (
            ("line_idx", "int64"), ("rep_id", object), ("plan_id", object), ("line", object),
            ("month", "int64"), ("multiplier", float), ("fx_rate", float), ("credited", "int64"))})
    if any(part.keys() != parts[0].keys() for part in parts):
        return pd.concat([pd.DataFrame(part) for part in parts], ignore_index=True)
    sizes = [len(part["line_idx"]) for part in parts]
    columns = {}
    for name in parts[0]:
        if name in ("plan_id", "line"):
            columns[name] = np.repeat(np.array([part[name] for part in parts], dtype=object), sizes)
        else:
            columns[name] = np.concatenate([np.asarray(part[name]) for part in parts])
    return frame_of(columns)


def transaction_bands(lines, rows, comp, value, factor, credited, fx, base_currency, plan_currency, own_num,
                      own_den) -> dict:
    """What a per-transaction table needs of each credit: the band value and the original's share.

    `base` is the credited cents of the original (a cancellation's original, in its own
    month's FX, else its own month's), `band` the value choosing the band (`base` in currency, or the `band_by`
    column, the original's for a cancellation), and `portion_num / portion_den` the part of
    the original's earning this credit earns: 1, or the cancelled share of the amount,
    negative (a cancellation of a non-amount measure reverses the whole of it).
    """
    is_cancel = lines["is_cancel"].to_numpy(dtype=bool)[rows]
    base = np.asarray(credited, dtype=np.int64).copy()
    num = np.ones(len(rows))
    den = np.ones(len(rows))
    if is_cancel.any():
        at = rows[is_cancel]
        orig_value = (lines["orig_amount"].to_numpy(dtype=float)[at] if comp.measure.value == "amount"
                      else np.abs(value[is_cancel]))
        months = lines["orig_date"].to_numpy()[at].astype("datetime64[M]").astype(np.int64) + 1970 * 12
        orig = pd.DataFrame({"currency": lines["currency"].to_numpy()[at], "month": months})
        fx_num, fx_den, missing = fx_factors(orig, plan_currency[is_cancel], fx, base_currency)
        # Without a rate for the original's month, the cancellation's own month's rate is used.
        fx_num = np.where(missing, own_num[is_cancel], fx_num)
        fx_den = np.where(missing, own_den[is_cancel], fx_den)
        base[is_cancel] = product_cents(orig_value, lines["share"].to_numpy(dtype=float)[at], factor[is_cancel],
                                        fx_num, divisor=fx_den)
        if comp.measure.value == "amount":
            num[is_cancel] = lines["amount"].to_numpy(dtype=float)[at]
            den[is_cancel] = lines["orig_amount"].to_numpy(dtype=float)[at]
        else:
            num[is_cancel] = -1.0
    band_by = comp.commission.band_by
    if band_by is None:
        band = base / 100.0
    else:
        raw = original_values(lines, band_by, rows) if band_by in lines.columns else np.full(len(rows), np.nan)
        band = pd.to_numeric(pd.Series(raw, dtype=object), errors="coerce").to_numpy(dtype=float)
    return {"base": base, "band": band, "portion_num": num, "portion_den": den,
            "txn_share": lines["share"].to_numpy(dtype=float)[rows], "txn_id": lines["txn_id"].to_numpy()[rows]}


def period_names(calendar: Calendar, kind: str, months: np.ndarray) -> np.ndarray:
    """`calendar.periods_of`, named once per month of the range and then looked up."""
    months = np.asarray(months, dtype=np.int64)
    if not len(months) or int(months.max()) - int(months.min()) > 10_000:
        return calendar.periods_of(kind, months)
    first = int(months.min())
    return calendar.periods_of(kind, np.arange(first, int(months.max()) + 1))[months - first]


def period_totals(comp_credits: pd.DataFrame, kinds: Mapping[str, str], calendar: Calendar) -> pd.DataFrame:
    """Credited cents per (rep_id, line, attainment_period) for the period kind of each line.

    Groups appear in the order of their first credit (month lines, then quarter, then year
    lines), as a `groupby(sort=False)` gives them; keys are summed as integer codes.
    """
    columns = ["rep_id", "line", "attainment_period"]
    line_codes, line_names = pd.factorize(comp_credits["line"].to_numpy(dtype=object))
    rank_of_kind = {"month": 0, "quarter": 1, "year": 2}
    line_rank = np.array([rank_of_kind.get(kinds.get(name), -1) for name in line_names] + [-1], dtype=np.int64)
    rank = line_rank[line_codes]  # code -1 (missing) takes the trailing -1
    rep_codes, rep_names = pd.factorize(comp_credits["rep_id"].to_numpy(dtype=object))
    rank[rep_codes < 0] = -1
    order = np.concatenate([np.flatnonzero(rank == r) for r in range(3)])
    if not len(order):
        return pd.DataFrame({"rep_id": pd.Series(dtype=object), "line": pd.Series(dtype=object),
                             "attainment_period": pd.Series(dtype=object), "credited": pd.Series(dtype="int64")})
    months = comp_credits["month"].to_numpy(dtype=np.int64)[order]
    periods = np.empty(len(order), dtype=object)
    for kind, r in rank_of_kind.items():
        mask = rank[order] == r
        if mask.any():
            periods[mask] = period_names(calendar, kind, months[mask])
    period_codes, period_names_ = pd.factorize(periods)
    n_lines, n_periods = len(line_names), len(period_names_)
    keys = (rep_codes[order].astype(np.int64) * n_lines + line_codes[order]) * n_periods + period_codes
    groups, _ = pd.factorize(keys)
    credited = checked_sum(comp_credits["credited"].to_numpy(dtype=np.int64)[order], groups, groups.max() + 1)
    first = np.full(len(credited), len(groups), dtype=np.int64)
    np.minimum.at(first, groups, np.arange(len(groups)))
    at = order[first]
    return pd.DataFrame({
        "rep_id": rep_names[rep_codes[at]].astype(object), "line": line_names[line_codes[at]].astype(object),
        "attainment_period": periods[first], "credited": credited,
    }, columns=columns + ["credited"])


def quotas_for(requests: pd.DataFrame, quotas: pd.DataFrame, calendar: Calendar, share=None) -> np.ndarray:
    """Quota (float cents, NaN when none) of each request row (rep_id, quota_key, attainment_period).

    Rows of exactly that period win; else rows inside it (quarters before months); else
    the shortest longer period containing it, split evenly by months (annual / 4 a quarter).
    `share(rep_id, row_first, row_last, first, last)`, when given, is the `Fraction` of a
    quota row (its months) that the period (its months) takes: seasonal weights, proration.
    """
    out = np.full(len(requests), np.nan)
    if quotas.empty or requests.empty:
        return out
    q_first, q_last = _period_bounds(quotas["period"], calendar)
    r_first, r_last = _period_bounds(requests["attainment_period"], calendar)
    req, row = _quota_pairs(requests, quotas)
    if not len(req):
        return out
    first, last, first_q, last_q = r_first[req], r_last[req], q_first[row], q_last[row]
    months = last_q - first_q + 1
    cents = np.round(quotas["amount"].to_numpy(dtype=float) * 100)[row]
    exact = (first_q == first) & (last_q == last)
    inside = (first_q >= first) & (last_q <= last) & ~exact
    containing = (first_q <= first) & (last_q >= last) & ~exact
    # Preference: exact (0), inside with the coarsest granularity, then the shortest container.
    rank = np.select([exact, inside, containing], [0, 100 - months, 1000 + months], -1)
    value = np.where(containing, cents * (last - first + 1) / months, cents)
    kept = rank >= 0
    req, rank, value = req[kept], rank[kept], value[kept]
    if share is not None and len(req):
        # cents x num / den, as the even split does: the same fraction gives the same float.
        rep_ids = requests["rep_id"].to_numpy(dtype=object)[req]
        fractions = [share(*key) for key in zip(rep_ids, first_q[kept].tolist(), last_q[kept].tolist(),
                                                first[kept].tolist(), last[kept].tolist(), strict=True)]
        value = np.array([c * f.numerator / f.denominator if f is not None else np.nan
                          for c, f in zip(cents[kept].tolist(), fractions, strict=True)], dtype=float)
    if not len(req):
        return out
    # A request's pairs are consecutive: the best rank of each run of equal requests.
    starts = np.flatnonzero(np.append(True, req[1:] != req[:-1]))
    best = np.repeat(np.minimum.reduceat(rank, starts), np.diff(np.append(starts, len(req))))
    chosen = rank == best
    # Several rows of the same period (or granularity inside) add up; a container is unique.
    sums = pd.Series(value[chosen]).groupby(req[chosen]).sum()
    out[sums.index.to_numpy()] = sums.to_numpy()
    return out


def _period_bounds(periods: pd.Series, calendar: Calendar) -> tuple[np.ndarray, np.ndarray]:
    """First and last month index of each period name, worked out once per distinct name."""
    values = periods.to_numpy(dtype=object)
    codes, names = pd.factorize(values)
    if (codes < 0).any():  # a missing name fails where `calendar.bounds` meets it (scanning for one apart is slow)
        codes, names = pd.factorize(values, use_na_sentinel=False)
    bounds = np.array([calendar.bounds(p) for p in names], dtype=np.int64).reshape(-1, 2)
    return bounds[codes, 0], bounds[codes, 1]


def _quota_pairs(requests: pd.DataFrame, quotas: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """(request, quota row) positions an inner merge on rep_id and quota_key pairs, in its order.

    Keys matched as integers: a merge on two text columns costs several times more.
    """
    left, right = key_codes([requests["rep_id"].to_numpy(), requests["quota_key"].to_numpy()],
                            [quotas["rep_id"].to_numpy(), quotas["component"].to_numpy()])
    return merge_pairs(left, right)
