"""``TradeLedgerRepository``: record fills atomically and read them back by every access path."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

from pynamodb.exceptions import TransactWriteError
from pynamodb.expressions.condition import Condition
from pynamodb.transactions import TransactWrite

from . import keys
from .config import TableSettings
from .dto import (
    MAX_FILLS_PER_STRATEGY,
    RecordedTrade,
    RecordResult,
    StrategyAttribution,
    StrategyRegistration,
    TradeFill,
)
from .errors import ConflictError, IntegrityError, LedgerValidationError, NotFoundError
from .models import LedgerItem, StrategyRegistryItem, StrategyTradeItem, TradeItem
from .storage import is_expired, not_expired, storage_call, stream
from .tracing import subsegment

Clock = Callable[[], datetime]

_RANGE_TOP = "~"  # sorts after every digit, so "TRADE#~" bounds all TRADE# keys


def _utc_now() -> datetime:
    return datetime.now(UTC)


class TradeLedgerRepository:
    """The trade ledger: fills, their per-strategy attributions and the strategy registry."""

    def __init__(self, settings: TableSettings, *, clock: Clock = _utc_now) -> None:
        self._settings = settings
        self._clock = clock

    @property
    def settings(self) -> TableSettings:
        return self._settings

    # Writes -------------------------------------------------------------------------------

    def record(self, fill: TradeFill) -> RecordResult:
        """Write the fill, its attributions and registry counts in one transaction.

        Conditioned on the trade not existing: an identical re-record is reported as
        ``already_recorded``; the same order id with other content raises ``ConflictError``.
        Either way nothing is changed.
        """
        key = keys.trade_pk(fill.order_id)
        trade = _trade_item(fill)
        attributions = fill.attributions()
        with (
            storage_call(self._settings, "record trade", key),
            subsegment("ledger.record", order_id=fill.order_id, account_id=fill.account_id),
        ):
            connection = LedgerItem._get_connection().connection
            try:
                with TransactWrite(connection=connection) as tx:
                    tx.save(trade, condition=LedgerItem.pk.does_not_exist())
                    for attribution in attributions:
                        tx.save(_attribution_item(attribution))
                        tx.update(
                            StrategyRegistryItem(
                                keys.account_pk(fill.account_id),
                                keys.strategy_sk(attribution.strategy),
                            ),
                            actions=[
                                LedgerItem.entity_type.set(StrategyRegistryItem),
                                StrategyRegistryItem.account_id.set(fill.account_id),
                                StrategyRegistryItem.strategy.set(attribution.strategy),
                                StrategyRegistryItem.trade_count.add(1),
                            ],
                            condition=StrategyRegistryItem.trade_count.does_not_exist()
                            | (StrategyRegistryItem.trade_count < MAX_FILLS_PER_STRATEGY),
                        )
            except TransactWriteError as exc:
                failed = _failed_conditions(exc)
                if 0 in failed:  # the trade exists: identical, or a conflict
                    return self._compare_with_stored(fill)
                if failed:  # a registry row refused its increment
                    self._refuse_full_strategies(fill, attributions, failed)
                raise
        return RecordResult(order_id=fill.order_id, status="recorded")

    def _refuse_full_strategies(
        self, fill: TradeFill, attributions: tuple[StrategyAttribution, ...], failed: set[int]
    ) -> None:
        """Explain a registry row's failed condition: its strategy is full (or the row is bad).

        Actions are: the trade (0), then per attribution its item (1 + 2k) and its registry
        increment (2 + 2k). Reading the registry raises ``IntegrityError`` for a corrupt row.
        """
        refused = {attributions[(i - 2) // 2].strategy for i in failed if i % 2 == 0}
        counts = {r.strategy: r.trade_count for r in self.strategies(fill.account_id)}
        full = sorted(s for s in refused if counts.get(s, 0) >= MAX_FILLS_PER_STRATEGY)
        if full:
            raise LedgerValidationError(
                f"order {fill.order_id}: strategy {', '.join(full)} of account "
                f"{fill.account_id} already holds {MAX_FILLS_PER_STRATEGY:,} fills, the most "
                "one strategy may hold; nothing was written"
            )

    def _compare_with_stored(self, fill: TradeFill) -> RecordResult:
        stored = self.get_trade(fill.order_id).fill
        if stored.content_sha256() == fill.content_sha256():
            return RecordResult(order_id=fill.order_id, status="already_recorded")
        old, new = stored.model_dump(mode="json"), fill.model_dump(mode="json")
        differences = [
            f"{name}: stored {old[name]!r}, given {new[name]!r}"
            for name in sorted(old)
            if old[name] != new[name]
        ]
        raise ConflictError(
            f"order {fill.order_id} is already recorded with different content: "
            + "; ".join(differences),
            key=keys.trade_pk(fill.order_id),
            differences=differences,
        )

    # Reads --------------------------------------------------------------------------------

    def get_trade(self, order_id: str) -> RecordedTrade:
        """The fill and its attributions: one Query of the trade's item collection."""
        key = keys.trade_pk(order_id)
        now = self._clock()
        trade: TradeItem | None = None
        attributions: list[StrategyAttribution] = []
        for item in stream(
            self._settings,
            "get trade",
            key,
            lambda: LedgerItem.query(key, filter_condition=not_expired(now), consistent_read=True),
        ):
            if isinstance(item, TradeItem):
                trade = item
            elif isinstance(item, StrategyTradeItem):
                attributions.append(_attribution_dto(item))
        if trade is None:
            raise NotFoundError(f"no trade recorded for order {order_id!r}")
        return RecordedTrade(fill=_fill_dto(trade), attributions=tuple(attributions))

    def trades_by_correlation(
        self,
        correlation_id: str,
        start: datetime | None = None,
        end: datetime | None = None,
    ) -> Iterator[TradeFill]:
        """Fills of one trading cycle (GSI1), in fill order, within ``[start, end)``."""
        hash_key = keys.correlation_pk(correlation_id)
        condition = _event_range(LedgerItem.gsi1sk, start, end)
        now = self._clock()
        items = stream(
            self._settings,
            "query trades by correlation",
            hash_key,
            lambda: LedgerItem.correlation_index.query(
                hash_key, range_key_condition=condition, filter_condition=not_expired(now)
            ),
        )
        # Not a generator function: arguments are validated when called, not at first next().
        return (_fill_dto(item) for item in items if isinstance(item, TradeItem))

    def trades_by_symbol(
        self,
        symbol: str,
        start: datetime | None = None,
        end: datetime | None = None,
        *,
        account_id: str | None = None,
    ) -> Iterator[TradeFill]:
        """Fills of one symbol (GSI2), in fill order, within ``[start, end)``."""
        hash_key = keys.symbol_pk(symbol)
        condition = _event_range(LedgerItem.gsi2sk, start, end)
        filter_condition = not_expired(self._clock())
        if account_id is not None:
            filter_condition &= TradeItem.account_id == keys.validate_key_part(
                account_id, "account_id"
            )
        items = stream(
            self._settings,
            "query trades by symbol",
            hash_key,
            lambda: LedgerItem.symbol_index.query(
                hash_key, range_key_condition=condition, filter_condition=filter_condition
            ),
        )
        return (_fill_dto(item) for item in items if isinstance(item, TradeItem))

    def attributions_by_strategy(
        self,
        account_id: str,
        strategy: str,
        start: datetime | None = None,
        end: datetime | None = None,
    ) -> Iterator[StrategyAttribution]:
        """One account's attributions to one strategy (GSI3), in fill order, in ``[start, end)``."""
        hash_key = keys.account_strategy_pk(account_id, strategy)
        condition = _event_range(LedgerItem.gsi3sk, start, end)
        now = self._clock()
        items = stream(
            self._settings,
            "query trades by strategy",
            hash_key,
            lambda: LedgerItem.strategy_index.query(
                hash_key, range_key_condition=condition, filter_condition=not_expired(now)
            ),
        )
        return (_attribution_dto(item) for item in items if isinstance(item, StrategyTradeItem))

    def strategies(self, account_id: str) -> list[StrategyRegistration]:
        """Every strategy the account has traded (one Query of the registry), by name."""
        hash_key = keys.account_pk(account_id)
        now = self._clock()
        registrations = [
            _registration(item)
            for item in stream(
                self._settings,
                "list strategies",
                hash_key,
                lambda: LedgerItem.query(
                    hash_key,
                    range_key_condition=LedgerItem.sk.startswith("STRATEGY#"),
                    filter_condition=not_expired(now),
                ),
            )
            if isinstance(item, StrategyRegistryItem) and not is_expired(item, now)
        ]
        return sorted(registrations, key=lambda r: r.strategy)


