"""``TradeLedgerRepository``: record fills atomically and read them back by every access path."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, as_completed, wait
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, Final, Literal

from pydantic import ValidationError
from pynamodb.exceptions import TransactWriteError
from pynamodb.expressions.condition import Condition
from pynamodb.transactions import TransactWrite

from . import keys
from .config import TableSettings
from .digests import digest_sum, entry_digest
from .dto import (
    MAX_FILLS_PER_STRATEGY,
    Correction,
    CorrectionResult,
    RecordedTrade,
    RecordResult,
    StrategyAttribution,
    StrategyRegistration,
    TradeFill,
    describe_validation_error,
    free_text,
    is_crossed,
    parse_fill,
    require_quote_rate,
)
from .errors import (
    ConflictError,
    IntegrityError,
    LedgerError,
    LedgerValidationError,
    NotFoundError,
)
from .models import (
    CorrectionItem,
    LedgerItem,
    StrategyRegistryItem,
    StrategyTradeItem,
    TradeItem,
)
from .storage import (
    is_expired,
    not_expired,
    storage_call,
    stream,
    stream_converted,
    transact,
)
from .tracing import subsegment

Clock = Callable[[], datetime]

#: Fills ``record_many`` writes at once by default: enough to hide a round trip's latency,
#: few enough that fills of one strategy rarely collide on its registry row.
DEFAULT_WORKERS: Final = 8
#: At most as many workers as PynamoDB's connection pool holds connections (10).
MAX_WORKERS: Final = 10
#: Keys per BatchGetItem (DynamoDB's limit).
BATCH_GET_SIZE: Final = 100
#: Most fills ``record_many`` writes in one transaction, and most actions in one (DynamoDB
#: allows 100): a transaction costs about as much as the items in it, so grouping spares the
#: per-request cost and the registry rows are updated once per group, not once per fill.
GROUP_FILLS: Final = 50
GROUP_ACTIONS: Final = 100

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
        Either way nothing is changed. A transaction that collides with a concurrent one on a
        registry row (``TransactionConflict``: several writers recording fills of one
        strategy) is retried with jittered backoff; nothing of it was written.
        """
        require_quote_rate(fill)
        key = keys.trade_pk(fill.order_id)
        trade = _trade_item(fill)
        attributions = fill.attributions()
        with (
            storage_call(self._settings, "record trade", key),
            subsegment("ledger.record", order_id=fill.order_id, account_id=fill.account_id),
        ):
            connection = LedgerItem._get_connection().connection

            def build(tx: TransactWrite) -> None:
                tx.save(trade, condition=LedgerItem.pk.does_not_exist())
                for attribution in attributions:
                    tx.save(_attribution_item(attribution))
                    tx.update(
                        _registry_item(fill.account_id, attribution.strategy),
                        actions=[
                            LedgerItem.entity_type.set(StrategyRegistryItem),
                            StrategyRegistryItem.account_id.set(fill.account_id),
                            StrategyRegistryItem.strategy.set(attribution.strategy),
                            StrategyRegistryItem.trade_count.add(1),
                            StrategyRegistryItem.revision.add(1),
                            StrategyRegistryItem.entries_digest.add(entry_digest(attribution)),
                        ],
                        condition=StrategyRegistryItem.trade_count.does_not_exist()
                        | (StrategyRegistryItem.trade_count < MAX_FILLS_PER_STRATEGY),
                    )

            try:
                transact(connection, build)
            except TransactWriteError as exc:
                failed = _failed_conditions(exc)
                if 0 in failed:  # the trade exists: identical, or a conflict
                    return self._compare_with_stored(fill)
                if failed:  # a registry row refused its increment
                    self._refuse_full_strategies(fill, attributions, failed)
                raise
        return RecordResult(order_id=fill.order_id, status="recorded")

    def record_many(
        self,
        fills: Sequence[TradeFill],
        *,
        workers: int = DEFAULT_WORKERS,
        done: Callable[[int, RecordResult | LedgerError], object] | None = None,
    ) -> list[RecordResult | LedgerError]:
        """Record many fills, ``workers`` transactions at a time; one result per fill, in order.

        The trades are looked up first, 100 to a strongly consistent BatchGetItem, so a fill
        recorded before with the same content costs that one read and no write. New fills are
        written in groups: one transaction holds up to ``GROUP_FILLS`` fills with their
        attributions and one registry update per strategy (counts, revisions and digests
        added up), conditioned on every trade being absent and every strategy having room, so
        a group is written whole or not at all, as ``record`` writes one fill. A group that is
        refused (a trade recorded meanwhile, a full strategy) is recorded fill by fill with
        ``record``, as are changed fills (to tell a correction from a conflict). A fill that
        cannot be recorded gets its ``LedgerError`` in its place (``ConflictError``,
        ``LedgerValidationError``, ``StorageUnavailableError``); the others are recorded
        regardless. ``done(i, result)`` is called as each fill ``i`` finishes, from the
        calling thread.
        """
        if not 1 <= workers <= MAX_WORKERS:
            raise LedgerValidationError(f"workers must be 1 to {MAX_WORKERS}, got {workers}")
        results: list[RecordResult | LedgerError | None] = [None] * len(fills)

        def finish(outcomes: Iterable[tuple[int, RecordResult | LedgerError]]) -> None:
            for index, result in outcomes:
                results[index] = result
                if done is not None:
                    done(index, result)

        with ThreadPoolExecutor(max_workers=workers) as pool:
            in_flight: set[Future[list[tuple[int, RecordResult | LedgerError]]]] = set()
            # Order ids handed to the pool since it was last drained: a repeated order id
            # waits until its earlier lines are written, so the first line wins, as in a
            # one-by-one import (a later line with other content is the conflict).
            submitted: set[str] = set()

            def drain() -> None:
                nonlocal in_flight
                for future in as_completed(in_flight):
                    finish(future.result())
                in_flight = set()
                submitted.clear()

            for first in range(0, len(fills), BATCH_GET_SIZE):
                chunk = range(first, min(first + BATCH_GET_SIZE, len(fills)))
                try:
                    stored = self._stored_digests([fills[i].order_id for i in chunk])
                except LedgerError as exc:
                    finish((i, exc) for i in chunk)
                    continue
                fresh: list[int] = []
                repeated: list[int] = []
                for i in chunk:
                    fill = fills[i]
                    try:
                        require_quote_rate(fill)
                    except LedgerValidationError as refused:
                        finish([(i, refused)])
                        continue
                    if fill.order_id in submitted:
                        repeated.append(i)
                        continue
                    submitted.add(fill.order_id)
                    recorded = stored.get(fill.order_id)
                    if recorded is not None and recorded == fill.content_sha256():
                        finish(
                            [(i, RecordResult(order_id=fill.order_id, status="already_recorded"))]
                        )
                    elif recorded is None:
                        fresh.append(i)
                    else:
                        in_flight.add(pool.submit(self._record_each, fills, [i]))
                for group in _groups(fills, fresh):
                    in_flight.add(pool.submit(self._record_group, fills, group))
                if repeated:
                    drain()
                    finish(self._record_each(fills, repeated))
                while len(in_flight) > 2 * workers:
                    finished, in_flight = wait(in_flight, return_when=FIRST_COMPLETED)
                    for future in finished:
                        finish(future.result())
            drain()
        return [r for r in results if r is not None]

    def _record_each(
        self, fills: Sequence[TradeFill], indexes: Sequence[int]
    ) -> list[tuple[int, RecordResult | LedgerError]]:
        outcomes: list[tuple[int, RecordResult | LedgerError]] = []
        for i in indexes:
            try:
                outcomes.append((i, self.record(fills[i])))
            except LedgerError as exc:
                outcomes.append((i, exc))
        return outcomes

    def _record_group(
        self, fills: Sequence[TradeFill], indexes: Sequence[int]
    ) -> list[tuple[int, RecordResult | LedgerError]]:
        """One transaction for the fills at ``indexes`` (distinct new order ids), else each
        on its own (``record``)."""
        if len(indexes) == 1:
            return self._record_each(fills, indexes)
        group = [(fills[i], fills[i].attributions()) for i in indexes]
        registry: dict[tuple[str, str], list[StrategyAttribution]] = {}
        for fill, shares in group:
            for attribution in shares:
                registry.setdefault((fill.account_id, attribution.strategy), []).append(attribution)
        key = f"{keys.trade_pk(group[0][0].order_id)} and {len(group) - 1} more"
        try:
            with storage_call(self._settings, "record trades", key):
                connection = LedgerItem._get_connection().connection

                def build(tx: TransactWrite) -> None:
                    for fill, shares in group:
                        tx.save(_trade_item(fill), condition=LedgerItem.pk.does_not_exist())
                        for attribution in shares:
                            tx.save(_attribution_item(attribution))
                    for (account_id, strategy), added in sorted(registry.items()):
                        room = MAX_FILLS_PER_STRATEGY - len(added)
                        tx.update(
                            _registry_item(account_id, strategy),
                            actions=[
                                LedgerItem.entity_type.set(StrategyRegistryItem),
                                StrategyRegistryItem.account_id.set(account_id),
                                StrategyRegistryItem.strategy.set(strategy),
                                StrategyRegistryItem.trade_count.add(len(added)),
                                StrategyRegistryItem.revision.add(len(added)),
                                StrategyRegistryItem.entries_digest.add(digest_sum(added)),
                            ],
                            condition=StrategyRegistryItem.trade_count.does_not_exist()
                            | (StrategyRegistryItem.trade_count <= room),
                        )

                try:
                    transact(connection, build)
                except TransactWriteError as exc:
                    if not _failed_conditions(exc):
                        raise
                    refused = True
                else:
                    refused = False
        except LedgerError as exc:
            return [(i, exc) for i in indexes]
        if refused:
            return self._record_each(fills, indexes)
        return [(i, RecordResult(order_id=fills[i].order_id, status="recorded")) for i in indexes]

    def _stored_digests(self, order_ids: Sequence[str]) -> dict[str, str]:
        """``content_sha256`` of those of the trades that are recorded."""
        return {item.order_id: item.content_sha256 for item in self._trade_items(order_ids)}

    def recorded_fills(self, order_ids: Sequence[str]) -> dict[str, TradeFill]:
        """The recorded fills of those orders that have one, by order id (voided ones too, with
        their last content): one consistent BatchGetItem per 100 trades, no attributions."""
        return {item.order_id: _fill_dto(item) for item in self._trade_items(order_ids)}

    def _trade_items(self, order_ids: Sequence[str]) -> list[TradeItem]:
        """The trade items of those orders that are recorded (one BatchGetItem per 100,
        unprocessed keys retried by PynamoDB); expired ones count as absent."""
        unique = sorted(set(order_ids))
        now = self._clock()
        with storage_call(self._settings, f"look up {len(unique)} trades", None):
            items = TradeItem.batch_get(
                [(keys.trade_pk(o), keys.TRADE_METADATA_SK) for o in unique],
                consistent_read=True,
            )
            return [
                item for item in items if isinstance(item, TradeItem) and not is_expired(item, now)
            ]

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
        recorded = self.get_trade(fill.order_id)
        stored = recorded.fill
        digest = fill.content_sha256()
        # The fill as recorded once, even if corrected since (a re-import of the original
        # file): nothing to do.
        if digest in {
            f.content_sha256() for f in (stored, *(c.previous for c in recorded.corrections))
        }:
            return RecordResult(order_id=fill.order_id, status="already_recorded")
        old, new = stored.model_dump(mode="json"), fill.model_dump(mode="json")
        # A field either side leaves out (quote_usd_rate of a USD fill) is compared as absent.
        differences = [
            f"{name}: stored {old.get(name)!r}, given {new.get(name)!r}"
            for name in sorted(old.keys() | new.keys())
            if old.get(name) != new.get(name)
        ]
        raise ConflictError(
            f"order {fill.order_id} is already recorded with different content: "
            + "; ".join(differences),
            key=keys.trade_pk(fill.order_id),
            differences=differences,
        )

    # Corrections --------------------------------------------------------------------------

    def void(self, order_id: str, *, reason: str, actor: str) -> CorrectionResult:
        """Take a recorded fill out of every aggregate, keeping it and its history readable.

        One transaction: the correction record (who, why, when, the fill as it was), the trade
        marked ``voided`` and taken out of the correlation and symbol indexes, its attributions
        deleted (so the strategy index no longer holds them) and one fill less in each of its
        strategies' registry counts. Conditioned on the trade being what was read; voiding a
        voided fill again is ``unchanged``.
        """
        reason, actor = _correction_text(reason, actor)  # refused before anything is read
        current = self.get_trade(order_id)
        revision = len(current.corrections)
        if current.status == "voided":
            return CorrectionResult(order_id=order_id, status="unchanged", revision=revision)
        correction = self._correction(current, "void", reason, actor)
        key = keys.trade_pk(order_id)
        with (
            storage_call(self._settings, "void trade", key),
            subsegment("ledger.void", order_id=order_id),
        ):
            connection = LedgerItem._get_connection().connection
            try:

                def build(tx: TransactWrite) -> None:
                    tx.save(_correction_item(correction), condition=LedgerItem.pk.does_not_exist())
                    tx.update(
                        TradeItem(key, keys.TRADE_METADATA_SK),
                        actions=[
                            TradeItem.status.set("voided"),
                            TradeItem.revision.set(correction.revision),
                            LedgerItem.gsi1pk.remove(),
                            LedgerItem.gsi1sk.remove(),
                            LedgerItem.gsi2pk.remove(),
                            LedgerItem.gsi2sk.remove(),
                        ],
                        condition=_unchanged_since(current),
                    )
                    for attribution in current.attributions:
                        tx.delete(StrategyTradeItem(key, keys.strategy_sk(attribution.strategy)))
                        tx.update(
                            _registry_item(current.fill.account_id, attribution.strategy),
                            actions=[
                                StrategyRegistryItem.trade_count.add(-1),
                                StrategyRegistryItem.revision.add(1),
                                StrategyRegistryItem.entries_digest.add(-entry_digest(attribution)),
                            ],
                        )

                transact(connection, build)
            except TransactWriteError as exc:
                if _failed_conditions(exc):
                    raise ConflictError(
                        f"order {order_id} changed while it was being voided; read it again",
                        key=key,
                    ) from None
                raise
        return CorrectionResult(order_id=order_id, status="voided", revision=correction.revision)

    def amend(self, fill: TradeFill, *, reason: str, actor: str) -> CorrectionResult:
        """Replace a recorded fill's content (same order id and account), keeping the old.

        One transaction: the correction record with the fill as it was, the trade rewritten
        (its index keys follow the new content), the attributions of the new allocation
        written and those of strategies it no longer names deleted, and the registry counts
        of strategies dropped or added adjusted. Conditioned on the trade being what was read;
        amending to the content it already has is ``unchanged``. A voided fill cannot be
        amended.
        """
        reason, actor = _correction_text(reason, actor)  # refused before anything is read
        require_quote_rate(fill)
        current = self.get_trade(fill.order_id)
        revision = len(current.corrections)
        if current.status == "voided":
            raise LedgerValidationError(f"order {fill.order_id} is voided; it cannot be amended")
        if fill.account_id != current.fill.account_id:
            raise LedgerValidationError(
                f"order {fill.order_id} belongs to account {current.fill.account_id}; an amend "
                "cannot move it to another account (void it and record it there)"
            )
        if fill.content_sha256() == current.fill.content_sha256():
            return CorrectionResult(order_id=fill.order_id, status="unchanged", revision=revision)
        old = set(current.fill.strategy_allocation)
        new = set(fill.strategy_allocation)
        actions = 2 + len(old - new) + len(new) + len(old | new)
        if actions > MAX_TRANSACTION_ACTIONS:
            raise LedgerValidationError(
                f"amending order {fill.order_id} would take {actions} writes in one transaction "
                f"(the limit is {MAX_TRANSACTION_ACTIONS}): void it and record the new fill"
            )
        correction = self._correction(current, "amend", reason, actor)
        key = keys.trade_pk(fill.order_id)
        new_attributions = fill.attributions()
        trade = _trade_item(fill)
        trade.revision = correction.revision
        with (
            storage_call(self._settings, "amend trade", key),
            subsegment("ledger.amend", order_id=fill.order_id),
        ):
            connection = LedgerItem._get_connection().connection
            try:

                def build(tx: TransactWrite) -> None:
                    tx.save(_correction_item(correction), condition=LedgerItem.pk.does_not_exist())
                    tx.save(trade, condition=_unchanged_since(current))
                    was = {a.strategy: entry_digest(a) for a in current.attributions}
                    becomes = {a.strategy: entry_digest(a) for a in new_attributions}
                    for strategy in sorted(old - new):
                        tx.delete(StrategyTradeItem(key, keys.strategy_sk(strategy)))
                        tx.update(
                            _registry_item(fill.account_id, strategy),
                            actions=[
                                StrategyRegistryItem.trade_count.add(-1),
                                StrategyRegistryItem.revision.add(1),
                                StrategyRegistryItem.entries_digest.add(-was[strategy]),
                            ],
                        )
                    for strategy in sorted(old & new):
                        tx.update(
                            _registry_item(fill.account_id, strategy),
                            actions=[
                                StrategyRegistryItem.revision.add(1),
                                StrategyRegistryItem.entries_digest.add(
                                    becomes[strategy] - was[strategy]
                                ),
                            ],
                        )
                    for attribution in new_attributions:
                        tx.save(_attribution_item(attribution))
                    for strategy in sorted(new - old):
                        tx.update(
                            _registry_item(fill.account_id, strategy),
                            actions=[
                                LedgerItem.entity_type.set(StrategyRegistryItem),
                                StrategyRegistryItem.account_id.set(fill.account_id),
                                StrategyRegistryItem.strategy.set(strategy),
                                StrategyRegistryItem.trade_count.add(1),
                                StrategyRegistryItem.revision.add(1),
                                StrategyRegistryItem.entries_digest.add(becomes[strategy]),
                            ],
                            condition=StrategyRegistryItem.trade_count.does_not_exist()
                            | (StrategyRegistryItem.trade_count < MAX_FILLS_PER_STRATEGY),
                        )

                transact(connection, build)
            except TransactWriteError as exc:
                if _failed_conditions(exc):
                    raise ConflictError(
                        f"order {fill.order_id} changed while it was being amended, or a strategy "
                        "it adds is full; read it again",
                        key=key,
                    ) from None
                raise
        return CorrectionResult(
            order_id=fill.order_id, status="amended", revision=correction.revision
        )

    def _correction(
        self, current: RecordedTrade, kind: Literal["void", "amend"], reason: str, actor: str
    ) -> Correction:
        try:
            return Correction(
                order_id=current.fill.order_id,
                revision=len(current.corrections) + 1,
                kind=kind,
                reason=reason,
                actor=actor,
                corrected_at=self._clock(),
                previous=current.fill,
            )
        except ValidationError as exc:
            raise LedgerValidationError(describe_validation_error(exc, "(correction)")) from exc

    # Reads --------------------------------------------------------------------------------

    def get_trade(self, order_id: str) -> RecordedTrade:
        """The fill and its attributions: one Query of the trade's item collection."""
        key = keys.trade_pk(order_id)
        now = self._clock()
        trade: TradeItem | None = None
        attributions: list[StrategyAttribution] = []
        corrections: list[Correction] = []
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
            elif isinstance(item, CorrectionItem):
                corrections.append(_correction_dto(item))
        if trade is None:
            raise NotFoundError(f"no trade recorded for order {order_id!r}")
        try:
            return RecordedTrade(
                fill=_fill_dto(trade),
                attributions=tuple(attributions),
                status="voided" if trade.status == "voided" else "active",
                corrections=tuple(sorted(corrections, key=lambda c: c.revision)),
            )
        except ValidationError as exc:
            raise IntegrityError(
                f"trade {key}: its items disagree: {describe_validation_error(exc)}"
            ) from exc

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
        found = stream_converted(
            self._settings,
            "query trades by strategy",
            hash_key,
            lambda: LedgerItem.strategy_index.query(
                hash_key,
                range_key_condition=condition,
                filter_condition=not_expired(now),
                attributes_to_get=list(_ATTRIBUTION_READ),
            ),
            _attribution_from_raw,
            _attribution_key,
        )
        return self._with_quote_rates(found)

    def _with_quote_rates(
        self, attributions: Iterable[StrategyAttribution]
    ) -> Iterator[StrategyAttribution]:
        """``attributions`` in order, those of pairs not quoted in USD with their
        ``quote_usd_rate`` read from their own items (GSI3 does not project it; one
        BatchGetItem per 100 such attributions, the others pass through)."""
        held: list[StrategyAttribution] = []
        pending = 0
        for attribution in attributions:
            if is_crossed(attribution.symbol):
                pending += 1
            elif not pending:
                yield attribution
                continue
            held.append(attribution)
            if pending == _RATES_PER_BATCH or len(held) >= _HELD_AT_MOST:
                yield from self._rated(held)
                held, pending = [], 0
        if held:
            yield from self._rated(held)

    def _rated(self, held: Sequence[StrategyAttribution]) -> list[StrategyAttribution]:
        foreign = [a for a in held if is_crossed(a.symbol)]
        wanted = {(keys.trade_pk(a.order_id), keys.strategy_sk(a.strategy)) for a in foreign}
        with storage_call(self._settings, f"read the quote rates of {len(wanted)} fills", None):
            rates = {
                (item.pk, item.sk): item.quote_usd_rate
                for item in StrategyTradeItem.batch_get(
                    sorted(wanted), attributes_to_get=["PK", "SK", "quote_usd_rate"]
                )
            }
        gone = sorted(wanted - rates.keys())
        if gone:
            # The index listed an attribution whose item is no more: a void or an amend that
            # has not reached GSI3 yet (it is updated asynchronously).
            listed = ", ".join(map(" / ".join, gone))
            raise IntegrityError(
                f"GSI3 listed attributions whose items are gone ({listed}): a fill was voided "
                "or amended during the read; read again"
            )
        return [
            _with_rate(a, rates[(keys.trade_pk(a.order_id), keys.strategy_sk(a.strategy))])
            if is_crossed(a.symbol)
            else a
            for a in held
        ]

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
            revision=int(item.revision or 0),
            entries_digest=None if item.entries_digest is None else int(item.entries_digest),
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
            f"range start {keys.format_micros(start)} is after its end {keys.format_micros(end)}"
        )
    lower = keys.trade_event_prefix(start) if start is not None else "TRADE#"
    upper = keys.trade_event_prefix(end) if end is not None else "TRADE#" + _RANGE_TOP
    between: Condition = attribute.between(lower, upper)  # type: ignore[attr-defined]
    return between


