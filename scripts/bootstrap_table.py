#!/usr/bin/env python3
"""Create (or check) the ledger table: the same code as `trade-ledger table create`.

Usage: python scripts/bootstrap_table.py [--stage S | --table NAME] [--endpoint-url URL] [--wait]
"""

from __future__ import annotations

import sys

from snapshots.cli.main import main

if __name__ == "__main__":
    sys.exit(main(["table", "create", *sys.argv[1:]]))
