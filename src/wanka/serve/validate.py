"""`serve validate`: predict every spec with a `measured` block and report the error.

Errors are relative, `predicted / measured - 1`, of output tokens/s per GPU (of the total, input +
output, for a row that measured only that: `metric` says so), and of TTFT and TPOT (p50 and p99;
a "median" key, in any case, is the p50) where the source measured them; a figure written as text
("3,653.5") is read as its number. A mean alone is not compared: the model predicts quantiles.
Summaries (count, median and 90th percentile of |error|, median signed error) are grouped by source
family (the id without its number), accelerator and scenario, for the whole file and separately for
the TRAIN and HELD-OUT parts of the split that the serving calibration was fitted on. The split rule
is the training model's (`wanka.perf.validate.split_of`): held-out when int(sha1(id), 16) % 3 == 0.

MLPerf Inference server results (source under mlcommons `inference_results_v*`) are predicted as
MLPerf defines them: the Server metric is the highest Poisson rate at which the run still meets the
latency limits (MLPerf Inference rules, inference_policies `inference_rules.adoc`, Server scenario;
LLMs: p99 TTFT and p99 TPOT), so the stated `request_rate` of such a row is the result itself, not
an input. Predicting latencies at that absolute rate would compare them at a different utilisation:
near saturation TPOT ~ T0 / (1 - rho), so a 10% error in capacity moves TPOT by a factor of two.
Such rows drop the stated rate and run `serve predict`'s highest-passing-rate search; the predicted
throughput is then a prediction too (with the rate given it would be rate x output length).

Their latencies are also predicted at the stated rate (loadgen's scheduled Poisson rate, the input of
the measured run): `{ttft,tpot}_{p50,p99}_at_rate_rel_error`, summarised as `latency_at_rate`. The two
compare different things. At the highest passing rate the model sits at its own limit, where the
submission left a margin (v4.1-001: TPOT p99 146 ms against the 200 ms limit); at the stated rate the
utilisation is the model's, so a capacity error moves the latencies as above.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import replace
from typing import Any

from wanka.errors import WankaError
from wanka.perf.validate import SPLIT_RULE, error_stats, error_stats_by, family_of, split_of
from wanka.schemas import as_number
from wanka.serve.params import ServeCalibration
from wanka.serve.predict import predict_serve
from wanka.serve.spec import ServeError, ServeSpec, mlperf_result

__all__ = ["SPLIT_RULE", "summarise", "validate_serving"]

LATENCIES = ("ttft_p50", "ttft_p99", "tpot_p50", "tpot_p99")


def summarise(cases: list[dict[str, Any]]) -> dict[str, Any]:
    """Throughput error by split and group; latency errors where measured."""
    ok = [c for c in cases if "rel_error" in c]
    parts = {
        "all": ok,
        "train": [c for c in ok if c["split"] == "train"],
        "held_out": [c for c in ok if c["split"] == "held-out"],
    }
    out: dict[str, Any] = {
        "split_rule": SPLIT_RULE,
        "cases": len(cases),
        "predicted": len(ok),
        "failed": len(cases) - len(ok),
        "throughput": {k: error_stats(v) for k, v in parts.items()},
        "latency": {k: error_stats(ok, f"{k}_rel_error") for k in LATENCIES},
        "latency_at_rate": {k: error_stats(ok, f"{k}_at_rate_rel_error") for k in LATENCIES},
    }
    for name, part in parts.items():
        out[name] = {
            "by_family": error_stats_by(part, "family"),
            "by_accelerator": error_stats_by(part, "accelerator"),
            "by_scenario": error_stats_by(part, "scenario"),
        }
    return out


def _latency(
    case: dict[str, Any], p: dict[str, Any], measured: dict[str, Any], tag: str = ""
) -> None:
    """Latency errors of prediction `p`; `tag` suffixes the keys (`_at_rate`)."""
    for metric in ("ttft", "tpot"):
        m = measured.get(f"{metric}_ms")
        if not isinstance(m, dict):
            continue
        m = {str(k).strip().lower(): x for k, x in m.items()}
        for q in ("p50", "p99"):
            v = _number(m.get(q, m.get("median") if q == "p50" else None))
            if v is not None:
                case[f"measured_{metric}_{q}_ms"] = v
                case[f"predicted_{metric}_{q}{tag}_ms"] = p[f"{metric}_ms"][q]
                case[f"{metric}_{q}{tag}_rel_error"] = float(p[f"{metric}_ms"][q] / v - 1.0)


OUTPUT = "output_tokens_per_s_per_gpu"


def _number(v: Any) -> float | None:
    """A measured figure: a positive number, or one written as text, thousands separators allowed
    ("3,653.5"; `schemas.as_number`'s rule otherwise); else None."""
    try:
        x = as_number(v.replace(",", "") if isinstance(v, str) else v)
    except ValueError:
        return None
    return float(x) if math.isfinite(x) and x > 0 else None


def _measured_throughput(measured: dict[str, Any], count: int) -> tuple[str, float | None, bool]:
    """(metric, value, from the system figure) a row is compared on: output tokens/s per GPU (else
    the whole system's over the count, as MLPerf publishes it), or the total (input + output) where
    only the total is measured."""
    out = _number(measured.get(OUTPUT))
    if out is not None:
        return OUTPUT, out, False
    system = _number(measured.get("output_tokens_per_s_system"))
    if system is not None:
        return OUTPUT, system / count, True
    return "total_tokens_per_s_per_gpu", _number(measured.get("total_tokens_per_s_per_gpu")), False


def published_max_rate(s: ServeSpec) -> bool:
    """Whether the row's rate is an MLPerf server result (the highest passing rate; see above)."""
    return (
        s.scenario in ("server", "interactive")
        and s.has_slo
        and s.request_rate is not None
        and math.isfinite(s.request_rate)
        and mlperf_result(s.source)
    )


def validate_serving(
    specs: Iterable[ServeSpec | ServeError], *, calibration: ServeCalibration | None = None
) -> dict[str, Any]:
    """Predict each spec with a measured output (else total) throughput per GPU;
    `{"cases": [...], "summary": {...}}`."""
    cases: list[dict[str, Any]] = []
    for s in specs:
        if isinstance(s, ServeError):
            cases.append({"id": s.id, "split": split_of(s.id), "family": family_of(s.id),
                          "error": s.error})  # fmt: skip
            continue
        measured = s.measured or {}
        metric, m, from_system = _measured_throughput(measured, s.count)
        if m is None:
            continue
        case: dict[str, Any] = {
            "id": s.id,
            "split": split_of(s.id),
            "family": family_of(s.id, s.source),
            "accelerator": s.accelerator.id,
            "scenario": s.scenario,
            "precision": s.precision,
            f"measured_{metric}": m,
        }
        if metric != OUTPUT:
            case["metric"] = metric
        if from_system:
            case["measured_as"] = "output_tokens_per_s_system / hardware.count"
        at_rate = None
        try:
            if published_max_rate(s):
                at_rate = predict_serve(s, calibration=calibration)
                s = replace(s, request_rate=None)
                case["rate_as"] = "result: the highest rate meeting the limits is predicted"
            p = predict_serve(s, calibration=calibration)
        except WankaError as e:  # a case that fails is reported, the rest go on
            case["error"] = str(e)
            cases.append(case)
            continue
        if at_rate is not None:
            _latency(case, at_rate, measured, "_at_rate")
        case[f"predicted_{metric}"] = p[metric]
        case["rel_error"] = float(p[metric] / m - 1.0)
        _latency(case, p, measured)
        cases.append(case)
    return {"cases": cases, "summary": summarise(cases)}
