"""`calibrate`: fit one chip's software efficiency to a user's measured runs.

The fitted parameters are the four named fractions of `hardware.SoftwareEfficiency` (GEMM, attention,
memory bandwidth, collective) of one accelerator and software stack; nothing else moves (the shared
`Calibration` constants stay as shipped). Objective: the sum of squared log errors of tokens/s/GPU,
`sum_i rho(log(predicted_i / measured_i)) + sum_p (PRIOR_WEIGHT log(f_p / catalog_p))^2`, rho the
soft-L1 (pseudo-Huber) loss of scale `SOFT_L1` (least squares for small errors, robust to outlying runs),
plus a weak pull to the catalog value, minimised over the log of each fraction inside its bounds
(`BOUNDS`) by a projected Levenberg-Marquardt iteration with forward-difference Jacobians (numpy only).
A parameter the runs do not exercise (its Jacobian column is ~0, e.g. `collective` when every run sits in
one node with no communication on the critical path) is kept at the catalog value and reported as such.

Reported: in-sample and leave-one-out error before (catalog fractions) and after the fit, and each
parameter's leave-one-out spread (min, max and standard deviation over the n refits without one run).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from wanka.errors import ConfigError, WankaError
from wanka.hardware import Accelerator, SoftwareEfficiency
from wanka.perf.predict import evaluate_run

__all__ = ["BOUNDS", "MIN_RUNS", "PARAMETERS", "apply_fractions", "calibrate_runs", "usable_runs"]

PARAMETERS = ("gemm", "attention", "memory_bw", "collective")
BOUNDS = {
    "gemm": (0.05, 1.0),
    "attention": (0.03, 1.0),
    "memory_bw": (0.1, 1.0),
    "collective": (0.1, 1.0),
}
"""Fractions of the spec-sheet peak: a sustained training kernel cannot beat the peak, and below these
floors the run would not be a tuned training stack."""
MIN_RUNS = 3
_STEP = 0.02  # forward-difference step in log space
SOFT_L1 = 0.1
"""Scale of the soft-L1 (pseudo-Huber) loss on each log error: quadratic below ~10%, linear above, so
one run the model cannot represent (an unmodelled kernel, a mis-stated layout) does not drag the fit."""
PRIOR_WEIGHT = 0.1
"""Weight of the pull toward the catalog value, per parameter, in log units: a fraction e times off the
catalog costs as much as one run mis-predicted by 10%. It keeps directions the runs barely constrain
(e.g. attention when every run has the same sequence length) at the catalog value instead of a bound."""
_FREEZE = 1e-3  # a Jacobian column below this share of the largest is "not exercised"


def usable_runs(runs: Sequence[Any], accelerator: str | None) -> tuple[list[Any], str]:
    """The runs to fit and the accelerator id; one-line ConfigErrors for the bad inputs.

    Runs that failed to parse, runs without `measured.tokens_per_s_per_gpu`, runs on several chips
    without `accelerator`, and fewer than `MIN_RUNS` usable runs are errors.
    """
    for r in runs:
        if not hasattr(r, "model"):
            raise ConfigError(f"run {r.id or '?'} cannot be read: {r.error}")
    missing = [r.id or "?" for r in runs if "tokens_per_s_per_gpu" not in (r.measured or {})]
    if missing:
        raise ConfigError(
            f"{len(missing)} run(s) have no measured.tokens_per_s_per_gpu (first: {missing[0]}); "
            "calibrate needs the measured throughput of every run"
        )
    chips = sorted({r.hardware.accelerator.id for r in runs})
    if accelerator is None:
        if len(chips) > 1:
            raise ConfigError(
                f"the runs are on several accelerators ({', '.join(chips)}); pick one with --accelerator"
            )
        accelerator = chips[0] if chips else None
    use = [r for r in runs if r.hardware.accelerator.id == accelerator]
    if len(use) < MIN_RUNS:
        raise ConfigError(
            f"calibrate needs at least {MIN_RUNS} measured runs on {accelerator or 'one accelerator'}, "
            f"got {len(use)}"
        )
    return use, str(accelerator)


def apply_fractions(acc: Accelerator, fr: dict[str, float], source: str) -> Accelerator:
    """The accelerator with these software-efficiency fractions (others kept)."""
    se = acc.software_efficiency
    new = SoftwareEfficiency(
        **{p: float(fr.get(p, getattr(se, p))) for p in PARAMETERS}, source=source
    )
    return dataclasses.replace(acc, software_efficiency=new)


def _predictor(runs: Sequence[Any], acc: Accelerator) -> Callable[[dict[str, float]], np.ndarray]:
    def pred(fr: dict[str, float]) -> np.ndarray:
        a = apply_fractions(acc, fr, "calibrate (trial)")
        out = [float(evaluate_run(r, accelerator=a).tokens_per_s_per_gpu[0]) for r in runs]
        return np.array(out)

    return pred


def _fit(
    pred: Callable[[dict[str, float]], np.ndarray],
    meas: np.ndarray,
    start: dict[str, float],
    free: Sequence[str],
    prior: dict[str, float],
    iters: int = 30,
) -> dict[str, float]:
    """Projected Levenberg-Marquardt on log fractions; returns the fitted fractions."""
    lo = np.log([BOUNDS[p][0] for p in free])
    hi = np.log([BOUNDS[p][1] for p in free])
    x = np.clip(np.log([start[p] for p in free]), lo, hi)

    x0 = np.log([prior[p] for p in free])

    def res(xv: np.ndarray) -> np.ndarray:
        fr = dict(start, **{p: float(math.exp(v)) for p, v in zip(free, xv)})
        r = np.log(pred(fr) / meas)
        r = np.where(np.isfinite(r), r, 10.0)
        soft = np.sign(r) * np.sqrt(2 * SOFT_L1**2 * (np.sqrt(1 + (r / SOFT_L1) ** 2) - 1))
        return np.concatenate([soft, PRIOR_WEIGHT * (xv - x0)])

    r = res(x)
    lam = 1e-2
    for _ in range(iters):
        jac = np.empty((len(r), len(x)))
        for j in range(len(x)):
            xj = x.copy()
            step = _STEP if xj[j] + _STEP <= hi[j] else -_STEP
            xj[j] += step
            jac[:, j] = (res(xj) - r) / step
        g = jac.T @ r
        h = jac.T @ jac
        improved = False
        for _ in range(6):
            dx = np.linalg.solve(h + lam * np.diag(np.diag(h) + 1e-9), -g)
            xn = np.clip(x + dx, lo, hi)
            rn = res(xn)
            if rn @ rn < r @ r - 1e-12:
                x, r, lam, improved = xn, rn, max(lam / 3, 1e-6), True
                break
            lam *= 4
        if not improved or np.max(np.abs(dx)) < 1e-4:
            break
    return dict(start, **{p: float(math.exp(v)) for p, v in zip(free, x)})


def _exercised(
    pred: Callable[[dict[str, float]], np.ndarray], start: dict[str, float]
) -> list[str]:
    """Parameters whose change moves at least one run's prediction (others cannot be fitted)."""
    base = np.log(pred(start))
    col = {}
    for p in PARAMETERS:
        y = np.log(pred(dict(start, **{p: start[p] * math.exp(-5 * _STEP)})))
        col[p] = float(np.max(np.abs(y - base)))
    top = max(col.values()) or 1.0
    return [p for p in PARAMETERS if col[p] > _FREEZE * top]


