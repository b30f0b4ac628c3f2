"""The snapshot schema: validation, deterministic ids, sealing, verification and parsing."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from datetime import date, datetime, timedelta
from decimal import Decimal
from enum import Enum
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from pydantic import BaseModel, ValidationError

from ledger_store.errors import IntegrityError, LedgerError, LedgerValidationError
from snapshots import schema
from snapshots.canonical import canonical_bytes
from snapshots.schema import (
    SNAPSHOT_NAMESPACE,
    SNAPSHOT_VERSION,
    AccountSnapshot,
    CheckStatus,
    IntegrityCheck,
    InternalLedger,
    SnapshotBody,
    StrategyPerformance,
    TradeMetrics,
    body_bytes,
    compose_snapshot,
    load_snapshot,
    parse_snapshot,
    seal,
    snapshot_bytes,
    snapshot_id_for,
    verify,
)
from tests.builders import (
    ACCOUNT,
    CORRELATION,
    PERIOD_END,
    PERIOD_START,
    alpaca_account,
    alpaca_data,
    alpaca_position,
    integrity_checks,
    internal_ledger,
    snapshot_body,
)

KEY = b"snapshot-hmac-key"
#: Pinned: ids are keys downstream; a change here breaks every stored reference.
EXPECTED_ID = "b8daa3a2-69b3-5dd1-938a-7c95bf5ba276"


@pytest.fixture(scope="module")
def body() -> SnapshotBody:
    built: SnapshotBody = snapshot_body()
    return built


@pytest.fixture(scope="module")
def sealed(body: SnapshotBody) -> AccountSnapshot:
    return seal(body, KEY)


def revalidate(model: BaseModel, **changes: Any) -> Any:
    """Validate the model's fields with ``changes`` applied (unlike ``model_copy``)."""
    return type(model).model_validate({**dict(model), **changes})


# Version and ids ---------------------------------------------------------------------------------


def test_version() -> None:
    assert SNAPSHOT_VERSION == "1.8"
    assert schema.SUPPORTED_VERSIONS == (
        "1.0",
        "1.1",
        "1.2",
        "1.3",
        "1.4",
        "1.5",
        "1.6",
        "1.7",
        "1.8",
    )


def test_snapshot_id_is_deterministic() -> None:
    assert uuid.uuid5(uuid.NAMESPACE_URL, "urn:trade-ledger:account-snapshot") == SNAPSHOT_NAMESPACE
    expected = str(uuid.uuid5(SNAPSHOT_NAMESPACE, f"{ACCOUNT}|2024-03-03T00:00:00Z"))
    assert snapshot_id_for(ACCOUNT, PERIOD_END) == expected == EXPECTED_ID
    assert uuid.UUID(EXPECTED_ID).version == 5
    # the same instant in another zone is the same period_end
    new_york = PERIOD_END.astimezone(ZoneInfo("America/New_York"))
    assert snapshot_id_for(ACCOUNT, new_york) == EXPECTED_ID
    assert snapshot_id_for("acct-2", PERIOD_END) != EXPECTED_ID
    assert snapshot_id_for(ACCOUNT, PERIOD_END + timedelta(seconds=1)) != EXPECTED_ID


def test_a_built_snapshot_carries_its_id_and_version(body: SnapshotBody) -> None:
    assert body.snapshot_id == EXPECTED_ID
    assert body.snapshot_version == "1.1"
    assert snapshot_body().model_dump() == body.model_dump()  # built twice: equal


def test_storage_only_attributes_are_not_in_the_schema() -> None:
    assert "created_at" not in AccountSnapshot.model_fields
    assert "ttl" not in AccountSnapshot.model_fields
    assert set(AccountSnapshot.model_fields) - set(SnapshotBody.model_fields) == {
        "checksum",
        "checksum_algorithm",
    }