# Mapping between DTOs and models ----------------------------------------------------------


def _registration(item: StrategyRegistryItem) -> StrategyRegistration:
    try:
        return StrategyRegistration(
            account_id=item.account_id,
            strategy=item.strategy,
            trade_count=int(item.trade_count),
        )
    except (TypeError, ValueError) as exc:
        raise IntegrityError(
            f"registry row {item.pk} / {item.sk} is not a valid registration: {exc}"
        ) from exc


def _event_range(attribute: object, start: datetime | None, end: datetime | None) -> Condition:
    """Half-open ``[start, end)`` over ``TRADE#{filled_at}#{order_id}`` sort keys."""
    if (
        start is not None
        and end is not None
        and keys.require_utc(start, "start") > keys.require_utc(end, "end")
    ):
        raise LedgerValidationError(
            f"range start {start.isoformat()} is after its end {end.isoformat()}"
        )
    lower = keys.trade_event_prefix(start) if start is not None else "TRADE#"
    upper = keys.trade_event_prefix(end) if end is not None else "TRADE#" + _RANGE_TOP
    between: Condition = attribute.between(lower, upper)  # type: ignore[attr-defined]
    return between


def _failed_conditions(exc: TransactWriteError) -> set[int]:
    """Positions of the transaction's actions whose condition failed."""
    reasons = exc.cancellation_reasons or []
    return {
        i for i, r in enumerate(reasons) if r is not None and r.code == "ConditionalCheckFailed"
    }


