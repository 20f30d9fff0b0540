"""Reading a user's file, and checking a user's numbers and ids, at the edge.

Every command reads a user's file (run spec, centre file, sweep file, Hugging Face config.json,
profile, cluster file, trace CSV, Python source) through this module, so that the same problems give
the same one-line `ConfigError("FILE: what is wrong, and what would be right")`:

- missing, a directory, unreadable (permissions), or larger than a stated bound;
- binary or not UTF-8 (a NUL byte, or bytes that do not decode);
- YAML/JSON that does not parse (with line and column);
- NaN or infinity anywhere in the parsed data (YAML `.nan`, JSON `NaN`).

The numeric validators check command-line options the same way: finite, positive, and below a
stated physical bound (`MAX_ACCELERATORS`, `MAX_MESSAGE_BYTES`, ...). `check_id` refuses an unknown
id and names the nearest valid ones.

Layer: imports only `errors` and `units`, so every package may use it.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import yaml

from wanka.errors import ConfigError, WankaError
from wanka.units import difflib_closest

__all__ = [
    "MAX_ACCELERATORS",
    "MAX_DATA_FILE_BYTES",
    "MAX_MESSAGE_BYTES",
    "MAX_SOURCE_FILE_BYTES",
    "check_count",
    "check_finite_data",
    "check_id",
    "check_number",
    "check_readable",
    "check_writable",
    "decode_text",
    "read_bytes",
    "read_data",
    "read_json",
    "read_source",
    "read_text",
]

MAX_ACCELERATORS = 10**7
"""The largest cluster any command accepts: ten million accelerators (today's largest are ~10^5)."""
MAX_MESSAGE_BYTES = 2**50
"""The largest collective message: 1 PiB (a 10^13-parameter model in bf16 is 20 TB)."""
MAX_DATA_FILE_BYTES = 64 * 2**20
"""The largest YAML/JSON file read whole: 64 MiB (the largest shipped spec is a few kB)."""
MAX_SOURCE_FILE_BYTES = 32 * 2**20
"""The largest Python source or notebook read whole: 32 MiB."""
_SNIFF_BYTES = 8192  # a NUL byte in the first 8 KiB marks a binary file (as git and grep decide)


def _where(path: Path, what: str) -> str:
    return f"{path}" if not what else f"{path} ({what})"


def check_readable(path: str | Path, *, what: str = "", max_bytes: int | None = None) -> Path:
    """Return `path` if it is a regular file we may read (and at most `max_bytes`); else ConfigError."""
    p = Path(path)
    if not p.exists():
        raise ConfigError(f"{_where(p, what)}: file not found; check the path")
    if p.is_dir():
        raise ConfigError(f"{_where(p, what)}: is a directory; give a file")
    try:
        size = p.stat().st_size
        with p.open("rb"):
            pass
    except PermissionError:
        raise ConfigError(f"{_where(p, what)}: permission denied; make it readable") from None
    except OSError as e:
        raise ConfigError(f"{_where(p, what)}: cannot read ({e.strerror})") from None
    if max_bytes is not None and size > max_bytes:
        raise ConfigError(
            f"{_where(p, what)}: {size:,} bytes is too large for this file "
            f"(at most {max_bytes:,}); give the right file"
        )
    return p


def read_bytes(path: str | Path, *, what: str = "", max_bytes: int = MAX_DATA_FILE_BYTES) -> bytes:
    """The bytes of a user's file, with the checks of `check_readable`."""
    p = check_readable(path, what=what, max_bytes=max_bytes)
    try:
        return p.read_bytes()
    except OSError as e:
        raise ConfigError(f"{_where(p, what)}: cannot read ({e.strerror})") from None


def decode_text(
    data: bytes, path: str | Path, *, what: str = "", expect: str = "a text file"
) -> str:
    """Decode UTF-8 (a BOM is allowed); a binary or undecodable file is a one-line ConfigError."""
    p = Path(path)
    if b"\x00" in data[:_SNIFF_BYTES]:
        raise ConfigError(f"{_where(p, what)}: a binary file, not {expect}; give {expect}")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        raise ConfigError(
            f"{_where(p, what)}: not UTF-8 text (byte 0x{data[e.start]:02x} at offset {e.start}); "
            f"give {expect} in UTF-8"
        ) from None


def read_text(
    path: str | Path,
    *,
    what: str = "",
    expect: str = "a text file",
    max_bytes: int = MAX_DATA_FILE_BYTES,
) -> str:
    """The text of a user's file: readable, not too large, not binary, UTF-8."""
    return decode_text(
        read_bytes(path, what=what, max_bytes=max_bytes), path, what=what, expect=expect
    )


def _non_finite(data: Any, where: str) -> str | None:
    """The key path of the first NaN/inf in nested lists/dicts, or None."""
    if isinstance(data, float):
        return where if not math.isfinite(data) else None
    if isinstance(data, dict):
        for k, v in data.items():
            hit = _non_finite(v, f"{where}.{k}" if where else str(k))
            if hit is not None:
                return hit
    elif isinstance(data, list):
        for i, v in enumerate(data):
            hit = _non_finite(v, f"{where}[{i}]")
            if hit is not None:
                return hit
    return None


def check_finite_data(data: Any, path: str | Path, *, what: str = "") -> Any:
    """Return `data` if no number in it is NaN or infinite; else a ConfigError naming the key."""
    hit = _non_finite(data, "")
    if hit is not None:
        raise ConfigError(
            f"{_where(Path(path), what)}: {hit or 'the value'} is not a finite number; "
            "give a finite value"
        )
    return data


def _parse_json(text: str, p: Path, what: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError as e:
        raise ConfigError(
            f"{p}:{e.lineno}:{e.colno}: malformed JSON ({e.msg}); fix the syntax"
        ) from None
    except RecursionError:
        raise ConfigError(f"{_where(p, what)}: JSON nested too deeply") from None


def _parse_yaml(text: str, p: Path, what: str) -> Any:
    try:
        return yaml.safe_load(text)
    except yaml.MarkedYAMLError as e:
        mark = e.problem_mark or e.context_mark
        loc = f"{p}:{mark.line + 1}:{mark.column + 1}" if mark else str(p)
        raise ConfigError(
            f"{loc}: malformed YAML ({e.problem or e.context}); fix the syntax"
        ) from None
    except yaml.YAMLError as e:
        first = str(e).splitlines()[0] if str(e) else type(e).__name__
        raise ConfigError(f"{_where(p, what)}: malformed YAML ({first})") from None
    except RecursionError:
        raise ConfigError(f"{_where(p, what)}: YAML nested too deeply") from None


def read_data(
    path: str | Path,
    *,
    what: str = "a YAML or JSON file",
    max_bytes: int = MAX_DATA_FILE_BYTES,
) -> Any:
    """Parse a user's YAML or JSON file (JSON by the `.json` suffix; YAML is a superset otherwise).

    Returns the parsed data; every number in it is finite. Any problem is a one-line ConfigError.
    """
    p = Path(path)
    text = read_text(p, what="", expect=what, max_bytes=max_bytes)
    if p.suffix.lower() == ".json":
        data = _parse_json(text, p, what)
    else:
        data = _parse_yaml(text, p, what)
    return check_finite_data(data, p)


def read_json(
    path: str | Path, *, what: str = "a JSON file", max_bytes: int = MAX_DATA_FILE_BYTES
) -> Any:
    """Parse a user's JSON file (whatever its suffix); numbers finite; problems are ConfigErrors."""
    p = Path(path)
    text = read_text(p, expect=what, max_bytes=max_bytes)
    return check_finite_data(_parse_json(text, p, what), p)


def read_source(path: str | Path, *, max_bytes: int = MAX_SOURCE_FILE_BYTES) -> bytes:
    """The bytes of a Python source file, checked to be text in its declared encoding (PEP 263)."""
    import io
    import tokenize

    p = Path(path)
    data = read_bytes(p, max_bytes=max_bytes)
    if b"\x00" in data[:_SNIFF_BYTES]:
        raise ConfigError(f"{p}: a binary file, not Python source; give a .py file")
    try:
        encoding, _ = tokenize.detect_encoding(io.BytesIO(data).readline)
        data.decode(encoding)
    except (SyntaxError, UnicodeDecodeError, LookupError):
        raise ConfigError(
            f"{p}: not text in a known encoding; give UTF-8 Python source "
            "(or declare its encoding, PEP 263)"
        ) from None
    return data


def check_writable(path: str | Path) -> Path:
    """Return `path` if the file exists and we may replace it (file and directory writable)."""
    import os

    p = check_readable(path)
    # Root may write anything; a file with no write bit is still read-only by its owner's choice.
    if not os.access(p, os.W_OK) or not p.stat().st_mode & 0o222:
        raise ConfigError(f"{p}: the file is read-only; make it writable or drop --write")
    if not os.access(p.parent, os.W_OK | os.X_OK):
        raise ConfigError(
            f"{p}: its folder {p.parent} is not writable, so the file cannot be replaced atomically"
        )
    return p


def check_number(
    name: str,
    value: float,
    *,
    minimum: float | None = 0.0,
    maximum: float | None = None,
    inclusive_min: bool = False,
    unit: str = "",
    why_max: str = "",
) -> float:
    """Return `value` if it is finite and within (minimum, maximum]; else a one-line ConfigError.

    `minimum=0` with `inclusive_min=False` means "positive". `why_max` names the physical bound.
    """
    u = f" {unit}" if unit else ""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ConfigError(f"{name} must be a number, got {value!r}")
    if not math.isfinite(value):
        raise ConfigError(f"{name} must be a finite number, got {value}")
    if minimum is not None:
        bad = value < minimum if inclusive_min else value <= minimum
        if bad:
            word = "at least" if inclusive_min else "above"
            what = "positive" if minimum == 0 and not inclusive_min else f"{word} {minimum:g}{u}"
            raise ConfigError(f"{name} must be {what}, got {value:g}{u}")
    if maximum is not None and value > maximum:
        why = f" ({why_max})" if why_max else ""
        raise ConfigError(f"{name} must be at most {maximum:g}{u}{why}, got {value:g}{u}")
    return value


def check_count(name: str, value: int, *, maximum: int = MAX_ACCELERATORS, what: str = "") -> int:
    """A positive integer at most `maximum` (default: the accelerator bound, 10^7)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or int(value) != value:
        raise ConfigError(f"{name} must be a whole number, got {value!r}")
    why = what or ("the largest cluster wanka models" if maximum == MAX_ACCELERATORS else "")
    check_number(name, value, minimum=0, maximum=maximum, why_max=why)
    return int(value)


def check_id(
    kind: str,
    value: str,
    choices: Iterable[str],
    *,
    see: str = "",
    error: type[WankaError] = ConfigError,
) -> str:
    """Return `value` if it is one of `choices`; else an error naming the nearest valid ids.

    >>> check_id("policy", "fifo", ["fifo", "srtf"])
    'fifo'
    """
    options = list(choices)
    if value in options:
        return value
    if see:
        hint = f"; see `{see}`"
    elif len(options) <= 12:
        hint = f"; choose from {', '.join(options)}"
    else:
        hint = ""
    raise error(f"unknown {kind} {value!r}{difflib_closest(str(value), options)}{hint}")
