"""The JSON Schemas of the input files, published under schemas/ (generated from `wanka.schemas`).

    python tools/schemas.py            # compare schemas/*.schema.json with the models (exit 1 on a diff)
    python tools/schemas.py --write    # regenerate schemas/ after changing a model in wanka.schemas

tests/core/test_schemas.py runs the same comparison.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "schemas"


def stale() -> list[str]:
    """Names whose committed schema differs from what the models generate."""
    from wanka.schemas import NAMES, schema_text

    out = []
    for name in NAMES:
        p = OUT / f"{name}.schema.json"
        if not p.exists() or p.read_text(encoding="utf-8") != schema_text(name):
            out.append(name)
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--write", action="store_true", help="regenerate schemas/")
    args = ap.parse_args()
    from wanka.schemas import NAMES, schema_text

    if args.write:
        OUT.mkdir(exist_ok=True)
        for name in NAMES:
            (OUT / f"{name}.schema.json").write_text(schema_text(name), encoding="utf-8")
        print(f"wrote {len(NAMES)} schemas to {OUT.relative_to(ROOT)}/")
        return 0
    bad = stale()
    if bad:
        print(
            f"schemas differ from the models: {', '.join(bad)}; run python tools/schemas.py --write"
        )
        return 1
    print(f"{len(NAMES)}/{len(NAMES)} schemas match the models")
    return 0


if __name__ == "__main__":
    sys.exit(main())