def fill_items(fill: TradeFill) -> list[dict[str, Any]]:
    """The items ``record`` writes for ``fill`` (trade and attributions, not the registry's
    counters), serialised in DynamoDB's attribute-value form: for bulk loaders of fresh tables.
    """
    return [_trade_item(fill).serialize()] + [
        _attribution_item(a).serialize() for a in fill.attributions()
    ]


def _trade_item(fill: TradeFill) -> TradeItem:
    event_sk = keys.trade_event_sk(fill.filled_at, fill.order_id)
    return TradeItem(
        keys.trade_pk(fill.order_id),
        keys.TRADE_METADATA_SK,
        gsi1pk=keys.correlation_pk(fill.correlation_id),
        gsi1sk=event_sk,
        gsi2pk=keys.symbol_pk(fill.symbol),
        gsi2sk=event_sk,
        order_id=fill.order_id,
        account_id=fill.account_id,
        correlation_id=fill.correlation_id,
        symbol=fill.symbol,
        side=fill.side.value,
        qty=fill.qty,
        price=fill.price,
        filled_at=fill.filled_at,
        order_type=fill.order_type.value,
        fees=fill.fees,
        strategy_allocation=dict(fill.strategy_allocation),
        bid_at_fill=fill.bid_at_fill,
        ask_at_fill=fill.ask_at_fill,
        content_sha256=fill.content_sha256(),
    )


def _attribution_item(a: StrategyAttribution) -> StrategyTradeItem:
    return StrategyTradeItem(
        keys.trade_pk(a.order_id),
        keys.strategy_sk(a.strategy),
        gsi3pk=keys.account_strategy_pk(a.account_id, a.strategy),
        gsi3sk=keys.trade_event_sk(a.filled_at, a.order_id),
        account_id=a.account_id,
        order_id=a.order_id,
        strategy=a.strategy,
        correlation_id=a.correlation_id,
        symbol=a.symbol,
        side=a.side.value,
        qty=a.qty,
        price=a.price,
        weight=a.weight,
        fees=a.fees,
        filled_at=a.filled_at,
    )


def _fill_dto(item: TradeItem) -> TradeFill:
    return TradeFill(
        order_id=item.order_id,
        account_id=item.account_id,
        correlation_id=item.correlation_id,
        symbol=item.symbol,
        side=item.side,
        qty=item.qty,
        price=item.price,
        filled_at=item.filled_at,
        order_type=item.order_type,
        fees=item.fees,
        strategy_allocation=item.strategy_allocation,
        bid_at_fill=item.bid_at_fill,
        ask_at_fill=item.ask_at_fill,
    )


_ATTRIBUTION_FIELDS = tuple(StrategyAttribution.model_fields)


def _attribution_dto(item: StrategyTradeItem) -> StrategyAttribution:
    """Validate a stored attribution into its DTO (a corrupt item raises ``ValidationError``).

    The fields are read from the item's attribute values in one pass (what PynamoDB's
    attribute descriptors return, a missing attribute being ``None``) instead of one descriptor
    call each; the hot path of ``attributions_by_strategy`` maps every item of the account.
    """
    values = item.attribute_values
    return StrategyAttribution.model_validate(
        {name: values.get(name) for name in _ATTRIBUTION_FIELDS}
    )
