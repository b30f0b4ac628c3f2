"""``TradeLedgerRepository`` on both engines: recording, idempotency, atomicity, every read path."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import pytest

from ledger_store.config import TableSettings
from ledger_store.dto import MAX_FILLS_PER_STRATEGY, StrategyRegistration, TradeFill
from ledger_store.errors import (
    ConfigurationError,
    ConflictError,
    IntegrityError,
    LedgerError,
    LedgerValidationError,
    NotFoundError,
    StorageAccessError,
    StorageConfigurationError,
    StorageUnavailableError,
)
from ledger_store.trades import TradeLedgerRepository
from tests.builders import (
    ACCOUNT,
    CORRELATION,
    READERS,
    THIRDS,
    Reader,
    at,
    make_fill,
    order_ids,
    put_raw,
    raw_item,
    raw_partition,
    raw_table,
    record_all,
)

START = at(seconds=10)
END = at(seconds=20)
MICRO = timedelta(microseconds=1)


def registry(ledger: TradeLedgerRepository, account_id: str = ACCOUNT) -> dict[str, int]:
    return {r.strategy: r.trade_count for r in ledger.strategies(account_id)}


# Recording ----------------------------------------------------------------------------------


def test_record_then_get_round_trip(ledger: TradeLedgerRepository) -> None:
    fill = make_fill(
        qty="12.5",
        price="187.2500",
        filled_at="2024-03-01T09:30:00.123456-05:00",
        order_type="limit",
        fees="0.35",
        bid_at_fill="187.24",
        ask_at_fill="187.26",
        strategy_allocation=THIRDS,
    )

    result = ledger.record(fill)

    assert result.status == "recorded"
    assert result.created
    assert result.order_id == fill.order_id
    stored = ledger.get_trade(fill.order_id)
    assert stored.fill == fill
    assert stored.fill.content_sha256() == fill.content_sha256()
    assert stored.fill.filled_at == datetime(2024, 3, 1, 14, 30, 0, 123456, tzinfo=UTC)
    assert stored.attributions == fill.attributions()
    assert registry(ledger) == {"alpha": 1, "beta": 1, "gamma": 1}


def test_identical_rerecord_is_reported_and_changes_nothing(
    ledger: TradeLedgerRepository, settings: TableSettings
) -> None:
    fill = make_fill()
    ledger.record(fill)
    before = raw_table(settings)

    # The same fill again, and the same content written differently (notation, key order).
    again = ledger.record(fill)
    same = ledger.record(
        make_fill(
            qty="10.000",
            price="187.250",
            fees="0.010",
            filled_at="2024-03-01T09:30:00-05:00",
            strategy_allocation={"beta": "0.40", "alpha": "0.60"},
        )
    )

    assert again.status == same.status == "already_recorded"
    assert not again.created
    assert raw_table(settings) == before
    assert registry(ledger) == {"alpha": 1, "beta": 1}


@pytest.mark.parametrize(
    ("field", "change"),
    [
        pytest.param("qty", {"qty": "10.5"}, id="qty"),
        pytest.param("price", {"price": "187.26"}, id="price"),
        pytest.param("fees", {"fees": "0.02"}, id="fees"),
        pytest.param("side", {"side": "SELL"}, id="side"),
        pytest.param("filled_at", {"filled_at": at(1)}, id="filled_at"),
        pytest.param(
            "strategy_allocation",
            {"strategy_allocation": {"alpha": "0.5", "beta": "0.5"}},
            id="allocation",
        ),
        pytest.param("ask_at_fill", {"ask_at_fill": "187.3"}, id="ask_at_fill"),
    ],
)
def test_same_order_with_other_content_is_a_conflict(
    ledger: TradeLedgerRepository, settings: TableSettings, field: str, change: dict[str, Any]
) -> None:
    original = make_fill()
    ledger.record(original)
    before = raw_table(settings)

    with pytest.raises(ConflictError) as caught:
        ledger.record(make_fill(**change))

    conflict = caught.value
    assert conflict.key == "TRADE#order-1"
    assert len(conflict.differences) == 1
    assert conflict.differences[0].startswith(f"{field}: stored ")
    assert field in str(conflict)
    assert raw_table(settings) == before
    assert ledger.get_trade("order-1").fill == original
    assert registry(ledger) == {"alpha": 1, "beta": 1}


def test_a_transaction_failing_part_way_writes_nothing(
    ledger: TradeLedgerRepository, settings: TableSettings
) -> None:
    # How the failure is forced: strategy "zeta" already holds the most fills a strategy may
    # hold. The fill's transaction is, in order: put TRADE, put alpha's attribution, ADD 1 to
    # alpha's registry row, put zeta's attribution, ADD 1 to zeta's registry row. DynamoDB
    # itself refuses only that last action (its condition: the count is below the limit),
    # after four valid actions, so a non-atomic write would leave a trade, two attributions
    # and alpha's registry row behind. The engine must cancel all five.
    full = {
        "PK": {"S": f"ACCOUNT#{ACCOUNT}"},
        "SK": {"S": "STRATEGY#zeta"},
        "EntityType": {"S": "STRATEGY"},
        "account_id": {"S": ACCOUNT},
        "strategy": {"S": "zeta"},
        "trade_count": {"N": str(MAX_FILLS_PER_STRATEGY)},
    }
    put_raw(settings, full)
    fill = make_fill(strategy_allocation={"alpha": "0.5", "zeta": "0.5"})

    limit = r"strategy zeta .* already holds 1,000,000,000"
    with pytest.raises(LedgerValidationError, match=limit):
        ledger.record(fill)

    assert raw_table(settings) == [full]
    with pytest.raises(NotFoundError):
        ledger.get_trade(fill.order_id)
    assert list(ledger.trades_by_correlation(CORRELATION)) == []
    assert list(ledger.attributions_by_strategy(ACCOUNT, "alpha")) == []

    # One below the limit, the very same fill records, so the failure above came from that
    # one action's condition, not from the fill.
    put_raw(settings, {**full, "trade_count": {"N": str(MAX_FILLS_PER_STRATEGY - 1)}})
    assert ledger.record(fill).status == "recorded"
    assert len(raw_table(settings)) == 5
    assert registry(ledger) == {"alpha": 1, "zeta": MAX_FILLS_PER_STRATEGY}


def test_a_corrupt_registry_row_refuses_the_fill_typed(
    ledger: TradeLedgerRepository, settings: TableSettings
) -> None:
    corrupt = {
        "PK": {"S": f"ACCOUNT#{ACCOUNT}"},
        "SK": {"S": "STRATEGY#zeta"},
        "EntityType": {"S": "STRATEGY"},
        "account_id": {"S": ACCOUNT},
        "strategy": {"S": "zeta"},
        "trade_count": {"S": "three"},
    }
    put_raw(settings, corrupt)
    fill = make_fill(strategy_allocation={"alpha": "0.5", "zeta": "0.5"})

    # DynamoDB refuses the increment's condition and the row then fails its model
    # (IntegrityError); moto cannot compare the string and cancels (StorageUnavailableError).
    with pytest.raises(LedgerError):
        ledger.record(fill)
    assert raw_table(settings) == [corrupt]


# Reads by access path ---------------------------------------------------------------------


def test_trades_by_correlation_in_fill_order(ledger: TradeLedgerRepository) -> None:
    record_all(
        ledger,
        [
            make_fill(order_id="late", filled_at=at(seconds=3)),
            make_fill(order_id="other-cycle", correlation_id="cycle-2", filled_at=at(seconds=2)),
            # same instant: the order id breaks the tie
            make_fill(order_id="tie-b", filled_at=at(seconds=1)),
            make_fill(order_id="tie-a", filled_at=at(seconds=1)),
            make_fill(order_id="early", filled_at=at(seconds=0), symbol="MSFT"),
        ],
    )

    fills = list(ledger.trades_by_correlation(CORRELATION))

    assert order_ids(fills) == ["early", "tie-a", "tie-b", "late"]
    assert all(isinstance(f, TradeFill) for f in fills)
    assert fills[0] == make_fill(order_id="early", filled_at=at(seconds=0), symbol="MSFT")
    assert order_ids(ledger.trades_by_correlation("cycle-2")) == ["other-cycle"]
    assert list(ledger.trades_by_correlation("no-such-cycle")) == []


def test_trades_by_symbol_with_and_without_account(ledger: TradeLedgerRepository) -> None:
    record_all(
        ledger,
        [
            make_fill(order_id="mine-2", filled_at=at(seconds=2)),
            make_fill(order_id="theirs", account_id="acct-2", filled_at=at(seconds=1)),
            make_fill(order_id="mine-1", filled_at=at(seconds=0)),
            make_fill(order_id="msft", symbol="MSFT", filled_at=at(seconds=3)),
            make_fill(order_id="brk", symbol="BRK.B", filled_at=at(seconds=4)),
        ],
    )

    assert order_ids(ledger.trades_by_symbol("AAPL")) == ["mine-1", "theirs", "mine-2"]
    assert order_ids(ledger.trades_by_symbol("AAPL", account_id=ACCOUNT)) == ["mine-1", "mine-2"]
    assert order_ids(ledger.trades_by_symbol("AAPL", account_id="acct-2")) == ["theirs"]
    assert order_ids(ledger.trades_by_symbol("AAPL", account_id="acct-3")) == []
    assert order_ids(ledger.trades_by_symbol("MSFT")) == ["msft"]
    assert order_ids(ledger.trades_by_symbol("BRK.B")) == ["brk"]


def test_attributions_by_strategy(ledger: TradeLedgerRepository) -> None:
    both = make_fill(order_id="both", filled_at=at(seconds=2), fees="0.03", qty="7")
    only_alpha = make_fill(
        order_id="only-alpha", filled_at=at(seconds=1), strategy_allocation={"alpha": "1"}
    )
    other_account = make_fill(order_id="other", account_id="acct-2", filled_at=at(seconds=0))
    record_all(ledger, [both, only_alpha, other_account])

    alpha = list(ledger.attributions_by_strategy(ACCOUNT, "alpha"))
    beta = list(ledger.attributions_by_strategy(ACCOUNT, "beta"))

    assert alpha == [only_alpha.attributions()[0], both.attributions()[0]]
    assert beta == [both.attributions()[1]]
    assert (beta[0].qty, beta[0].fees, beta[0].weight) == (
        Decimal("2.8"),
        Decimal("0.012"),
        Decimal("0.4"),
    )
    assert order_ids(ledger.attributions_by_strategy("acct-2", "alpha")) == ["other"]
    assert list(ledger.attributions_by_strategy(ACCOUNT, "gamma")) == []


def test_strategies_lists_the_registry_by_name_with_counts(ledger: TradeLedgerRepository) -> None:
    record_all(
        ledger,
        [
            make_fill(order_id="1", strategy_allocation={"zeta": "0.5", "alpha": "0.5"}),
            make_fill(order_id="2", strategy_allocation={"zeta": "1"}),
            make_fill(order_id="3", strategy_allocation={"mu": "1"}, account_id="acct-2"),
        ],
    )

    assert [r.model_copy(update={"entries_digest": None}) for r in ledger.strategies(ACCOUNT)] == [
        StrategyRegistration(account_id=ACCOUNT, strategy="alpha", trade_count=1, revision=1),
        StrategyRegistration(account_id=ACCOUNT, strategy="zeta", trade_count=2, revision=2),
    ]
    assert registry(ledger, "acct-2") == {"mu": 1}
    assert ledger.strategies("acct-3") == []


# Half-open ranges ---------------------------------------------------------------------------


@pytest.fixture
def boundary_fills(ledger: TradeLedgerRepository) -> None:
    """Fills at START and END and at their microsecond neighbours."""
    record_all(
        ledger,
        [
            make_fill(order_id="start-1us", filled_at=START - MICRO),
            make_fill(order_id="start", filled_at=START),
            make_fill(order_id="start+1us", filled_at=START + MICRO),
            make_fill(order_id="end-1us", filled_at=END - MICRO),
            make_fill(order_id="end", filled_at=END),
            make_fill(order_id="end+1us", filled_at=END + MICRO),
        ],
    )


@pytest.mark.usefixtures("boundary_fills")
@pytest.mark.parametrize("read", READERS)
def test_ranges_are_half_open(ledger: TradeLedgerRepository, read: Reader) -> None:
    everything = ["start-1us", "start", "start+1us", "end-1us", "end", "end+1us"]
    assert order_ids(read(ledger, START, END)) == ["start", "start+1us", "end-1us"]
    assert order_ids(read(ledger, START, None)) == everything[1:]
    assert order_ids(read(ledger, None, END)) == everything[:4]
    assert order_ids(read(ledger, None, None)) == everything
    assert order_ids(read(ledger, START + MICRO, END + MICRO)) == ["start+1us", "end-1us", "end"]
    # the same instants written with another offset select the same fills
    new_york = timezone(timedelta(hours=-5))
    assert order_ids(read(ledger, START.astimezone(new_york), END.astimezone(new_york))) == [
        "start",
        "start+1us",
        "end-1us",
    ]


@pytest.mark.usefixtures("boundary_fills")
@pytest.mark.parametrize("read", READERS)
def test_empty_range_and_reversed_range(ledger: TradeLedgerRepository, read: Reader) -> None:
    assert list(read(ledger, START, START)) == []
    assert list(read(ledger, END, END)) == []
    # rejected when called, before anything is iterated
    with pytest.raises(LedgerValidationError, match="is after its end"):
        read(ledger, END, START)
    with pytest.raises(LedgerValidationError, match="is after its end"):
        read(ledger, START + MICRO, START)


@pytest.mark.parametrize("read", READERS)
def test_naive_range_bounds_are_rejected(ledger: TradeLedgerRepository, read: Reader) -> None:
    naive = datetime(2024, 3, 1, 14, 30)  # noqa: DTZ001 - the naive input under test
    for start, end in [(naive, None), (None, naive), (naive, END), (START, naive)]:
        with pytest.raises(LedgerValidationError, match="timezone-aware"):
            read(ledger, start, end)


@pytest.mark.parametrize("read", READERS)
def test_reads_return_lazy_iterators(ledger: TradeLedgerRepository, read: Reader) -> None:
    record_all(ledger, [make_fill(order_id="1"), make_fill(order_id="2", filled_at=at(1))])

    result = read(ledger, None, None)

    assert isinstance(result, Iterator)
    assert not isinstance(result, list | tuple)
    assert next(result).order_id == "1"
    assert order_ids(result) == ["2"]


# Errors -------------------------------------------------------------------------------------


def test_missing_order_is_not_found(ledger: TradeLedgerRepository) -> None:
    ledger.record(make_fill(order_id="present"))
    with pytest.raises(NotFoundError, match="'absent'"):
        ledger.get_trade("absent")
    with pytest.raises(LookupError):  # NotFoundError is also a LookupError
        ledger.get_trade("presen")


Operation = Callable[[TradeLedgerRepository], object]

OPERATIONS: list[Any] = [
    pytest.param(lambda ledger: ledger.record(make_fill()), id="record"),
    pytest.param(lambda ledger: ledger.get_trade("order-1"), id="get_trade"),
    pytest.param(lambda ledger: list(ledger.trades_by_correlation(CORRELATION)), id="by-corr"),
    pytest.param(lambda ledger: list(ledger.trades_by_symbol("AAPL")), id="by-symbol"),
    pytest.param(
        lambda ledger: list(ledger.attributions_by_strategy(ACCOUNT, "alpha")), id="by-strategy"
    ),
    pytest.param(lambda ledger: ledger.strategies(ACCOUNT), id="strategies"),
]


@pytest.mark.parametrize("operation", OPERATIONS)
def test_a_missing_table_is_a_refusal_no_retry_cures(
    settings: TableSettings, operation: Operation
) -> None:
    """Not ``StorageUnavailableError`` (transient, retried by Step Functions): the table will
    not appear by waiting. It is a configuration error naming the table it looked for, where,
    and the two ways out (a misspelt name, or a table to create)."""
    missing = TradeLedgerRepository(settings.with_table("missing-table-xyz"))
    with pytest.raises(StorageConfigurationError) as caught:
        operation(missing)
    message = str(caught.value)
    assert "table 'missing-table-xyz' does not exist at " in message
    assert "check the name (--table / TRADE_LEDGER_TABLE, --stage)" in message
    assert "`trade-ledger table create`" in message
    assert isinstance(caught.value, ConfigurationError)


INVALID_KEYS: list[Any] = [
    pytest.param(lambda ledger: ledger.get_trade("a#b"), "'#'", id="get_trade-hash"),
    pytest.param(lambda ledger: ledger.get_trade(""), "empty", id="get_trade-empty"),
    pytest.param(lambda ledger: ledger.get_trade("x" * 129), "129", id="get_trade-long"),
    pytest.param(lambda ledger: ledger.get_trade(" x"), "whitespace", id="get_trade-space"),
    pytest.param(lambda ledger: ledger.trades_by_correlation("cycle#1"), "'#'", id="by-corr-hash"),
    pytest.param(lambda ledger: ledger.trades_by_symbol("A#B"), "'#'", id="by-symbol-hash"),
    pytest.param(
        lambda ledger: ledger.trades_by_symbol("AAPL", account_id="a\x00"),
        "control",
        id="by-symbol-account-nul",
    ),
    pytest.param(
        lambda ledger: ledger.attributions_by_strategy("a#b", "alpha"),
        "'#'",
        id="by-strategy-account-hash",
    ),
    pytest.param(
        lambda ledger: ledger.attributions_by_strategy(ACCOUNT, "  "),
        "empty",
        id="by-strategy-blank",
    ),
    pytest.param(lambda ledger: ledger.strategies("a#b"), "'#'", id="strategies-hash"),
]


@pytest.mark.parametrize(("operation", "reason"), INVALID_KEYS)
def test_keys_are_validated_before_any_request(
    settings: TableSettings, operation: Operation, reason: str
) -> None:
    # Against a table that does not exist: any request that reached DynamoDB would raise
    # StorageUnavailableError, so a LedgerValidationError proves nothing was sent. The
    # iterator-returning reads are not iterated: they must reject the key when called.
    missing = TradeLedgerRepository(settings.with_table("missing-table-xyz"))
    with pytest.raises(LedgerValidationError, match=reason):
        operation(missing)


def test_a_rejected_record_leaves_the_table_empty(
    ledger: TradeLedgerRepository, settings: TableSettings
) -> None:
    # A fill that bypassed validation (model_construct) is still refused before writing.
    valid = make_fill()
    bad = TradeFill.model_construct(**{**dict(valid), "order_id": "a#b"})
    with pytest.raises(LedgerValidationError, match="'#'"):
        ledger.record(bad)
    assert raw_table(settings) == []
    assert raw_item(settings, "TRADE#a#b", "METADATA") is None
    assert raw_partition(settings, "TRADE#a#b") == []


@pytest.mark.parametrize(
    "damage",
    [
        {"trade_count": {"S": "three"}},
        {"strategy": None},
    ],
    ids=["string-count", "missing-strategy"],
)
def test_a_corrupt_registry_row_is_an_integrity_error(
    settings: TableSettings, ledger: TradeLedgerRepository, damage: dict[str, Any]
) -> None:
    corrupt: dict[str, Any] = {
        "PK": {"S": f"ACCOUNT#{ACCOUNT}"},
        "SK": {"S": "STRATEGY#zeta"},
        "EntityType": {"S": "STRATEGY"},
        "account_id": {"S": ACCOUNT},
        "strategy": {"S": "zeta"},
        "trade_count": {"N": "3"},
    }
    for name, value in damage.items():
        if value is None:
            del corrupt[name]
        else:
            corrupt[name] = value
    put_raw(settings, corrupt)
    with pytest.raises(IntegrityError, match=f"ACCOUNT#{ACCOUNT} / STRATEGY#zeta"):
        ledger.strategies(ACCOUNT)


@pytest.mark.parametrize(
    "damage",
    [
        {"qty": {"N": "-1"}},
        {"qty": {"S": "ten"}},
        {"filled_at": {"S": "yesterday"}},
        {"side": {"S": "HOLD"}},
        {"symbol": None},
        {"price": {"N": "0"}},
    ],
    ids=["negative-qty", "qty-as-text", "bad-time", "bad-side", "missing-symbol", "zero-price"],
)
def test_a_corrupt_attribution_is_an_integrity_error_on_the_strategy_path(
    settings: TableSettings, ledger: TradeLedgerRepository, damage: dict[str, Any]
) -> None:
    """The strategy read path parses raw items without a PynamoDB model: a stored attribution
    that does not fit is still a typed ``IntegrityError`` naming the item, never a raw one."""
    fill = make_fill(strategy_allocation={"alpha": "1"})
    ledger.record(fill)
    item = raw_item(settings, f"TRADE#{fill.order_id}", "STRATEGY#alpha")
    assert item is not None
    for name, value in damage.items():
        if value is None:
            del item[name]
        else:
            item[name] = value
    put_raw(settings, item)
    with pytest.raises(IntegrityError, match=f"TRADE#{fill.order_id} / STRATEGY#alpha"):
        list(ledger.attributions_by_strategy(ACCOUNT, "alpha"))


@pytest.mark.parametrize(
    ("sk", "damage"),
    [
        ("METADATA", {"qty": {"N": "-1"}}),
        ("METADATA", {"side": {"S": "HOLD"}}),
        ("STRATEGY#alpha", {"qty": {"N": "-1"}}),
        ("STRATEGY#alpha", {"price": {"N": "0"}}),
    ],
    ids=["trade-negative-qty", "trade-bad-side", "share-negative-qty", "share-zero-price"],
)
def test_a_corrupt_trade_or_share_is_an_integrity_error_on_every_trade_read(
    settings: TableSettings, ledger: TradeLedgerRepository, sk: str, damage: dict[str, Any]
) -> None:
    """Values the model's types accept but the DTO refuses: a typed ``IntegrityError`` naming
    the item from ``get_trade`` and the index reads, never pydantic's ``ValidationError``."""
    fill = make_fill(strategy_allocation={"alpha": "1"})
    ledger.record(fill)
    item = raw_item(settings, f"TRADE#{fill.order_id}", sk)
    assert item is not None
    put_raw(settings, {**item, **damage})
    named = f"TRADE#{fill.order_id} / {sk}"
    with pytest.raises(IntegrityError, match=named):
        ledger.get_trade(fill.order_id)
    if sk == "METADATA":
        with pytest.raises(IntegrityError, match=named):
            list(ledger.trades_by_correlation(CORRELATION))
        with pytest.raises(IntegrityError, match=named):
            list(ledger.trades_by_symbol(fill.symbol))


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        ("AccessDeniedException", StorageAccessError),
        ("UnrecognizedClientException", StorageAccessError),
        ("ResourceNotFoundException", StorageConfigurationError),
        ("ProvisionedThroughputExceededException", StorageUnavailableError),
        ("ThrottlingException", StorageUnavailableError),
        ("InternalServerError", StorageUnavailableError),
        ("TransactionConflictException", StorageUnavailableError),
    ],
)
def test_dynamodbs_refusals_are_permanent_and_its_outages_transient(
    code: str, expected: type[Exception]
) -> None:
    """Step Functions retries ``StorageUnavailableError`` (a ``TransientError``) and nothing
    else: access denied or a missing table fails the task at once, with what to fix."""
    from botocore.exceptions import ClientError

    from ledger_store.errors import TransientError
    from ledger_store.storage import translate

    error = translate("get trade", "TRADE#x", ClientError({"Error": {"Code": code}}, "GetItem"))
    assert type(error) is expected
    assert isinstance(error, TransientError) is (expected is StorageUnavailableError)


