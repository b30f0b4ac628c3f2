#!/usr/bin/env python3
"""Serve the project's fake Alpaca with the demo's account until Ctrl-C, and print the
``APCA_API_*`` settings that point alpaca-py (and ``trade-ledger``) at it.

    .venv/bin/python scripts/fake_alpaca.py [--port N] [--days N]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from snapshots.demo.fake import serve


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--port", type=int, default=0, help="port (default: a free one)")
    parser.add_argument("--days", type=int, default=60, help="trading days of the demo history")
    args = parser.parse_args()
    return serve(args.port, args.days, say=lambda line: print(line, flush=True))


if __name__ == "__main__":
    sys.exit(main())
