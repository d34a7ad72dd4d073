"""SVG charts on a statement: where a rep stands on the tiers or on the payout curve.

Only figures for the template (positions, labels); the curve is sampled with the
engine's own `compensation.curves.curve_value`, so a chart can never disagree with the
payout. Labels are placed from an estimate of their width (SVG `text-anchor` makes
WeasyPrint paint each label in its own transparency group, which bloats every PDF), and
a label that would overprint its neighbour is left out: the sentences and tables under
the chart say every figure anyway.
"""

from __future__ import annotations

import numpy as np

from compensation.curves import curve_value
from compensation.plan import Component
from reports.i18n import Formatter

TIER_FILLS = ("#dbe4ef", "#c3d3e6", "#a9c0dc", "#8eabd0", "#7597c4")


def text_width(text: str, size: float) -> float:
    """Approximate advance of `text` in the statement font (DejaVu Sans: ~0.6 em, digits 0.64)."""
    return len(text) * size * 0.64


def spaced(labels: list[dict], x_key: str, width_of, gap: float = 4.0) -> list[dict]:
    """`labels` (sorted by x) without those that would overprint the previous one kept."""
    kept: list[dict] = []
    right = -1e9
    for label in labels:
        if label[x_key] >= right + gap:
            kept.append(label)
            right = label[x_key] + width_of(label)
    return kept


def tier_chart(component: Component, fmt: Formatter, credited, quota, attainment) -> dict | None:
    """Tier bands with the rep's position marked (attainment, or credited with `basis: amount`)."""
    tiers = component.commission.tiers
    by_amount = component.commission.basis == "amount"
    if by_amount:
        position = float(credited or 0) / 100
    elif attainment is None:
        return None
    else:
        position = float(attainment)
    starts = [float(t.from_) for t in tiers]
    top = max(starts[-1] * 1.25 if starts[-1] > 0 else 1.0, position * 1.08, 0.0 if by_amount else 1.2)
    x0, width = 4.0, 620.0
    scale = width / top
    bands, ticks = [], []
    for i, tier in enumerate(tiers):
        start = starts[i]
        end = starts[i + 1] if i + 1 < len(tiers) else top
        x = round(x0 + start * scale, 1)
        w = round((end - start) * scale, 1)
        label = fmt.rate(tier.rate)
        bands.append({"x": x, "w": w, "fill": TIER_FILLS[i % len(TIER_FILLS)],
                      "label": label if text_width(label, 8.5) + 6 <= w else ""})
        tick = fmt.amount(tier.from_) if by_amount else fmt.percent(start, 0)
        ticks.append({"x": x, "label": tick,
                      "tx": x if i == 0 else round(x - text_width(tick, 8) / 2, 1)})
    ticks = spaced(ticks, "tx", lambda t: text_width(t["label"], 8))
    marker = x0 + min(max(position, 0.0), top) * scale
    label = fmt.money(credited) if by_amount else fmt.percent(position)
    return {"kind": "tiers", "width": 640, "height": 54, "x0": x0, "bands": bands, "ticks": ticks,
            "quota_x": None if by_amount else round(x0 + scale, 1),
            "fill_w": round(max(marker - x0, 0.0), 1), "marker_x": round(marker, 1),
            "marker_label": label, "marker_label_x": _beside(marker, label, 8.5, 640)}


def curve_chart(component: Component, fmt: Formatter, attainment) -> dict | None:
    """The payout curve with the rep's attainment and payout marked."""
    if attainment is None:
        return None
    curve = component.payout_curve
    xs = [float(p[0]) for p in curve.points]
    top_x = max(xs[-1] * 1.15, float(attainment) * 1.08)
    sample = sorted(set(xs + [top_x] + ([float(curve.cap)] if curve.cap is not None else [])))
    if curve.cap is not None:  # where the capped line flattens
        slope = (float(curve.points[-1][1]) - float(curve.points[-2][1])) / (xs[-1] - xs[-2])
        if slope > 0 and float(curve.cap) > float(curve.points[-1][1]):
            sample.append(xs[-1] + (float(curve.cap) - float(curve.points[-1][1])) / slope)
    sample = sorted(x for x in set(sample) if 0 <= x <= top_x)
    ys = curve_value(np.array(sample), curve).tolist()
    here = float(curve_value(np.array([float(attainment)]), curve)[0])
    top_y = max(max(ys), here, 1.0) * 1.1
    x0, x1, y0, y1 = 40.0, 630.0, 100.0, 12.0

    def px(x):
        return round(x0 + (x1 - x0) * x / top_x, 1)

    def py(y):
        return round(y0 - (y0 - y1) * y / top_y, 1)

    grid = [{"y": py(v), "label": label, "x": round(x0 - 4 - text_width(label, 7.5), 1)}
            for v in sorted({0.0, 1.0, max(ys)}) for label in [fmt.percent(v, 0)]]
    grid = list(reversed(spaced(list(reversed(grid)), "y", lambda g: 8.0, gap=1.0)))
    ticks = [{"x": px(x), "label": label, "tx": round(px(x) - text_width(label, 7.5) / 2, 1)}
             for x in xs for label in [fmt.percent(x, 0)]]
    label = f"{fmt.percent(attainment)} → {fmt.percent(here)}"
    mx, my = px(min(float(attainment), top_x)), py(here)
    return {
        "kind": "curve", "width": 640, "height": 118, "x0": x0, "x1": x1, "y0": y0,
        "points": " ".join(f"{px(x)},{py(y)}" for x, y in zip(sample, ys, strict=True)),
        "grid": grid, "ticks": spaced(ticks, "tx", lambda t: text_width(t["label"], 7.5)),
        "marker_x": mx, "marker_y": my, "marker_label": label,
        "marker_label_x": _beside(mx, label, 8.5, 640), "marker_label_y": max(my - 5, 9.0),
    }


def _beside(x: float, label: str, size: float, width: float) -> float:
    """The x of a marker's label: right of the marker, or left of it when it would run off the chart."""
    w = text_width(label, size)
    return round(x + 7 if x + 7 + w <= width - 2 else max(x - 7 - w, 0.0), 1)
