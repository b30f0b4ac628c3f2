"""The report's asset-class figures on Alpaca's own shapes: a multi-leg order counts by its
legs (the combination's net price is no premium of its own)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal

from snapshots.alpaca.models import AlpacaOrder
from snapshots.report.asset_classes import option_premiums
from tests.builders import ROOT

MLEG = (
    ROOT / "tests/contract/alpaca/payloads/orders/docs_get_all_orders_mleg_filled_empty_parent.json"
)


def test_a_filled_spread_pays_and_receives_by_its_legs() -> None:
    """Alpaca's documented spread: 3 calls bought at 0.43 (129 paid), 1 sold at 0.01 (1
    received); the parent's 1.28 a spread is their net, never counted on its own."""
    body = json.loads(MLEG.read_text(encoding="utf-8"))["body"]
    order = AlpacaOrder.from_api(body[0] if isinstance(body, list) else body)
    day = datetime(2024, 12, 10, tzinfo=UTC)
    paid, received = option_premiums((order,), day, day.replace(day=11))
    assert (paid, received) == ([Decimal(129)], [Decimal(1)])
    # Filled outside the window: nothing.
    assert option_premiums((order,), day.replace(day=11), day.replace(day=12)) == ([], [])
