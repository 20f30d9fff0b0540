"""Plots of the serving model: `serve plan --plot` (cost against p99 latency of every candidate) and
`serve validate --plot` (predicted against measured throughput).

Both are PNG/SVG/PDF files by the path's suffix (matplotlib's Agg backend: no display needed). Series
take `plan_plots.series_styles`, one (colour, marker) pair each, so any number of chips or source
families stays distinguishable; legends sit outside the axes.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from wanka.errors import ConfigError
from wanka.report.plan_plots import series_styles

__all__ = ["PLOT_SUFFIXES", "check_plot_path", "write_plan_plot", "write_validation_plot"]

PLOT_SUFFIXES = (".png", ".svg", ".pdf")
VALIDATION_BANDS = (0.12, 0.30)  # the median and 90th-percentile targets for throughput


def check_plot_path(path: Path, option: str = "--plot") -> Path:
    """The plot path, refused in one line before any work when its suffix or folder is wrong."""
    if path.suffix.lower() not in PLOT_SUFFIXES:
        raise ConfigError(
            f"{option} {path}: give a file ending in {', '.join(PLOT_SUFFIXES)} (the format follows it)"
        )
    if not path.parent.is_dir():
        raise ConfigError(f"{option} {path}: folder {path.parent} does not exist; create it first")
    return path


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def write_plan_plot(
    screened: dict[str, dict[str, np.ndarray]],
    plans: list[dict[str, Any]],
    path: Path,
    *,
    ttft_ms: float | None,
    tpot_ms: float | None,
) -> Path:
    """Cost per million output tokens against analytic p99 TPOT and TTFT of every screened candidate.

    Candidates meeting both limits are solid, the others faint; the limits are dashed lines; the
    ranked plans (their simulated p99s where re-checked) are ringed and numbered by rank.
    """
    plt = _pyplot()
    styles = series_styles(list(screened))
    fig, axes = plt.subplots(1, 2, figsize=(12, 4.8), sharey=True)
    panels = (("tpot_p99_s", "tpot_ms_p99", "p99 TPOT (ms)", tpot_ms),
              ("ttft_p99_s", "ttft_ms_p99", "p99 TTFT (ms)", ttft_ms))  # fmt: skip
    for ax, (key, plan_key, label, limit) in zip(axes, panels, strict=True):
        for chip, c in screened.items():
            colour, marker = styles[chip]
            x, y, ok = c[key] * 1e3, c["usd_per_mtok"], c["meets"]
            shown = np.isfinite(x) & np.isfinite(y) & (y > 0) & (x > 0)
            ax.scatter(x[shown & ~ok], y[shown & ~ok], s=10, color=colour, marker=marker,
                       alpha=0.15, linewidths=0)  # fmt: skip
            ax.scatter(x[shown & ok], y[shown & ok], s=16, color=colour, marker=marker,
                       alpha=0.8, linewidths=0, label=chip)  # fmt: skip
        for rank, p in enumerate(plans, 1):
            ax.scatter([p[plan_key]], [p["cost_per_million_tokens_usd"]], s=120,
                       facecolors="none", edgecolors="black", linewidths=1.2)  # fmt: skip
            ax.annotate(str(rank), (p[plan_key], p["cost_per_million_tokens_usd"]),
                        xytext=(6, 4), textcoords="offset points", fontsize=8)  # fmt: skip
        if limit is not None:
            ax.axvline(limit, color="grey", linestyle="--", linewidth=1)
            ax.annotate(f"limit {limit:g} ms", (limit, 1.0), xycoords=("data", "axes fraction"),
                        xytext=(4, -12), textcoords="offset points", fontsize=8)  # fmt: skip
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel(label + ", analytic screening")
        ax.grid(True, which="both", alpha=0.2)
    axes[0].set_ylabel("$ per million output tokens")
    axes[1].legend(loc="upper left", bbox_to_anchor=(1.02, 1.0), title="meets the limits",
                   fontsize=8, frameon=False)  # fmt: skip
    fig.suptitle(
        "serve plan: every candidate (faint: misses a limit); ringed and numbered: the ranked "
        "plans, at their simulated p99s where re-checked"
    )
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def write_validation_plot(report: dict[str, Any], path: Path) -> Path:
    """Predicted against measured output tokens/s per GPU (log-log) with the +-12% and +-30% bands;
    one series per source family, held-out cases hollow."""
    plt = _pyplot()
    cases = [c for c in report["cases"] if "rel_error" in c]
    families = sorted({c["family"] for c in cases})
    styles = series_styles(families)
    fig, ax = plt.subplots(figsize=(7.5, 6))
    for fam in families:
        colour, marker = styles[fam]
        for held, face in ((False, colour), (True, "none")):
            pts = [c for c in cases if c["family"] == fam and (c["split"] == "held-out") == held]
            if not pts:
                continue
            ax.scatter([c["measured_output_tokens_per_s_per_gpu"] for c in pts],
                       [c["predicted_output_tokens_per_s_per_gpu"] for c in pts], s=28,
                       marker=marker, facecolors=face, edgecolors=colour,
                       label=f"{fam}{' (held-out)' if held else ''}")  # fmt: skip
    vals = [v for c in cases for v in (c["measured_output_tokens_per_s_per_gpu"],
                                       c["predicted_output_tokens_per_s_per_gpu"]) if v > 0]  # fmt: skip
    if vals:
        lo, hi = min(vals) / 1.5, max(vals) * 1.5
        xs = np.geomspace(lo, hi, 50)
        ax.plot(xs, xs, color="black", linewidth=1)
        for band, alpha in zip(VALIDATION_BANDS, (0.3, 0.15), strict=True):
            ax.fill_between(xs, xs * (1 - band), xs * (1 + band), color="grey", alpha=alpha,
                            linewidth=0, zorder=0, label=f"within {band:.0%}")  # fmt: skip
        ax.set_xlim(lo, hi)
        ax.set_ylim(lo, hi)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("measured output tokens/s per GPU")
    ax.set_ylabel("predicted output tokens/s per GPU")
    ax.legend(loc="upper left", bbox_to_anchor=(1.02, 1.0), fontsize=8, frameon=False)
    ax.grid(True, which="both", alpha=0.2)
    ax.set_title(f"serve validate: {len(cases)} cases")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