#: DynamoDB's limit of actions in one TransactWriteItems.
MAX_TRANSACTION_ACTIONS = 100


def _registry_item(account_id: str, strategy: str) -> StrategyRegistryItem:
    return StrategyRegistryItem(keys.account_pk(account_id), keys.strategy_sk(strategy))


def _unchanged_since(current: RecordedTrade) -> Condition:
    """The trade is still what ``current`` read: same content, same revision, not voided."""
    revision = len(current.corrections)
    same_revision: Condition = (
        TradeItem.revision.does_not_exist() if revision == 0 else TradeItem.revision == revision
    )
    condition: Condition = (
        (TradeItem.content_sha256 == current.fill.content_sha256())
        & same_revision
        & TradeItem.status.does_not_exist()
    )
    return condition


def _correction_item(correction: Correction) -> CorrectionItem:
    previous = correction.previous
    return CorrectionItem(
        keys.trade_pk(correction.order_id),
        keys.correction_sk(correction.revision),
        order_id=correction.order_id,
        revision=correction.revision,
        kind=correction.kind,
        reason=correction.reason,
        actor=correction.actor,
        corrected_at=correction.corrected_at,
        previous=json.dumps(previous.model_dump(mode="json"), sort_keys=True, ensure_ascii=False),
        previous_sha256=previous.content_sha256(),
    )


