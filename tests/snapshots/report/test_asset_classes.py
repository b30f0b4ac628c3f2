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


def test_a_coin_fee_without_a_price_leaves_its_value_unknown_never_zero() -> None:
    """The 1.7 fixture's ETH fee valued at Alpaca's 1,884.50 (0.000195 ETH: 0.37); without a
    price the crypto total and momentum's part are unknown, not 0."""
    from snapshots.records import snapshot_from_record
    from snapshots.report.asset_classes import by_asset_class
    from tests.snapshots.test_snapshot_fixture import VERSIONS, record_of

    (released,) = (v for v in VERSIONS if v.version == "1.7")
    snapshot = snapshot_from_record(record_of(released.sha256_item), None)
    (crypto,) = (c for c in by_asset_class(snapshot) if c.asset_class == "crypto")
    assert crypto.coin_fees == Decimal("0.000195") * Decimal("1884.5")
    assert crypto.coin_fees_by_strategy == {"momentum": crypto.coin_fees}

    ledger = snapshot.internal_ledger
    (fee,) = ledger.asset_fees
    unpriced = ledger.model_copy(update={"asset_fees": (fee.model_copy(update={"price": None}),)})
    (crypto,) = (
        c
        for c in by_asset_class(snapshot.model_copy(update={"internal_ledger": unpriced}))
        if c.asset_class == "crypto"
    )
    assert (crypto.coin_fees, crypto.coin_fees_by_strategy) == (None, {"momentum": None})
