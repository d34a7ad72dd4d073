"""Attainment assumptions: each rep's yearly level per component, and how quarters vary.

A draw gives every rep, for every component, a yearly attainment level (normal,
lognormal, quantiles, or the empirical distribution of the role's history), with the
rep's components correlated through a Gaussian copula. The level is spread over the
component's sub-periods (quarters or months) by lognormal noise of `period_spread`,
rescaled so the year's credited total is exactly level x yearly quota: a yearly
commission sees the level, a quarterly kicker or curve sees the quarters.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from statistics import NormalDist

import numpy as np
import pandas as pd

from compensation.errors import IcmError, Located
from modelling.history import History
from modelling.scenario import Assumption, Attainment, Scenario

DEFAULT_PERIOD_SPREAD = 0.25
QUOTA_FREE_SPREAD = 0.2


@dataclass(frozen=True)
class Marginal:
    """One component's yearly attainment level, as a function of a standard normal score."""

    kind: str  # normal | lognormal | quantiles | empirical
    mean: float = 1.0
    spread: float = 0.0
    scores: tuple[float, ...] = ()  # quantiles / empirical: normal scores of the levels
    values: tuple[float, ...] = ()
    source: str = ""

    def at(self, z: np.ndarray) -> np.ndarray:
        """Attainment at normal scores `z` (never below 0)."""
        if self.kind == "normal":
            out = self.mean + self.spread * z
        elif self.kind == "lognormal":
            sigma2 = np.log1p((self.spread / self.mean) ** 2)
            out = np.exp(np.log(self.mean) - sigma2 / 2 + np.sqrt(sigma2) * z)
        else:
            xs, ys = np.array(self.scores), np.array(self.values)
            out = np.interp(z, xs, ys)
            if self.kind == "quantiles":  # the end slopes continue beyond the outer quantiles
                lo = (ys[1] - ys[0]) / (xs[1] - xs[0])
                hi = (ys[-1] - ys[-2]) / (xs[-1] - xs[-2])
                out = np.where(z < xs[0], ys[0] + (z - xs[0]) * lo, out)
                out = np.where(z > xs[-1], ys[-1] + (z - xs[-1]) * hi, out)
        return np.maximum(out, 0.0)

    def describe(self) -> str:
        if self.kind in ("normal", "lognormal"):
            return f"{self.kind}, mean {self.mean:.1%}, spread {self.spread:.1%}{self.source}"
        return f"{self.kind} ({len(self.values)} points){self.source}"


@dataclass(frozen=True)
class Assumptions:
    """What a candidate's draws are made of."""

    components: tuple[str, ...]
    marginals: dict[str, Marginal]
    correlation: np.ndarray
    period_spread: float
    notes: tuple[str, ...] = field(default=())

    def draw_levels(self, rng: np.random.Generator, draws: int, reps: int) -> dict[str, np.ndarray]:
        """(draws, reps) yearly levels per component, correlated within each rep."""
        chol = np.linalg.cholesky(self.correlation)
        z = chol @ rng.standard_normal((len(self.components), draws * reps))
        return {c: self.marginals[c].at(z[k]).reshape(draws, reps) for k, c in enumerate(self.components)}

    def shares(self, rng: np.random.Generator, quotas: np.ndarray, draws: int) -> np.ndarray:
        """(draws, reps, K) multipliers of each sub-period's quota; sum(quota x m) = sum(quota)."""
        reps, k = quotas.shape
        if k == 1 or self.period_spread == 0:
            return np.ones((1, reps, k))
        s = np.float32(self.period_spread)
        m = rng.standard_normal((draws, reps, k), dtype=np.float32)
        m *= s
        m -= s * s / 2
        np.exp(m, out=m)
        q = np.nan_to_num(quotas).astype(np.float32)
        total = q.sum(axis=1)
        weighted = np.einsum("drk,rk->dr", m, q)
        scale = np.divide(total, weighted, out=np.ones((draws, reps), dtype=np.float32), where=weighted > 0)
        m *= scale[..., None]
        return m


