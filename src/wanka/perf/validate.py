"""`validate`: predict every run that carries a `measured` block and report the error.

Errors are relative: `rel_error = predicted / measured - 1` of tokens/s/GPU (and of peak memory where a
case gives `measured.peak_memory_gib`). Summaries give the count, the median and the 90th percentile of
`|rel_error|` (percentile as `shared/tools/check-contracts` computes it: sorted value at
round(q * (n - 1))) and the median signed error (bias), grouped by source family (the case id prefix),
framework, accelerator, precision and model type, separately for the TRAIN and HELD-OUT parts of the split.

Split rule (fixed, documented, used by `benchmarks/fit_calibration.py`): a case is HELD-OUT when
`int(sha1(id).hexdigest(), 16) % 3 == 0`, else TRAIN. Fitted parameters see only TRAIN cases.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from typing import Any

from wanka.errors import WankaError
from wanka.perf.params import DEFAULT_OVERLAP, Calibration, OverlapPolicy
from wanka.perf.predict import predict

__all__ = [
    "FIT_TYPES", "SPLIT_RULE", "error_stats", "error_stats_by", "family_of", "pct", "split_of",
    "summarise", "validate_runs",
]  # fmt: skip

SPLIT_RULE = "held-out if int(sha1(case id).hexdigest(), 16) % 3 == 0, else train"
FIT_TYPES = ("dense", "moe")
"""Model types the calibration is fitted on and the acceptance figures use (moe-hybrid reported apart)."""


def split_of(case_id: str | None) -> str:
    """'train' or 'held-out' for a case id (see SPLIT_RULE); cases without an id are held out."""
    if not case_id:
        return "held-out"
    return "held-out" if int(hashlib.sha1(case_id.encode()).hexdigest(), 16) % 3 == 0 else "train"


def family_of(case_id: str | None, source: str | None = None) -> str:
    """Source family: the case id without its trailing number (`mbridge-042` -> `mbridge`)."""
    if case_id and "-" in case_id:
        head, tail = case_id.rsplit("-", 1)
        if tail.isdigit():
            return head
    if source:
        return source.split("//")[-1].split("/")[0]
    return case_id or "unknown"


def pct(xs: list[float], q: float) -> float:
    """The q-quantile as check-contracts computes it (sorted value at round(q * (n - 1)))."""
    xs = sorted(xs)
    return xs[round(q * (len(xs) - 1))] if xs else float("nan")


def error_stats(cases: list[dict[str, Any]], key: str = "rel_error") -> dict[str, Any]:
    """Count, median and 90th percentile of |error|, median signed error of `key` over `cases`."""
    errs = [c[key] for c in cases if isinstance(c.get(key), float)]
    absd = [abs(e) for e in errs]
    return {
        "n": len(errs),
        "median_abs": pct(absd, 0.5),
        "p90_abs": pct(absd, 0.9),
        "median_signed": pct(errs, 0.5),
    }


def error_stats_by(cases: list[dict[str, Any]], field: str) -> dict[str, Any]:
    """`error_stats` per value of `field`."""
    keys = sorted({str(c.get(field)) for c in cases})
    return {k: error_stats([c for c in cases if str(c.get(field)) == k]) for k in keys}


def summarise(cases: list[dict[str, Any]]) -> dict[str, Any]:
    """Error summaries: dense+moe whole file / train / held-out, by group, hybrids apart, peak memory."""
    ok = [c for c in cases if "rel_error" in c]
    main = [c for c in ok if c["type"] in FIT_TYPES]
    held = [c for c in main if c["split"] == "held-out"]
    train = [c for c in main if c["split"] == "train"]
    out: dict[str, Any] = {
        "split_rule": SPLIT_RULE,
        "cases": len(cases),
        "predicted": len(ok),
        "failed": len(cases) - len(ok),
        "dense_moe": {
            "all": error_stats(main),
            "train": error_stats(train),
            "held_out": error_stats(held),
        },
        "held_out": {
            "by_type": error_stats_by(held, "type"),
            "by_family": error_stats_by(held, "family"),
            "by_framework": error_stats_by(held, "framework"),
            "by_accelerator": error_stats_by(held, "accelerator"),
            "by_precision": error_stats_by(held, "precision"),
        },
        "all": {
            "by_type": error_stats_by(ok, "type"),
            "by_family": error_stats_by(main, "family"),
            "by_framework": error_stats_by(main, "framework"),
            "by_accelerator": error_stats_by(main, "accelerator"),
            "by_precision": error_stats_by(main, "precision"),
        },
        "moe_hybrid": error_stats([c for c in ok if c["type"] not in FIT_TYPES]),
        "peak_memory": error_stats(ok, "memory_rel_error"),
    }
    sets = _first_choice(ok)
    if sets:
        out["sets"] = sets
    return out


def _first_choice(cases: list[dict[str, Any]]) -> dict[str, Any]:
    """Per `set` (runs of one study on one cluster): the measured time of the run the model ranks
    first over the measured best (1.0 = the model picks the best layout)."""
    out: dict[str, Any] = {}
    for name in sorted({c["set"] for c in cases if c.get("set") and "predicted_step_time_s" in c}):
        rows = [c for c in cases if c.get("set") == name and "predicted_step_time_s" in c]
        pick = min(rows, key=lambda c: c["predicted_step_time_s"])
        best = min(c["measured_step_time_s"] for c in rows)
        out[name] = {
            "runs": len(rows),
            "first_choice": pick["id"],
            "first_choice_vs_best": pick["measured_step_time_s"] / best,
        }
    return out


def validate_runs(
    runs: Iterable[Any],
    *,
    calibration: Calibration | None = None,
    overlap: OverlapPolicy = DEFAULT_OVERLAP,
    accelerator_for: Any = None,
    leave_one_source_out: bool = False,
) -> dict[str, Any]:
    """Predict each run with a `measured` block; return `{"cases": [...], "summary": {...}}`.

    `runs` holds `RunSpec`s and `RunError`s (from `wanka.spec.load_runs`); runs without `measured` are
    skipped; a run that fails gives a case with its `error` message and no `rel_error`.
    `accelerator_for(run)` may return a replacement accelerator (e.g. with a measured profile applied).
    `leave_one_source_out`: add `summary["leave_one_source_out"]` (`perf.calibrate.leave_one_source_out`:
    each source predicted with the chips' software efficiency refitted on the other sources only).
    """
    runs = list(runs)
    cases: list[dict[str, Any]] = []
    for run in runs:
        rid = getattr(run, "id", None)
        if not hasattr(run, "model"):  # RunError
            cases.append(
                {
                    "id": rid,
                    "split": split_of(rid),
                    "family": family_of(rid),
                    "type": "unknown",
                    "error": run.error,
                }
            )
            continue
        measured = run.measured or {}
        hetero = hasattr(run, "groups")
        if "tokens_per_s_per_gpu" not in measured and not (hetero and "step_time_s" in measured):
            continue
        case: dict[str, Any] = {
            "id": rid,
            "split": split_of(rid),
            "family": family_of(rid, run.source),
            "type": run.model.type,
            "framework": getattr(run, "framework", None) or "other",
            "accelerator": "+".join(sorted({g.accelerator.id for g in run.groups}))
            if hetero
            else run.hardware.accelerator.id,
            "precision": run.precision,
        }
        if hetero:
            case["set"] = run.set
        try:
            if hetero:
                from wanka.perf.hetero import predict_hetero

                p = predict_hetero(run, calibration=calibration)
            else:
                acc = accelerator_for(run) if accelerator_for else None
                p = predict(run, overlap=overlap, calibration=calibration, accelerator=acc)
        except WankaError as e:
            case["error"] = str(e) or type(e).__name__
            cases.append(case)
            continue
        if "tokens_per_s_per_gpu" in measured:
            case["measured_tokens_per_s_per_gpu"] = float(measured["tokens_per_s_per_gpu"])
            case["predicted_tokens_per_s_per_gpu"] = p["tokens_per_s_per_gpu"]
            ratio = p["tokens_per_s_per_gpu"] / case["measured_tokens_per_s_per_gpu"]
        else:  # step time measured: tokens/s error = measured step / predicted step
            case["measured_step_time_s"] = float(measured["step_time_s"])
            case["predicted_step_time_s"] = p["step_time_s"]
            ratio = case["measured_step_time_s"] / p["step_time_s"]
        case["rel_error"] = float(ratio - 1.0)
        if measured.get("peak_memory_gib"):
            case["measured_peak_memory_gib"] = float(measured["peak_memory_gib"])
            case["predicted_peak_memory_gib"] = p["peak_memory_gib"]
            case["memory_rel_error"] = float(
                p["peak_memory_gib"] / case["measured_peak_memory_gib"] - 1.0
            )
        case["fits"] = p["fits"]
        cases.append(case)
    summary = summarise(cases)
    if leave_one_source_out:
        from wanka.perf.calibrate import leave_one_source_out as loso

        fit = [
            r
            for r in runs
            if hasattr(r, "model")
            and r.model.type in FIT_TYPES
            and hasattr(r.hardware, "accelerator")
        ]
        summary["leave_one_source_out"] = loso(fit, lambda r: family_of(r.id, r.source))
    return {"cases": cases, "summary": summary}