# Validation --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"period_start": PERIOD_END}, "before period_end"),
        ({"period_start": PERIOD_END + timedelta(days=1)}, "before period_end"),
        ({"period_end": PERIOD_END + timedelta(microseconds=1)}, "whole second"),
        ({"period_start": PERIOD_START + timedelta(milliseconds=5)}, "whole second"),
        ({"period_start": datetime(2024, 3, 2)}, "timezone-aware"),  # noqa: DTZ001
        ({"snapshot_id": str(uuid.uuid4())}, "snapshot_id must be"),
        ({"snapshot_version": "2.0"}, "snapshot_version"),
        ({"account_id": "acct#1"}, "account_id"),
        ({"correlation_id": ""}, "correlation_id"),
        ({"unexpected": 1}, "unexpected"),
        ({"integrity_checks": integrity_checks() * 2}, "duplicate integrity check"),
        ({"alpaca_positions": (alpaca_position(), alpaca_position())}, "duplicate position"),
    ],
)
def test_snapshot_validation_rules(
    body: SnapshotBody, changes: dict[str, Any], message: str
) -> None:
    with pytest.raises(ValidationError, match=message):
        revalidate(body, **changes)


def test_trades_must_lie_before_period_end(body: SnapshotBody) -> None:
    # the same ledger, claimed for a period that ends before its last trade
    with pytest.raises(ValidationError, match="at or after period_end"):
        revalidate(
            body,
            period_start=PERIOD_START - timedelta(days=1),
            period_end=PERIOD_START,
            snapshot_id=snapshot_id_for(ACCOUNT, PERIOD_START),
        )


def test_period_trades_must_lie_after_period_start(body: SnapshotBody) -> None:
    with pytest.raises(ValidationError, match="before period_start"):
        revalidate(body, period_start=PERIOD_START + timedelta(hours=15))


def test_lists_are_put_in_canonical_order(body: SnapshotBody) -> None:
    shuffled = revalidate(
        body,
        alpaca_positions=tuple(reversed(body.alpaca_positions)),
        alpaca_orders=tuple(reversed(body.alpaca_orders)),
        alpaca_fees=tuple(reversed(body.alpaca_fees)),
        equity_series=tuple(reversed(body.equity_series)),
        integrity_checks=tuple(reversed(body.integrity_checks)),
    )
    assert body_bytes(shuffled) == body_bytes(body)
    assert [p.symbol for p in body.alpaca_positions] == ["AAPL", "MSFT"]
    assert [c.name for c in body.integrity_checks] == [
        "fills_match_orders",
        "positions_match_ledger",
    ]


def test_snapshots_are_frozen(body: SnapshotBody) -> None:
    with pytest.raises(ValidationError, match="frozen"):
        body.account_id = "acct-2"  # type: ignore[misc]


def _metrics(**changes: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "total_trades": 2,
        "buy_trades": 1,
        "sell_trades": 1,
        "total_buy_value": Decimal("100"),
        "total_sell_value": Decimal("110"),
        "gross_pnl": Decimal("10"),
        "realized_pnl": Decimal("10"),
        "fees": Decimal("0.5"),
        "net_realized_pnl": Decimal("9.5"),
        "symbols_traded": ("AAPL",),
        "first_trade_at": PERIOD_START,
        "last_trade_at": PERIOD_START + timedelta(hours=1),
    }
    data.update(changes)
    return data