def assumptions_for(scenario: Scenario, role: str, components: list[str], history: History | None,
                    line_key: tuple = ("attainment",), quota_free: frozenset[str] = frozenset()) -> Assumptions:
    """The candidate's assumptions: given per component, else fitted to the role's history.

    A component paid without a quota (`quota_free`) is drawn around each rep's credit in the
    history year (its baseline, see `population`): lognormal, mean 100%, spread `QUOTA_FREE_SPREAD`.
    """
    spec: Attainment = scenario.spec.attainment
    marginals, notes, missing = {}, [], []
    fitted = history.levels(role) if history is not None and spec.fit else pd.DataFrame()
    for comp in components:
        given = spec.components.get(comp)
        if given is not None:
            marginals[comp] = given_marginal(given)
        elif comp in fitted.columns and fitted[comp].notna().sum() >= 2:
            marginals[comp] = fitted_marginal(spec.fit, fitted[comp].dropna().to_numpy(), role, comp, history.year)
        elif comp in quota_free:
            marginals[comp] = Marginal("lognormal", 1.0, QUOTA_FREE_SPREAD,
                                       source=" (no quota: around last year's credit)")
        else:
            missing.append(comp)
    if missing:
        why = ("the ledger has no closed periods of these components for this role" if spec.fit
               else "no fit is asked for")
        raise IcmError(Located(
            f"no attainment assumption for {role} component(s) {', '.join(missing)} ({why}); add e.g. "
            f"components: {{{missing[0]}: {{mean: 100%, spread: 20%}}}} under attainment",
            scenario.source, scenario.line_of(*line_key)))
    corr = correlation(spec, components, fitted)
    spread = spec.period_spread
    if spread is None:
        fit_spread = history.period_spread(role) if history is not None else None
        spread = fit_spread if fit_spread is not None else DEFAULT_PERIOD_SPREAD
        notes.append(f"period spread {spread:.1%} ({'fitted' if fit_spread is not None else 'default'})")
    return Assumptions(tuple(components), marginals, corr, float(spread), tuple(notes))


def given_marginal(given: Assumption) -> Marginal:
    """A scenario's assumption as a marginal: normal, lognormal, or quantiles on normal scores."""
    if given.quantiles is not None:
        points = given.quantile_points
        return Marginal("quantiles", scores=tuple(NormalDist().inv_cdf(p) for p, _ in points),
                        values=tuple(v for _, v in points), source=" (given)")
    return Marginal(given.distribution, float(given.mean), float(given.spread), source=" (given)")


def fitted_marginal(how: str, sample: np.ndarray, role: str, comp: str, year: int) -> Marginal:
    """Empirical (interpolated between the reps' levels) or lognormal with their mean and spread."""
    where = f" (fitted to {len(sample)} {role} reps, {year})"
    if how == "lognormal":
        positive = np.maximum(sample, 0.01)
        return Marginal("lognormal", float(positive.mean()), float(positive.std(ddof=1)), source=where)
    ordered = np.sort(sample)
    n = len(ordered)
    scores = tuple(NormalDist().inv_cdf((i + 0.5) / n) for i in range(n))
    return Marginal("empirical", scores=scores, values=tuple(float(v) for v in ordered), source=where)


def correlation(spec: Attainment, components: list[str], fitted: pd.DataFrame) -> np.ndarray:
    """Given: the same correlation between every two components. Fitted: of the reps' log levels."""
    n = len(components)
    rho = spec.correlation
    if rho == "fit" or (rho is None and spec.fit):
        cols = [c for c in components if c in fitted.columns]
        matrix = np.eye(n)
        both = np.log(np.maximum(fitted[cols].dropna(), 0.01)) if cols else pd.DataFrame()
        if len(cols) > 1 and len(both) >= 3:
            found = np.nan_to_num(np.corrcoef(both.to_numpy().T))
            idx = [components.index(c) for c in cols]
            matrix[np.ix_(idx, idx)] = found
        return nearest_correlation(matrix)
    rho = float(rho or 0.0)
    return (1 - rho) * np.eye(n) + rho * np.ones((n, n))


def nearest_correlation(matrix: np.ndarray) -> np.ndarray:
    """Eigenvalues clipped a little above 0, unit diagonal: a matrix Cholesky accepts."""
    vals, vecs = np.linalg.eigh((matrix + matrix.T) / 2)
    fixed = vecs @ np.diag(np.maximum(vals, 1e-6)) @ vecs.T
    d = np.sqrt(np.diag(fixed))
    return fixed / np.outer(d, d)
