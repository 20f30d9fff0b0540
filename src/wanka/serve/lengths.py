"""Request lengths of a serving spec: a number, text ("mean N", one range, one standalone number), or
a public benchmark dataset's measured means and (input, output) sample (`catalogs/data/serve_datasets.yaml`,
`serve_lengths/`), which the server simulation draws request lengths from.
"""

from __future__ import annotations

import re
from functools import cache
from importlib import resources
from typing import Any

import numpy as np
from numpy.typing import NDArray

from wanka.catalogs import load_data
from wanka.errors import ConfigError
from wanka.units import leading_word, squash
from wanka.userfile import check_number

__all__ = ["lengths_note", "read_length", "request_lengths"]


@cache
def _datasets() -> tuple[dict[str, Any], ...]:
    return tuple(load_data("serve_datasets.yaml")["datasets"])


def read_length(
    where: str, v: Any, kind: str, notes: list[str], context: str
) -> tuple[float, str | None]:
    """(token length, dataset id): a number, text with 'mean N', a known dataset's mean, the middle
    of the one range the text holds, or the one standalone number it holds.

    The dataset id is that of a dataset the text names (also with 'mean N', which then sets the mean).
    """
    if isinstance(v, bool):
        raise ConfigError(f"{where} must be a number of tokens, got {v!r}")
    if isinstance(v, (int, float)):
        return float(
            check_number(where, v, maximum=1e7, unit="tokens", why_max="longer than any context")
        ), None
    if v is None:
        raise ConfigError(f"{where} is required (tokens per request)")
    text = str(v).lower()
    hay = squash(f"{text} {context}")
    ds = next((d for d in _datasets() if all(squash(w) in hay for w in d["match"])), None)
    m = re.search(r"mean\s+([0-9]+(?:\.[0-9]+)?)", text)
    variable = kind == "output" and leading_word(text) == "variable"
    if ds is not None and variable and ds.get("generated_tokens_per_sample"):
        generated = float(ds["generated_tokens_per_sample"])
        notes.append(
            f"{where}: {v!r}: what the engine generates, MLPerf's reference tokens per sample for "
            f"{ds['id']}, {generated:g} (valid runs lie within +-10%"
            + (f"; the stated {m.group(1)} is {float(m.group(1)) / generated:.2f} x that)" if m else ")")
        )  # fmt: skip
        return generated, str(ds["id"])
    if m:
        notes.append(f"{where}: {v!r} read as its mean, {m.group(1)} tokens")
        return float(m.group(1)), None if ds is None else str(ds["id"])
    if ds is not None:
        n = float(ds[f"mean_{kind}_tokens"])
        notes.append(
            f"{where}: {v!r} is dataset {ds['id']}: mean {n:g} tokens ({ds['confidence']})"
        )
        return n, str(ds["id"])
    span = _range(text)
    if span is not None:
        lo, hi = span
        notes.append(
            f"{where}: {v!r} read as the middle of its range, {(lo + hi) / 2:g} tokens (lengths "
            "uniform over it, as benchmark_serving's random dataset draws them)"
        )
        return (lo + hi) / 2, None
    one = _only_number(text)
    if one is None:
        raise ConfigError(
            f"{where}: cannot read {v!r} as a token count; give a number (or text with 'mean N')"
        )
    n, kilo = one
    notes.append(
        f"{where}: {v!r} read as {n:g} tokens, the one number it gives"
        + (" (k = 1,024 tokens, as in serving benchmarks' 1k/8k lengths)" if kilo else "")
    )
    return n, None


# a number standing alone in free text: "1024 (fixed)", "random 1,024", "ISL 2k", "~2000 tokens";
# digits inside a name ("llama-2-70b", "v3.1") or a range ("128-1024", read by `_range`) are not one
_NUMBER = re.compile(r"(?<![\w.-])(\d{1,3}(?:,\d{3})+|\d+(?:\.\d+)?)\s*(k)?(?![\w.-])")


def _tokens(digits: str, k: str | None) -> float:
    """A length written with thousands separators and an optional k (1,024 tokens)."""
    return float(digits.replace(",", "")) * (1024.0 if k else 1.0)


# one range of lengths: "1000-2000", "random 1k to 2k", "128 - 1,024 tokens" (not inside a name)
_RANGE = re.compile(
    r"(?<![\w.-])(\d{1,3}(?:,\d{3})+|\d+)\s*(k)?\s*(?:-|–|to)\s*(\d{1,3}(?:,\d{3})+|\d+)\s*(k)?(?![\w.-])"
)


def _range(text: str) -> tuple[float, float] | None:
    """(shortest, longest) tokens when the text holds exactly one range of lengths, the lower first
    (k is 1,024); None otherwise."""
    found = _RANGE.findall(text)
    if len(found) != 1:
        return None
    a, ka, b, kb = found[0]
    lo, hi = _tokens(a, ka), _tokens(b, kb)
    return (lo, hi) if 0 < lo <= hi <= 1e7 else None


def _only_number(text: str) -> tuple[float, bool] | None:
    """(tokens, whether a k suffix scaled them) when a free-text length holds exactly one
    standalone number (thousands separators allowed; k is 1,024); None for none or several."""
    found = {(_tokens(m.group(1), m.group(2)), bool(m.group(2))) for m in _NUMBER.finditer(text)}
    if len(found) != 1:
        return None
    n, kilo = found.pop()
    return (n, kilo) if 0 < n <= 1e7 else None


def _dataset(ds_id: str) -> dict[str, Any]:
    return next(d for d in _datasets() if d["id"] == ds_id)


@cache
def _length_sample(ds_id: str) -> NDArray[np.float64]:
    """The (input, output) token pairs shipped for a dataset, shape (n, 2)."""
    rel = _dataset(ds_id)["lengths"]
    text = resources.files("wanka.catalogs").joinpath("data", rel).read_text(encoding="utf-8")
    rows = [ln for ln in text.splitlines() if ln and not ln.startswith("#")][1:]
    return np.array([[float(x) for x in ln.split(",")] for ln in rows])


def lengths_note(ds_id: str | None, isl: float, osl: float, notes: list[str]) -> str | None:
    """The dataset whose length sample the server simulation uses, noted in the assumptions."""
    if ds_id is None or not _dataset(ds_id).get("lengths"):
        return None
    n = len(_length_sample(ds_id))
    notes.append(
        f"server simulation: request lengths drawn from {n} (input, output) pairs of {ds_id}, "
        f"scaled to means {isl:g} / {osl:g} tokens; other scenarios use the means"
    )
    return ds_id


def request_lengths(spec: Any) -> tuple[NDArray[np.int64], NDArray[np.int64]] | None:
    """(input, output) lengths of a `ServeSpec`'s dataset sample scaled to its means, or None.

    Each column is multiplied by spec mean / sample mean and rounded (at least 1 token), so the
    spread and the input-output pairing of the dataset are kept while its means follow the spec.
    """
    if spec.length_dataset is None:
        return None
    a = _length_sample(spec.length_dataset)
    scale = np.array([spec.input_len, spec.output_len]) / a.mean(axis=0)
    b = np.maximum(np.rint(a * scale), 1.0).astype(np.int64)
    return b[:, 0], b[:, 1]