def _errors(pred: np.ndarray, meas: np.ndarray) -> dict[str, float]:
    e = np.abs(pred / meas - 1.0)
    return {
        "median_abs": float(np.median(e)),
        "p90_abs": float(np.sort(e)[round(0.9 * (len(e) - 1))]),
        "max_abs": float(np.max(e)),
    }


def calibrate_runs(runs: Sequence[Any], *, accelerator: str | None = None) -> dict[str, Any]:
    """Fit the software efficiency of one accelerator to measured runs (see the module docstring).

    Returns `{"accelerator", "runs", "parameters": {name: {"catalog", "fitted", "fitted_free",
    "loo_min", "loo_max", "loo_std"}}, "in_sample": {"before", "after"}, "leave_one_out": {"before",
    "after"}, "cases": [...]}` (errors as median/p90/max of |predicted/measured - 1|).
    """
    use, acc_id = usable_runs(runs, accelerator)
    acc = use[0].hardware.accelerator
    meas = np.array([float(r.measured["tokens_per_s_per_gpu"]) for r in use])
    start = {p: float(getattr(acc.software_efficiency, p)) for p in PARAMETERS}
    pred = _predictor(use, acc)
    try:
        before = pred(start)
    except WankaError as e:
        raise ConfigError(f"a run cannot be predicted: {e}") from None
    free = _exercised(pred, start)
    fit = _fit(pred, meas, start, free, start)
    after = pred(fit)
    loo_pred, loo_fits = np.empty(len(use)), []
    for i in range(len(use)):
        keep = [j for j in range(len(use)) if j != i]
        sub = _predictor([use[j] for j in keep], acc)
        fi = _fit(sub, meas[keep], fit, free, start, iters=8)
        loo_fits.append(fi)
        loo_pred[i] = _predictor([use[i]], acc)(fi)[0]
    params = {}
    for p in PARAMETERS:
        vals = np.array([f[p] for f in loo_fits])
        params[p] = {
            "catalog": start[p],
            "fitted": fit[p],
            "free": p in free,
            "loo_min": float(vals.min()),
            "loo_max": float(vals.max()),
            "loo_std": float(vals.std()),
        }
    return {
        "accelerator": acc_id,
        "runs": len(use),
        "objective": "soft-L1 (pseudo-Huber, scale 0.1) of log(predicted / measured) of tokens/s/GPU",
        "parameters": params,
        "in_sample": {"before": _errors(before, meas), "after": _errors(after, meas)},
        "leave_one_out": {"before": _errors(before, meas), "after": _errors(loo_pred, meas)},
        "cases": [
            {
                "id": r.id,
                "measured_tokens_per_s_per_gpu": float(m),
                "catalog_rel_error": float(b / m - 1),
                "fitted_rel_error": float(a / m - 1),
                "loo_rel_error": float(lo / m - 1),
            }
            for r, m, b, a, lo in zip(use, meas, before, after, loo_pred)
        ],
    }


