"""``snapshot_version`` 1.2: the account ledger and Alpaca's activities, and what they may hold.

Built on the committed 1.2 fixture body: each test edits one thing a writer could get wrong and
the reader must refuse (a malformed snapshot never reaches a report as if it were sound).
"""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest

from ledger_store.errors import IntegrityError, LedgerValidationError
from snapshots.alpaca.models import AlpacaData
from snapshots.schema import (
    AccountSnapshot,
    AccountSnapshotV12,
    SnapshotBody,
    SnapshotBodyV12,
    body_bytes,
    compose_snapshot,
    parse_snapshot_object,
    seal,
)
from tests.builders import ROOT, alpaca_data, internal_ledger

BODY = json.loads((ROOT / "tests" / "fixtures" / "snapshot_v1_2_body.json").read_bytes())


def raw(**changes: Any) -> dict[str, Any]:
    data = copy.deepcopy(BODY)
    data.update(changes)
    return {**data, "checksum": "0" * 64, "checksum_algorithm": "sha256"}


def ledger(**changes: Any) -> dict[str, Any]:
    data = copy.deepcopy(BODY["internal_ledger"])
    data.update(changes)
    return data


def test_the_fixture_body_is_a_1_2_snapshot() -> None:
    snapshot = parse_snapshot_object(raw())
    assert isinstance(snapshot, AccountSnapshotV12)
    assert json.loads(body_bytes(snapshot)) == BODY


def test_a_body_under_another_versions_label_is_refused() -> None:
    # 1.2 content labelled 1.1: the 1.1 model has no activities and another ledger.
    with pytest.raises(IntegrityError, match="alpaca_activities"):
        parse_snapshot_object(raw(snapshot_version="1.1"))
    # 1.1 content labelled 1.2.
    old = seal(compose_snapshot(**_parts(internal_ledger())), None)
    assert isinstance(old, AccountSnapshot)
    data = {**json.loads(old.model_dump_json()), "snapshot_version": "1.2"}
    with pytest.raises(IntegrityError, match=r"schema 1\.2"):
        parse_snapshot_object(data)


def _parts(ledger: Any) -> dict[str, Any]:
    data: AlpacaData = alpaca_data()
    return {
        "account_id": "acct-1",
        "period_start": data.period_start,
        "period_end": data.period_end,
        "correlation_id": "cycle-1",
        "alpaca": data,
        "internal_ledger": ledger,
    }


def test_the_ledger_decides_the_version_it_is_composed_as() -> None:
    body = compose_snapshot(**_parts(internal_ledger()))
    assert isinstance(body, SnapshotBody)
    assert body.snapshot_version == "1.1"
    snapshot = parse_snapshot_object(raw())
    assert isinstance(snapshot, AccountSnapshotV12)
    fields = {name: getattr(snapshot, name) for name in SnapshotBodyV12.model_fields}
    assert SnapshotBodyV12.model_validate(fields).snapshot_version == "1.2"


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        pytest.param(
            {"alpaca_activities": [BODY["alpaca_activities"][0]] * 2},
            "account activity id",
            id="activity-twice",
        ),
        pytest.param(
            {
                "alpaca_activities": [
                    {**BODY["alpaca_activities"][0], "created_at": "2026-08-08T00:00:00.000000Z"}
                ]
            },
            "activities created outside the period",
            id="activity-after-the-period",
        ),
    ],
)
def test_activities_are_the_periods_once_each_in_order(
    changes: dict[str, Any], message: str
) -> None:
    with pytest.raises(IntegrityError, match=message):
        parse_snapshot_object(raw(**changes))


def test_activities_are_kept_in_their_canonical_order() -> None:
    """Like every Alpaca list: sorted on the way in, so equal data gives equal bytes."""
    shuffled = parse_snapshot_object(raw(alpaca_activities=BODY["alpaca_activities"][::-1]))
    assert shuffled == parse_snapshot_object(raw())


def _moved(event: dict[str, Any], **changes: Any) -> dict[str, Any]:
    return {**event, **changes}


CASH_FLOWS = BODY["internal_ledger"]["cash_flows"]
DIVIDENDS = BODY["internal_ledger"]["dividends"]


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        pytest.param(
            {
                "cash_flows": [
                    _moved(CASH_FLOWS[0], effective_at="2026-07-31T12:00:00.000000Z"),
                    CASH_FLOWS[1],
                ]
            },
            "outside the period",
            id="cash-flow-before-the-period",
        ),
        pytest.param(
            {"cash_flows": [_moved(CASH_FLOWS[0], account_id="another-account"), CASH_FLOWS[1]]},
            "another account",
            id="cash-flow-of-another-account",
        ),
        pytest.param(
            {"net_deposits": "1000"},
            "net_deposits must be the sum",
            id="net-deposits-not-the-sum",
        ),
        pytest.param(
            {"cash_flows": list(reversed(CASH_FLOWS))},
            "cash_flows must be ordered",
            id="cash-flows-out-of-order",
        ),
        pytest.param(
            {"unattributed_dividends": [_moved(DIVIDENDS[0], amount="2.5")]},
            "among the period's dividends",
            id="unattributed-dividend-not-recorded",
        ),
        pytest.param(
            {"dividends": [DIVIDENDS[0], DIVIDENDS[0]]},
            "dividends must be ordered",
            id="dividend-twice",
        ),
        pytest.param(
            {"strategies_active": ["momentum"]},
            "strategies_active",
            id="strategies-active-not-the-traders",
        ),
    ],
)
def test_the_account_ledger_holds_the_periods_own_events_consistently(
    changes: dict[str, Any], message: str
) -> None:
    with pytest.raises(IntegrityError, match=message):
        parse_snapshot_object(raw(internal_ledger=ledger(**changes)))


def test_strategy_figures_must_add_up() -> None:
    performance = copy.deepcopy(BODY["internal_ledger"]["strategy_performance"])
    performance["momentum"]["net_realized_pnl"] = "72.81"  # 72.4 + 0.624 - 0.215 = 72.809
    with pytest.raises(IntegrityError, match="momentum"):
        parse_snapshot_object(raw(internal_ledger=ledger(strategy_performance=performance)))
    performance = copy.deepcopy(BODY["internal_ledger"]["strategy_performance"])
    performance["momentum"]["open_lots"][1]["strategy"] = "trend_following"
    with pytest.raises(IntegrityError, match="own"):
        parse_snapshot_object(raw(internal_ledger=ledger(strategy_performance=performance)))


def test_composing_with_data_of_another_period_is_a_validation_error() -> None:
    snapshot = parse_snapshot_object(raw())
    assert isinstance(snapshot, AccountSnapshotV12)
    data: AlpacaData = alpaca_data()
    with pytest.raises(LedgerValidationError, match="not the snapshot's period"):
        compose_snapshot(
            account_id=snapshot.account_id,
            period_start=snapshot.period_start,
            period_end=snapshot.period_end,
            correlation_id=snapshot.correlation_id,
            alpaca=data,
            internal_ledger=snapshot.internal_ledger,
        )