def _correction_dto(item: CorrectionItem) -> Correction:
    try:
        previous = parse_fill(json.loads(item.previous))
        correction = Correction(
            order_id=item.order_id,
            revision=int(item.revision),
            kind=item.kind,
            reason=item.reason,
            actor=item.actor,
            corrected_at=item.corrected_at,
            previous=previous,
        )
    except (ValueError, TypeError, LedgerValidationError) as exc:
        raise IntegrityError(f"correction {item.pk} / {item.sk} is not valid: {exc}") from exc
    if previous.content_sha256() != item.previous_sha256:
        raise IntegrityError(f"correction {item.pk} / {item.sk}: previous_sha256 differs")
    return correction


def _groups(fills: Sequence[TradeFill], indexes: Sequence[int]) -> Iterator[list[int]]:
    """The fills at ``indexes`` (distinct order ids) in transaction-sized groups."""
    group: list[int] = []
    strategies: set[tuple[str, str]] = set()
    actions = 0
    for i in indexes:
        fill = fills[i]
        names = {(fill.account_id, s) for s in fill.strategy_allocation}
        cost = 1 + len(names) + len(names - strategies)
        if group and (len(group) >= GROUP_FILLS or actions + cost > GROUP_ACTIONS):
            yield group
            group, strategies, actions = [], set(), 0
            cost = 1 + 2 * len(names)
        group.append(i)
        strategies |= names
        actions += cost
    if group:
        yield group


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
        quote_usd_rate=fill.quote_usd_rate,
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
        quote_usd_rate=a.quote_usd_rate,
    )