def fit_fractions(runs: Sequence[Any], acc: Accelerator, *, iters: int = 12) -> dict[str, float]:
    """The fitted software-efficiency fractions of `acc` on `runs` (no leave-one-out)."""
    meas = np.array([float(r.measured["tokens_per_s_per_gpu"]) for r in runs])
    start = {p: float(getattr(acc.software_efficiency, p)) for p in PARAMETERS}
    pred = _predictor(runs, acc)
    return _fit(pred, meas, start, _exercised(pred, start), start, iters=iters)


def leave_one_source_out(
    runs: Sequence[Any], family_of: Callable[[Any], str], *, min_runs: int = MIN_RUNS
) -> dict[str, Any]:
    """Fit without a source, predict it: for each source family and chip, the chip's software efficiency
    is refitted (`fit_fractions`) on the other sources' runs of that chip and the family's runs are
    predicted with it. A chip no other source measured cannot be refitted: those runs are reported apart
    (`no_other_source`), at the shipped fractions. The shared `Calibration` constants stay as shipped.

    Returns `{family: {"n", "median_abs", "p90_abs", "refitted", "no_other_source"}, "all": {...}}`.
    """
    ok = [r for r in runs if hasattr(r, "model") and "tokens_per_s_per_gpu" in (r.measured or {})]
    fams = sorted({family_of(r) for r in ok})
    out: dict[str, Any] = {}
    every: list[float] = []
    for fam in fams:
        errs, refit, alone = [], 0, 0
        mine = [r for r in ok if family_of(r) == fam]
        for chip in sorted({r.hardware.accelerator.id for r in mine}):
            tgt = [r for r in mine if r.hardware.accelerator.id == chip]
            other = [r for r in ok if family_of(r) != fam and r.hardware.accelerator.id == chip]
            acc = tgt[0].hardware.accelerator
            if len(other) >= min_runs:
                try:
                    fr = fit_fractions(other, acc)
                except WankaError:
                    continue
                acc = apply_fractions(acc, fr, f"refit without {fam}")
                refit += len(tgt)
            else:
                alone += len(tgt)
            for r in tgt:
                try:
                    p = float(evaluate_run(r, accelerator=acc).tokens_per_s_per_gpu[0])
                except WankaError:
                    continue
                if math.isfinite(p):
                    errs.append(abs(p / float(r.measured["tokens_per_s_per_gpu"]) - 1.0))
        every += errs
        out[fam] = {**_summary(errs), "refitted": refit, "no_other_source": alone}
    out["all"] = _summary(every)
    return out


def _summary(errs: Sequence[float]) -> dict[str, Any]:
    if not errs:
        return {"n": 0, "median_abs": float("nan"), "p90_abs": float("nan")}
    e = np.sort(np.asarray(errs))
    return {
        "n": len(e),
        "median_abs": float(e[round(0.5 * (len(e) - 1))]),
        "p90_abs": float(e[round(0.9 * (len(e) - 1))]),
    }