def test_valid_trade_metrics() -> None:
    metrics = TradeMetrics.model_validate(_metrics())
    assert metrics.gross_pnl == 10
    empty = TradeMetrics.model_validate(
        _metrics(
            total_trades=0,
            buy_trades=0,
            sell_trades=0,
            total_buy_value=0,
            total_sell_value=0,
            gross_pnl=0,
            realized_pnl=0,
            fees=0,
            net_realized_pnl=0,
            symbols_traded=(),
            first_trade_at=None,
            last_trade_at=None,
        )
    )
    assert empty.first_trade_at is None


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"total_trades": 3}, "total_trades must equal"),
        ({"gross_pnl": Decimal("9.99")}, "gross_pnl must equal"),
        ({"net_realized_pnl": Decimal("10")}, "net_realized_pnl must equal"),
        ({"symbols_traded": ("MSFT", "AAPL")}, "sorted and unique"),
        ({"symbols_traded": ("AAPL", "AAPL")}, "sorted and unique"),
        ({"first_trade_at": PERIOD_END}, "first_trade_at is after"),
        ({"last_trade_at": None}, "need first_trade_at"),
        ({"fees": Decimal("-1"), "net_realized_pnl": Decimal("11")}, "fees"),
        ({"total_buy_value": Decimal("-100"), "gross_pnl": Decimal("210")}, "total_buy_value"),
        ({"total_trades": -1, "buy_trades": -1, "sell_trades": 0}, "greater than or equal"),
        (
            {"sell_trades": 0, "buy_trades": 2, "realized_pnl": 5, "net_realized_pnl": 4.5},
            "without sells",
        ),
    ],
)
def test_trade_metrics_invariants(changes: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        TradeMetrics.model_validate(_metrics(**changes))


def test_strategy_performance_invariants() -> None:
    cumulative = _metrics()
    period = _metrics(  # the later of the two trades: the sell
        total_trades=1,
        buy_trades=0,
        total_buy_value=0,
        gross_pnl=Decimal("110"),
        first_trade_at=PERIOD_START + timedelta(hours=1),
    )
    assert StrategyPerformance.model_validate({**cumulative, "period": period}).period

    def invalid(**changes: Any) -> dict[str, Any]:
        return {**cumulative, "period": {**period, **changes}}

    with pytest.raises(ValidationError, match="more trades"):
        StrategyPerformance.model_validate(invalid(total_trades=2, buy_trades=0, sell_trades=2))
    with pytest.raises(ValidationError, match="latest part"):
        StrategyPerformance.model_validate(
            invalid(first_trade_at=PERIOD_START, last_trade_at=PERIOD_START)
        )
    with pytest.raises(ValidationError, match="period symbols"):
        StrategyPerformance.model_validate(invalid(symbols_traded=("MSFT",)))


def test_internal_ledger_invariants() -> None:
    ledger = internal_ledger()
    assert isinstance(ledger, InternalLedger)
    with pytest.raises(ValidationError, match="strategies_active"):
        revalidate(ledger, strategies_active=("alpha",))
    with pytest.raises(ValidationError, match="total_trades must lie"):
        revalidate(ledger, total_trades=99)
    with pytest.raises(ValidationError, match="ledger_id"):
        revalidate(ledger, ledger_id=" ")
    alpha = ledger.strategy_performance["alpha"]
    with pytest.raises(ValidationError, match="own"):
        revalidate(ledger, strategy_performance={**ledger.strategy_performance, "gamma": alpha})
    # strategies are kept sorted by name whatever the input order
    reordered = revalidate(
        ledger, strategy_performance=dict(reversed(ledger.strategy_performance.items()))
    )
    assert list(reordered.strategy_performance) == ["alpha", "beta"]


def test_integrity_check_status_is_pass_warn_or_fail() -> None:
    assert [s.value for s in CheckStatus] == ["pass", "warn", "fail"]
    check = IntegrityCheck(name="x", status="warn", message="m", details={"a": "1"})
    assert check.status is CheckStatus.WARN
    with pytest.raises(ValidationError):
        IntegrityCheck(name="x", status="ok", message="m")
    # details: counts are integers >= 0, everything else text; nothing else (1.1)
    assert IntegrityCheck(name="x", status="pass", message="m", details={"a": 1}).details == {
        "a": 1
    }
    for bad in (-1, 1.5, True, None, ["1"], {"n": 1}):
        with pytest.raises(ValidationError):
            IntegrityCheck(name="x", status="pass", message="m", details={"a": bad})


def test_version_1_0_keeps_what_it_promised() -> None:
    """A 1.0 body may not use what 1.1 relaxed: integer details, missing Alpaca fields."""
    checks = (IntegrityCheck(name="x", status="pass", message="m", details={"n": 3}),)
    with pytest.raises(ValidationError, match=r"1\.0 writes details as text"):
        snapshot_body(snapshot_version="1.0", integrity_checks=checks)
    bare = alpaca_account(initial_margin=None, maintenance_margin=None)
    with pytest.raises(ValidationError, match=r"1\.0 requires alpaca_account\.initial_margin"):
        snapshot_body(snapshot_version="1.0", alpaca_account=bare)
    relaxed = snapshot_body(alpaca_account=bare, integrity_checks=checks)
    assert relaxed.snapshot_version == "1.1"
    assert relaxed.alpaca_account.initial_margin is None


def test_compose_rejects_alpaca_data_of_another_period() -> None:
    with pytest.raises(LedgerValidationError, match="not the snapshot's period"):
        compose_snapshot(
            account_id=ACCOUNT,
            period_start=PERIOD_START - timedelta(days=1),
            period_end=PERIOD_END,
            correlation_id=CORRELATION,
            alpaca=alpaca_data(),
            internal_ledger=internal_ledger(),
        )


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"account_id": "acct#bad"}, "account_id must not contain '#'"),
        ({"correlation_id": " cycle"}, "violates the snapshot schema 1.1: correlation_id"),
        ({"integrity_checks": integrity_checks() * 2}, "duplicate integrity check name"),
    ],
)
def test_compose_reports_invalid_parts_as_validation_errors(
    changes: dict[str, Any], message: str
) -> None:
    parts: dict[str, Any] = {
        "account_id": ACCOUNT,
        "period_start": PERIOD_START,
        "period_end": PERIOD_END,
        "correlation_id": CORRELATION,
        "alpaca": alpaca_data(),
        "internal_ledger": internal_ledger(),
        **changes,
    }
    with pytest.raises(LedgerValidationError, match=message):
        compose_snapshot(**parts)


