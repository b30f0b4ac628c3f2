#!/usr/bin/env python3
"""Write the documentation pages generated from the code (``snapshots.cli.reference``): the
command-line reference, the errors and exit codes, the snapshot schema of every version and
the changelog. ``--check`` writes nothing and exits 1 when a page is out of date (a test runs
the same comparison)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from snapshots.cli.reference import generated_pages  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--check", action="store_true", help="compare only; exit 1 if stale")
    args = parser.parse_args()
    stale = []
    for name, text in generated_pages(ROOT).items():
        path = ROOT / "docs" / name
        if path.exists() and path.read_text(encoding="utf-8") == text:
            continue
        stale.append(name)
        if not args.check:
            path.write_text(text, encoding="utf-8")
    verb = "out of date" if args.check else "written"
    print(f"{verb}: {', '.join(stale)}" if stale else "every generated page is up to date")
    return 1 if args.check and stale else 0


if __name__ == "__main__":
    sys.exit(main())