def test_the_sdk_s_own_set_up_failures_are_permanent_with_what_to_fix() -> None:
    """No credentials, no region or a parameter the SDK refuses: no answer was asked for, and a
    retry (Step Functions' minutes of backoff) would not cure it; the same when PynamoDB wraps
    it. A transaction cancelled for an invalid item is bad input, not an outage."""
    from botocore.exceptions import (
        EndpointConnectionError,
        NoCredentialsError,
        NoRegionError,
        ParamValidationError,
        ProfileNotFound,
        SSOTokenLoadError,
    )
    from pynamodb.exceptions import (
        CancellationReason,
        GetError,
        TransactWriteError,
        VerboseClientError,
    )

    from ledger_store.errors import StorageAccessError, StorageConfigurationError, TransientError
    from ledger_store.storage import translate
    from snapshots.errors import aws_transient

    no_keys = translate("get trade", "TRADE#x", GetError("failed", cause=NoCredentialsError()))
    assert type(no_keys) is StorageConfigurationError
    assert isinstance(no_keys, StorageAccessError)  # what callers caught before, still
    assert "no AWS credentials were found" in str(no_keys)
    no_region = translate("get trade", "TRADE#x", NoRegionError())
    assert type(no_region) is StorageConfigurationError
    assert "AWS_REGION" in str(no_region)
    no_profile = translate("get trade", "TRADE#x", ProfileNotFound(profile="nope"))
    assert type(no_profile) is StorageConfigurationError
    assert "AWS_PROFILE" in str(no_profile)
    expired = translate("get trade", "TRADE#x", SSOTokenLoadError(error_msg="expired"))
    assert "aws sso login" in str(expired)
    refused = translate("get trade", "TRADE#x", ParamValidationError(report="bad"))
    assert type(refused) is LedgerValidationError
    outage = translate("get trade", "TRADE#x", EndpointConnectionError(endpoint_url="http://x"))
    assert isinstance(outage, TransientError)

    def cancelled(*codes: str) -> TransactWriteError:
        cause = VerboseClientError(
            {"Error": {"Code": "TransactionCanceledException", "Message": "cancelled"}},
            "TransactWriteItems",
            cancellation_reasons=[CancellationReason(code=c) for c in codes],
        )
        return TransactWriteError("failed", cause=cause)

    assert type(translate("record", "k", cancelled("None", "ValidationError"))) is (
        LedgerValidationError
    )
    assert isinstance(translate("record", "k", cancelled("ThrottlingError")), TransientError)

    assert not aws_transient(NoCredentialsError())
    assert not aws_transient(NoRegionError())
    assert aws_transient(EndpointConnectionError(endpoint_url="http://x"))