# Sealing and verification ------------------------------------------------------------------------


def test_seal_with_and_without_a_key(body: SnapshotBody, sealed: AccountSnapshot) -> None:
    assert sealed.checksum_algorithm == "hmac-sha256"
    plain_sealed = seal(body, None)
    assert plain_sealed.checksum_algorithm == "sha256"
    assert plain_sealed.checksum != sealed.checksum
    verify(sealed, KEY)
    verify(plain_sealed, None)
    # the body is unchanged by sealing, and resealing is idempotent
    assert body_bytes(sealed) == body_bytes(body)
    assert seal(sealed, KEY) == sealed


def test_body_bytes_exclude_only_the_checksum(sealed: AccountSnapshot) -> None:
    body = json.loads(body_bytes(sealed))
    whole = json.loads(snapshot_bytes(sealed))
    assert set(whole) - set(body) == {"checksum", "checksum_algorithm"}
    assert {k: whole[k] for k in body} == body


def test_verify_names_the_snapshot_and_hides_the_expected_digest(sealed: AccountSnapshot) -> None:
    with pytest.raises(IntegrityError) as caught:
        verify(sealed, b"another-key")
    message = str(caught.value)
    assert EXPECTED_ID in message
    assert ACCOUNT in message
    assert "2024-03-03T00:00:00Z" in message
    assert "does not match" in message
    correct = seal(sealed, b"another-key").checksum
    assert correct not in message


def test_verify_refuses_algorithm_downgrades(body: SnapshotBody, sealed: AccountSnapshot) -> None:
    with pytest.raises(IntegrityError, match="no HMAC key was given"):
        verify(sealed, None)
    with pytest.raises(IntegrityError, match="an HMAC key is configured"):
        verify(seal(body, None), KEY)


def _mutations(value: Any, path: str = "") -> Iterator[tuple[str, Any]]:
    """Every single-leaf change (and every element removal) of ``value``, unvalidated."""
    if isinstance(value, BaseModel):
        for name in type(value).model_fields:
            for sub, new in _mutations(getattr(value, name), f"{path}.{name}"):
                yield sub, value.model_copy(update={name: new})
    elif isinstance(value, tuple):
        for i, item in enumerate(value):
            yield f"{path}[{i}] removed", value[:i] + value[i + 1 :]
            for sub, new in _mutations(item, f"{path}[{i}]"):
                yield sub, (*value[:i], new, *value[i + 1 :])
    elif isinstance(value, dict):
        for key, item in value.items():
            renamed = {(k + "x" if k == key else k): v for k, v in value.items()}
            yield f"{path}[{key!r}] renamed", renamed
            for sub, new in _mutations(item, f"{path}[{key!r}]"):
                yield sub, {**value, key: new}
    else:
        yield path, _changed(value, path)


def _changed(value: Any, path: str) -> Any:
    if value is None:
        raise AssertionError(f"{path} is None: the builder must populate every field")
    if isinstance(value, Enum):
        return next(member for member in type(value) if member != value)
    if isinstance(value, bool):
        return not value
    if isinstance(value, int | Decimal):
        return value + 1
    if isinstance(value, str):
        return value + "x"
    if isinstance(value, datetime):
        return value + timedelta(microseconds=1)
    if isinstance(value, date):
        return value + timedelta(days=1)
    raise AssertionError(f"{path}: no mutation for {type(value).__name__}")


