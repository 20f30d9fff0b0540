"""Report functions whose body is over 80 lines and files over 600 lines (the house limits).

    python tools/check_sizes.py [PATH ...]      # default: src/wanka; exit 1 when something exceeds

A function's body is counted from its first statement to its last line (the signature, however long,
does not count); nested functions count inside their parent too.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

MAX_BODY, MAX_FILE = 80, 600


def oversized(root: Path) -> list[str]:
    """'path:line name (N lines)' for every function body over MAX_BODY and file over MAX_FILE."""
    out = []
    for path in sorted(root.rglob("*.py")) if root.is_dir() else [root]:
        text = path.read_text()
        n = len(text.splitlines())
        if n > MAX_FILE:
            out.append(f"{path}: file {n} lines")
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                body = node.body
                start = body[0].lineno
                if (
                    isinstance(body[0], ast.Expr)
                    and isinstance(body[0].value, ast.Constant)
                    and isinstance(body[0].value.value, str)
                    and len(body) > 1
                ):
                    start = body[1].lineno  # the docstring does not count
                size = (node.end_lineno or start) - start + 1
                if size > MAX_BODY:
                    out.append(f"{path}:{node.lineno} {node.name} ({size} lines)")
    return out


def main() -> int:
    roots = [Path(a) for a in sys.argv[1:]] or [Path(__file__).resolve().parents[1] / "src/wanka"]
    found = [line for r in roots for line in oversized(r)]
    print("\n".join(found) if found else "no function body over 80 lines, no file over 600 lines")
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
