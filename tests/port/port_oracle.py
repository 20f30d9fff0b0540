"""Helpers for the port tests: the real third-party scripts and an independent CUDA-line oracle."""

from __future__ import annotations

import ast
import io
import re
import tokenize
from pathlib import Path

DATA = Path(__file__).parent / "data"
REAL_SCRIPTS = sorted(p.relative_to(DATA).as_posix() for p in DATA.rglob("*.py"))


def comment_and_docstring_lines(text: str) -> set[int]:
    """Lines holding only a comment, or lying in a string statement (docstring): never findings."""
    lines: set[int] = set()
    code_lines: set[int] = set()
    for tok in tokenize.generate_tokens(io.StringIO(text).readline):
        if tok.type == tokenize.COMMENT:
            lines.add(tok.start[0])
        elif tok.type not in (
            tokenize.NL,
            tokenize.NEWLINE,
            tokenize.INDENT,
            tokenize.DEDENT,
            tokenize.ENDMARKER,
        ):
            code_lines.update(range(tok.start[0], tok.end[0] + 1))
    lines -= code_lines
    for node in ast.walk(ast.parse(text)):
        if (
            isinstance(node, ast.Expr)
            and isinstance(node.value, ast.Constant)
            and isinstance(node.value.value, str)
        ):
            lines.update(range(node.lineno, (node.end_lineno or node.lineno) + 1))
    return lines


_DEVICE = re.compile(r"^cuda(:\d+)?$")


def cuda_lines(text: str) -> set[int]:
    """An independent oracle (tokens, not libcst) for lines that are CUDA-specific code.

    A line counts when its code (not comments, not docstrings) has `torch.cuda`, `cudnn.` flags,
    a `.cuda(` call, a "cuda"/"cuda:N"/"nccl" string or an f"cuda:..." string.
    """
    doc = comment_and_docstring_lines(text)
    out: set[int] = set()
    toks = [
        t
        for t in tokenize.generate_tokens(io.StringIO(text).readline)
        if t.type
        not in (tokenize.COMMENT, tokenize.NL, tokenize.NEWLINE, tokenize.INDENT, tokenize.DEDENT)
    ]
    for i, t in enumerate(toks):
        line = t.start[0]
        if line in doc:
            continue
        prev = toks[i - 1].string if i else ""
        prev2 = toks[i - 2].string if i > 1 else ""
        nxt = toks[i + 1].string if i + 1 < len(toks) else ""
        if (
            t.type == tokenize.NAME
            and t.string == "cuda"
            and prev == "."
            and (prev2 == "torch" or nxt == "(")
        ) or (
            t.type == tokenize.NAME
            and t.string == "cudnn"
            and nxt == "."
            and i + 3 < len(toks)
            and toks[i + 3].string == "="
        ):
            out.add(line)
        elif t.type == tokenize.STRING:
            try:
                v = ast.literal_eval(t.string)
            except (ValueError, SyntaxError):
                v = None
            if isinstance(v, str) and (_DEVICE.match(v) or v == "nccl"):
                out.add(line)
            if re.match(r"^[fF][rR]?['\"]cuda:\{", t.string):
                out.add(line)
    return out