def test_the_checksum_detects_a_change_in_any_field(sealed: AccountSnapshot) -> None:
    mutations = list(_mutations(sealed))
    undetected = []
    for path, mutated in mutations:
        assert body_bytes(mutated) != body_bytes(sealed) or path.startswith(".checksum"), path
        try:
            verify(mutated, KEY)
        except IntegrityError:
            continue
        undetected.append(path)
    assert undetected == []
    touched = {path.split("[")[0].split(".")[1].split(" ")[0] for path, _ in mutations}
    assert touched == set(AccountSnapshot.model_fields)
    assert len(mutations) > 200  # every leaf of accounts, orders, lots, checks...


# Stored form and parsing -------------------------------------------------------------------------


def test_stored_bytes_round_trip(sealed: AccountSnapshot) -> None:
    data = snapshot_bytes(sealed)
    assert data == canonical_bytes(sealed)
    parsed = parse_snapshot(data)
    assert parsed == sealed
    assert snapshot_bytes(parsed) == data
    verify(parsed, KEY)
    assert load_snapshot(data.decode("utf-8"), KEY) == sealed


def test_load_detects_tampered_stored_bytes(sealed: AccountSnapshot) -> None:
    data = snapshot_bytes(sealed)
    assert b'"cash":"1000.5"' in data
    tampered = data.replace(b'"cash":"1000.5"', b'"cash":"9000.5"')
    assert parse_snapshot(tampered).alpaca_account.cash == Decimal("9000.5")
    with pytest.raises(IntegrityError, match=EXPECTED_ID):
        load_snapshot(tampered, KEY)


@pytest.mark.parametrize("version", ["2.0", "0.9", "1", None, 1.0])
def test_unknown_versions_are_rejected(sealed: AccountSnapshot, version: Any) -> None:
    raw = json.loads(snapshot_bytes(sealed))
    raw["snapshot_version"] = version
    text = json.dumps(raw)
    with pytest.raises(IntegrityError) as caught:
        parse_snapshot(text)
    assert "float" in str(caught.value) or "unsupported snapshot_version" in str(caught.value)
    if version != 1.0:
        assert EXPECTED_ID in str(caught.value)


def test_a_missing_version_is_rejected(sealed: AccountSnapshot) -> None:
    raw = json.loads(snapshot_bytes(sealed))
    del raw["snapshot_version"]
    with pytest.raises(IntegrityError, match="unsupported snapshot_version None"):
        parse_snapshot(json.dumps(raw))


@pytest.mark.parametrize(
    ("mangle", "message"),
    [
        (lambda raw: raw.pop("internal_ledger"), "internal_ledger"),
        (lambda raw: raw.update(extra="field"), "extra"),
        (lambda raw: raw.update(period_end="2024-03-03T00:00:00"), "period_end"),
        (lambda raw: raw.update(checksum="not-hex"), "checksum"),
        (lambda raw: raw.update(checksum_algorithm="md5"), "checksum_algorithm"),
    ],
)
def test_schema_errors_are_integrity_errors(
    sealed: AccountSnapshot, mangle: Any, message: str
) -> None:
    raw = json.loads(snapshot_bytes(sealed))
    mangle(raw)
    with pytest.raises(IntegrityError, match=message) as caught:
        parse_snapshot(json.dumps(raw).encode())
    assert "violates the snapshot schema" in str(caught.value)
    assert isinstance(caught.value, LedgerError)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"\xff\xfe", "canonical JSON"),
        (b"{", "canonical JSON"),
        (b"[]", "JSON object"),
        (b'{"snapshot_version":"1.0","x":1.5}', "floats"),
        (b'{"snapshot_version":"1.0","x":NaN}', "floats"),
        (b'{"snapshot_version":"1.0","snapshot_version":"1.0"}', "twice"),
    ],
)
def test_malformed_stored_bytes_are_integrity_errors(data: bytes, message: str) -> None:
    with pytest.raises(IntegrityError, match=message):
        parse_snapshot(data)