def _fill_dto(item: TradeItem) -> TradeFill:
    """Validate a stored trade into its DTO; one that does not fit is an ``IntegrityError``."""
    try:
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
            quote_usd_rate=item.quote_usd_rate,
        )
    except ValidationError as exc:
        raise _corrupt_item(item, exc) from exc


_ATTRIBUTION_FIELDS = tuple(StrategyAttribution.model_fields)


_KIND = LedgerItem.entity_type.attr_name
#: What the strategy read path fetches of a GSI3 item: the attribution and its kind, not the
#: four key attributes (a quarter less to transfer and parse; the capacity is the same).
_ATTRIBUTION_READ = (_KIND, *(f for f in _ATTRIBUTION_FIELDS if f != "quote_usd_rate"))
#: Attributions whose rates one BatchGetItem reads (DynamoDB's limit per request), and how
#: many attributions the read holds back at most while it gathers them (the USD ones between).
_RATES_PER_BATCH = 100
_HELD_AT_MOST = 1000
_STRATEGY_TRADE = LedgerItem.entity_type.get_discriminator(StrategyTradeItem)


def _attribution_from_raw(raw: dict[str, Any]) -> StrategyAttribution | None:
    """A raw GSI3 item straight into its DTO (validated: a corrupt item raises), ``None`` for
    an item of another kind. The strategy read path maps every attribution of the account;
    parsing the attribute values here instead of through a PynamoDB model halves its cost."""
    if raw.get(_KIND, {}).get("S") != _STRATEGY_TRADE:
        return None
    try:
        return StrategyAttribution.model_validate(
            {
                "order_id": raw["order_id"]["S"],
                "account_id": raw["account_id"]["S"],
                "strategy": raw["strategy"]["S"],
                "correlation_id": raw["correlation_id"]["S"],
                "symbol": raw["symbol"]["S"],
                "side": raw["side"]["S"],
                "qty": raw["qty"]["N"],
                "price": raw["price"]["N"],
                "weight": raw["weight"]["N"],
                "fees": raw["fees"]["N"],
                "filled_at": keys.parse_timestamp(raw["filled_at"]["S"]),
            }
        )
    except ValidationError as exc:
        raise LedgerValidationError(describe_validation_error(exc, "(attribution)")) from exc


