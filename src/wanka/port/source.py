"""Reading the code to port: Python files, notebooks and CUDA sources under a path.

A notebook's code cells are joined into one module for analysis (so an import in cell 1 resolves a
name in cell 7); IPython magics and shell escapes (``%time``, ``!nvidia-smi``) become placeholder
comments that are restored verbatim after a rewrite. Positions map back to (cell, line).
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path

from wanka.errors import ConfigError
from wanka.userfile import MAX_SOURCE_FILE_BYTES, read_json

__all__ = [
    "MAGIC_MARK",
    "SKIP_DIRS",
    "NotebookCell",
    "SourceFile",
    "discover",
    "read_notebook",
    "restore_magics",
]

#: Directory names never descended into.
SKIP_DIRS = frozenset(
    {
        "__pycache__",
        "node_modules",
        "site-packages",
        ".git",
        ".hg",
        ".svn",
        ".tox",
        ".venv",
        "venv",
        ".mypy_cache",
        ".pytest_cache",
        ".ipynb_checkpoints",
    }
)
MAGIC_MARK = "#__WANKA_MAGIC__"
_MAGIC_LINE = re.compile(r"^(\s*)([%!?].*)$")
_RESTORE = re.compile(r"^(\s*)" + re.escape(MAGIC_MARK), re.MULTILINE)


@dataclass(frozen=True, slots=True, kw_only=True)
class SourceFile:
    """One file to scan: its absolute path, its path relative to the scanned root, and its kind."""

    path: Path
    rel: str
    kind: str
    """"python", "notebook" or "cuda" (a .cu/.cuh kernel source)."""


def discover(root: Path) -> list[SourceFile]:
    """Every Python file, notebook and CUDA source under `root` (or `root` itself), sorted."""
    if not root.exists():
        raise ConfigError(f"no such file or directory: {root}")
    if root.is_file():
        kind = _kind(root.name)
        if kind is None:
            raise ConfigError(f"{root} is not a Python file (.py) or a notebook (.ipynb)")
        return [SourceFile(path=root, rel=root.name, kind=kind)]
    out: list[SourceFile] = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if d not in SKIP_DIRS and not d.startswith("."))
        for name in sorted(filenames):
            kind = _kind(name)
            if kind is not None:
                p = Path(dirpath) / name
                out.append(SourceFile(path=p, rel=p.relative_to(root).as_posix(), kind=kind))
    return out


def _kind(name: str) -> str | None:
    if name.endswith((".py", ".pyi")) and not name.endswith(".pyi"):
        return "python"
    if name.endswith(".ipynb"):
        return "notebook"
    if name.endswith((".cu", ".cuh")):
        return "cuda"
    return None


@dataclass(frozen=True, slots=True, kw_only=True)
class NotebookCell:
    """A code cell: its index among all cells, its source, and where it starts in the joined module."""

    index: int
    source: str
    """The cell's Python text with magics replaced by placeholder comments."""
    first_line: int
    """1-based line of the cell's first line in the joined module."""
    line_count: int
    magic_cell: bool = False
    """A %%cell magic: the whole cell is not Python and is left alone."""
    raw: list[str] = field(default_factory=list)


def read_notebook(path: Path) -> tuple[dict, list[NotebookCell], str]:
    """Parse a notebook: (the JSON document, its code cells, the joined Python module text)."""
    nb = read_json(path, what="a Jupyter notebook", max_bytes=MAX_SOURCE_FILE_BYTES)
    if not isinstance(nb, dict) or not isinstance(nb.get("cells"), list):
        raise ConfigError(f"{path}: not a valid notebook (no 'cells' list)")
    cells: list[NotebookCell] = []
    joined: list[str] = []
    line = 1
    for i, cell in enumerate(nb["cells"]):
        if not isinstance(cell, dict) or cell.get("cell_type") != "code":
            continue
        src = cell.get("source", "")
        text = "".join(src) if isinstance(src, list) else str(src)
        lines = text.split("\n")
        magic_cell = bool(lines) and lines[0].lstrip().startswith("%%")
        conv = []
        for ln in lines:
            if magic_cell:
                conv.append(MAGIC_MARK + ln)
                continue
            m = _MAGIC_LINE.match(ln)
            conv.append(f"{m.group(1)}{MAGIC_MARK}{m.group(2)}" if m else ln)
        body = "\n".join(conv)
        cells.append(
            NotebookCell(
                index=i, source=body, first_line=line, line_count=len(lines), magic_cell=magic_cell
            )
        )
        joined.append(body if body.endswith("\n") else body + "\n")
        line += len(lines) if not body.endswith("\n") else len(lines) - 1
    return nb, cells, "".join(joined)


def restore_magics(text: str) -> str:
    """Undo the placeholder comments of `read_notebook`."""
    return _RESTORE.sub(lambda m: m.group(1), text)