def _with_rate(attribution: StrategyAttribution, rate: Decimal | None) -> StrategyAttribution:
    """``attribution`` with the rate its item holds (validated; ``None``: it has none)."""
    if rate is None:
        return attribution
    try:
        return StrategyAttribution.model_validate(
            {**attribution.model_dump(), "quote_usd_rate": rate}
        )
    except ValidationError as exc:
        raise IntegrityError(
            f"stored attribution of order {attribution.order_id} to strategy "
            f"{attribution.strategy}: {describe_validation_error(exc)}"
        ) from exc


def _attribution_key(raw: dict[str, Any]) -> str:
    """The key of a raw attribution read without its key attributes (for error messages)."""
    order = raw.get("order_id", {}).get("S", "?")
    strategy = raw.get("strategy", {}).get("S", "?")
    return f"TRADE#{order} / STRATEGY#{strategy}"


def _attribution_dto(item: StrategyTradeItem) -> StrategyAttribution:
    """Validate a stored attribution model (``get_trade``) into its DTO; one that does not fit
    is an ``IntegrityError`` (``_attribution_from_raw`` is the GSI3 twin, without a model)."""
    values = item.attribute_values
    try:
        return StrategyAttribution.model_validate(
            {name: values.get(name) for name in _ATTRIBUTION_FIELDS}
        )
    except ValidationError as exc:
        raise _corrupt_item(item, exc) from exc


def _corrupt_item(item: LedgerItem, exc: ValidationError) -> IntegrityError:
    return IntegrityError(
        f"stored item {item.pk} / {item.sk} does not match its model: "
        f"{describe_validation_error(exc)}"
    )


def _correction_text(reason: str, actor: str) -> tuple[str, str]:
    """A correction's reason and actor by the ledger's one text rule (``dto.text_problem``)."""
    return free_text(reason, "a correction's reason", 500), free_text(
        actor, "a correction's actor", 128
    )
