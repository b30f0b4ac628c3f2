"""The table layout: one DynamoDB table, every entity, every index.

==============  =====================  ===================  ===================================
entity          PK                     SK                   index keys
==============  =====================  ===================  ===================================
TRADE           TRADE#{order_id}       METADATA             GSI1 CORR#{correlation_id} /
                                                            TRADE#{filled_at}#{order_id};
                                                            GSI2 SYMBOL#{symbol} / same SK
STRATEGY_TRADE  TRADE#{order_id}       STRATEGY#{strategy}  GSI3 ACCOUNT#{account}#STRATEGY#{s}
                                                            / TRADE#{filled_at}#{order_id}
CORRECTION      TRADE#{order_id}       CORRECTION#{n:04d}   none: a void or amend of the fill
STRATEGY        ACCOUNT#{account_id}   STRATEGY#{strategy}  none: the per-account registry
ACCOUNT_EVENT   ACCOUNT#{account_id}   EVENT#{effective_at} none: splits, symbol changes,
                                       #{event_id}          mergers, dividends, cash flows
EVENT_ID        ACCOUNT#{account_id}   EVENTID#{event_id}   none: makes an event id unique;
                                       ACTION#{symbol}      also one corporate action per
                                       #{date}              symbol and day
EVENT_COUNTER   ACCOUNT#{account_id}   EVENTS               none: the account's event count
ALPACA_ACCOUNT  ACCOUNT#{account_id}   ALPACA               none: the Alpaca account it reads
ALPACA_GUARD    ALPACA#{alpaca_id}     LEDGER               none: the one ledger account of
                                                            an Alpaca account
SNAPSHOT        SNAPSHOT#{account_id}  SNAP#{period_end}    GSI4 CORR#{correlation_id} /
                                                            SNAP#{period_end}; GSI5
                                                            {account_id} / {period_end} (its
                                                            own attributes); ``ttl`` set
SNAPSHOT_CHUNK  SNAPCHUNK#{account_id}  CHUNK#{n:04d}       none; ``ttl`` as its snapshot
                #{period_end}
==============  =====================  ===================  ===================================

``filled_at`` in keys is ``YYYY-MM-DDTHH:MM:SS.ffffffZ`` (fixed width, so string order is time
order); ``period_end`` is ``YYYY-MM-DDTHH:MM:SSZ``. Index keys are only set on the entities
that belong in the index, so every GSI is sparse.

Projections, chosen for what each reader needs:

* GSI1 (correlation) and GSI2 (symbol): ALL. Their readers list whole trades; a KEYS_ONLY
  index would turn every listed trade into an extra GetItem.
* GSI3 (strategy): INCLUDE of exactly the attribution fields. Strategy aggregation reads only
  these, so the index stays small even if trade items grow.
* GSI4 (snapshot by correlation): keys plus ``EntityType`` only. Snapshots are large; the
  reader resolves the key and then reads (and checksum-verifies) the item itself, so copying
  bodies would only double the storage and write cost. ``EntityType`` is projected because
  PynamoDB filters every polymorphic query on the discriminator (KEYS_ONLY would match
  nothing).
* GSI5 (snapshot listing): the header's metadata, not its body, keyed on its ``account_id``
  and ``period_end``. Listing 30 snapshots then reads about 30 x 400 bytes, not 30 bodies of
  up to 380 KB each (RCU in proportion to the metadata).
"""

from __future__ import annotations

from typing import Any

from pynamodb.attributes import (
    BinaryAttribute,
    DiscriminatorAttribute,
    NumberAttribute,
    TTLAttribute,
    UnicodeAttribute,
)
from pynamodb.connection import TableConnection
from pynamodb.constants import PAY_PER_REQUEST_BILLING_MODE
from pynamodb.indexes import (
    AllProjection,
    GlobalSecondaryIndex,
    IncludeProjection,
)
from pynamodb.models import Model

from .attributes import DecimalAttribute, DecimalMapAttribute, UTCTimestampAttribute
from .binding import BoundTableMeta, active_settings
from .config import TableSettings

_CONNECTIONS: dict[TableSettings, TableConnection] = {}

#: Attributes GSI3 carries besides the keys: what strategy aggregation reads.
STRATEGY_INDEX_ATTRIBUTES = [
    "EntityType",
    "account_id",
    "order_id",
    "strategy",
    "correlation_id",
    "symbol",
    "side",
    "qty",
    "price",
    "weight",
    "fees",
    "filled_at",
    "ttl",
]


class CorrelationIndex(GlobalSecondaryIndex["LedgerItem"]):
    """GSI1: every trade of one trading cycle (correlation id), in fill order."""

    class Meta:
        index_name = "GSI1"
        projection = AllProjection()

    gsi1pk = UnicodeAttribute(hash_key=True, attr_name="GSI1PK")
    gsi1sk = UnicodeAttribute(range_key=True, attr_name="GSI1SK")


class SymbolIndex(GlobalSecondaryIndex["LedgerItem"]):
    """GSI2: trades of one symbol, in fill order."""

    class Meta:
        index_name = "GSI2"
        projection = AllProjection()

    gsi2pk = UnicodeAttribute(hash_key=True, attr_name="GSI2PK")
    gsi2sk = UnicodeAttribute(range_key=True, attr_name="GSI2SK")


class StrategyIndex(GlobalSecondaryIndex["LedgerItem"]):
    """GSI3, the strategy index: one account's attributions to one strategy, in fill order."""

    class Meta:
        index_name = "GSI3"
        projection = IncludeProjection(STRATEGY_INDEX_ATTRIBUTES[:])

    gsi3pk = UnicodeAttribute(hash_key=True, attr_name="GSI3PK")
    gsi3sk = UnicodeAttribute(range_key=True, attr_name="GSI3SK")


class SnapshotCorrelationIndex(GlobalSecondaryIndex["LedgerItem"]):
    """GSI4: the snapshot(s) taken by one trading cycle (correlation id)."""

    class Meta:
        index_name = "GSI4"
        projection = IncludeProjection(["EntityType"])

    gsi4pk = UnicodeAttribute(hash_key=True, attr_name="GSI4PK")
    gsi4sk = UnicodeAttribute(range_key=True, attr_name="GSI4SK")


#: Attributes GSI5 carries besides its keys: what a snapshot listing prints, never the body.
SNAPSHOT_LISTING_ATTRIBUTES = [
    "EntityType",
    "snapshot_id",
    "snapshot_version",
    "correlation_id",
    "period_start",
    "created_at",
    "checksum",
    "checksum_algorithm",
    "body_size",
    "chunk_count",
    "retention_days",
    "ttl",
]


class SnapshotListingIndex(GlobalSecondaryIndex["LedgerItem"]):
    """GSI5: an account's snapshots by period end, metadata only (``snapshot list``).

    Keyed on the snapshot header's own ``account_id`` and ``period_end`` attributes, which no
    other entity has both of: the index is sparse, and it covers every snapshot ever written
    (DynamoDB backfills an index added to an existing table).
    """

    class Meta:
        index_name = "GSI5"
        projection = IncludeProjection(SNAPSHOT_LISTING_ATTRIBUTES)

    account_id = UnicodeAttribute(hash_key=True, attr_name="account_id")
    period_end = UTCTimestampAttribute(range_key=True, attr_name="period_end")


class LedgerItem(Model):
    """Base of every entity: the generic key attributes, the discriminator and ``ttl``.

    ``ttl`` lives here because PynamoDB enables TTL only for a TTLAttribute declared on the
    class that creates the table. Subclasses must not declare their own ``Meta`` (they would
    lose the table binding).
    """

    class Meta(metaclass=BoundTableMeta):
        billing_mode = PAY_PER_REQUEST_BILLING_MODE
        max_pool_connections = 10
        extra_headers = None
        aws_access_key_id = None
        aws_secret_access_key = None
        aws_session_token = None

    pk = UnicodeAttribute(hash_key=True, attr_name="PK")
    sk = UnicodeAttribute(range_key=True, attr_name="SK")
    entity_type = DiscriminatorAttribute(attr_name="EntityType")

    gsi1pk = UnicodeAttribute(null=True, attr_name="GSI1PK")
    gsi1sk = UnicodeAttribute(null=True, attr_name="GSI1SK")
    gsi2pk = UnicodeAttribute(null=True, attr_name="GSI2PK")
    gsi2sk = UnicodeAttribute(null=True, attr_name="GSI2SK")
    gsi3pk = UnicodeAttribute(null=True, attr_name="GSI3PK")
    gsi3sk = UnicodeAttribute(null=True, attr_name="GSI3SK")
    gsi4pk = UnicodeAttribute(null=True, attr_name="GSI4PK")
    gsi4sk = UnicodeAttribute(null=True, attr_name="GSI4SK")

    #: Epoch seconds after which DynamoDB may delete the item; reads hide it from then on.
    ttl = TTLAttribute(null=True, attr_name="ttl")

    correlation_index = CorrelationIndex()
    symbol_index = SymbolIndex()
    strategy_index = StrategyIndex()
    snapshot_correlation_index = SnapshotCorrelationIndex()
    snapshot_listing_index = SnapshotListingIndex()

    @classmethod
    def _get_connection(cls) -> TableConnection:
        """One cached connection per bound table settings (PynamoDB caches one per class)."""
        settings = active_settings()
        connection = _CONNECTIONS.get(settings)
        if connection is None:
            cls._connection = None
            connection = super()._get_connection()
            # botocore's "standard" retry mode (PynamoDB's choice) keeps a retry quota per
            # client: after ~100 retries in an outage it stops retrying altogether, and a
            # long-lived process (a warm Lambda) then fails every later call at its first
            # transient error until enough first attempts succeed. "legacy" retries each call
            # within its own budget, with no quota (tests/ledger_store/test_retries.py).
            connection.connection._retry_configuration = {
                "mode": "legacy",
                "total_max_attempts": 1 + settings.max_retry_attempts,
            }
            _CONNECTIONS[settings] = connection
        return connection


class TradeItem(LedgerItem, discriminator="TRADE"):
    """One filled order. ``content_sha256`` makes an identical re-record detectable cheaply."""

    order_id = UnicodeAttribute()
    account_id = UnicodeAttribute()
    correlation_id = UnicodeAttribute()
    symbol = UnicodeAttribute()
    side = UnicodeAttribute()
    qty = DecimalAttribute()
    price = DecimalAttribute()
    filled_at = UTCTimestampAttribute()
    order_type = UnicodeAttribute()
    fees = DecimalAttribute()
    strategy_allocation = DecimalMapAttribute()
    bid_at_fill = DecimalAttribute(null=True)
    ask_at_fill = DecimalAttribute(null=True)
    #: USD per unit of the quote currency of a pair not quoted in USD (absent otherwise).
    quote_usd_rate = DecimalAttribute(null=True)
    content_sha256 = UnicodeAttribute()
    #: Corrections applied so far (absent: none) and ``voided`` once voided (absent: active).
    revision = NumberAttribute(null=True)
    status = UnicodeAttribute(null=True)


class StrategyTradeItem(LedgerItem, discriminator="STRATEGY_TRADE"):
    """The share of one fill attributed to one strategy (quantity and fees split by weight)."""

    account_id = UnicodeAttribute()
    order_id = UnicodeAttribute()
    strategy = UnicodeAttribute()
    correlation_id = UnicodeAttribute()
    symbol = UnicodeAttribute()
    side = UnicodeAttribute()
    qty = DecimalAttribute()
    price = DecimalAttribute()
    weight = DecimalAttribute()
    fees = DecimalAttribute()
    filled_at = UTCTimestampAttribute()
    #: The fill's ``quote_usd_rate``. Not projected into GSI3 (that would be a new index): the
    #: strategy read gets it from this item for the few pairs that need it.
    quote_usd_rate = DecimalAttribute(null=True)


class CorrectionItem(LedgerItem, discriminator="CORRECTION"):
    """One correction of a fill, in the trade's item collection (``CORRECTION#{revision}``):
    who, when, why, and the fill's previous content as canonical JSON."""

    order_id = UnicodeAttribute()
    revision = NumberAttribute()
    kind = UnicodeAttribute()
    reason = UnicodeAttribute()
    actor = UnicodeAttribute()
    corrected_at = UTCTimestampAttribute()
    previous = UnicodeAttribute()
    previous_sha256 = UnicodeAttribute()


class StrategyRegistryItem(LedgerItem, discriminator="STRATEGY"):
    """Registry row: the account has traded this strategy ``trade_count`` times."""

    account_id = UnicodeAttribute()
    strategy = UnicodeAttribute()
    trade_count = NumberAttribute(default=0)
    #: Writes that changed the strategy's entries (record, void, amend); only grows.
    revision = NumberAttribute(null=True)
    #: The sum of the digests of the strategy's current attributions (``digests``); absent on
    #: rows written before digests were kept (a snapshot then reads the whole history).
    entries_digest = NumberAttribute(null=True)


class AccountEventItem(LedgerItem, discriminator="ACCOUNT_EVENT"):
    """A non-trade event of an account (``ledger_store.events``): what it does to positions or
    cash, when it takes effect, and where it came from (``source``: Alpaca's activity type)."""

    account_id = UnicodeAttribute()
    event_id = UnicodeAttribute()
    kind = UnicodeAttribute()
    effective_at = UTCTimestampAttribute()
    symbol = UnicodeAttribute(null=True)
    new_symbol = UnicodeAttribute(null=True)
    ratio_new = DecimalAttribute(null=True)
    ratio_old = DecimalAttribute(null=True)
    cash_per_share = DecimalAttribute(null=True)
    amount = DecimalAttribute(null=True)
    per_share_amount = DecimalAttribute(null=True)
    qty = DecimalAttribute(null=True)
    price = DecimalAttribute(null=True)
    #: An option exercise's delivery: the shares of ``underlying`` and Alpaca's trade row.
    underlying = UnicodeAttribute(null=True)
    shares = DecimalAttribute(null=True)
    trade_activity_id = UnicodeAttribute(null=True)
    source = UnicodeAttribute(null=True)
    description = UnicodeAttribute(null=True)
    content_sha256 = UnicodeAttribute()
    #: Set once when the event is voided (``AccountEventRepository.void``): who, when, why.
    voided_at = UTCTimestampAttribute(null=True)
    void_reason = UnicodeAttribute(null=True)
    void_actor = UnicodeAttribute(null=True)


class EventIdItem(LedgerItem, discriminator="EVENT_ID"):
    """The guard of an event id: its event's sort key and content digest."""

    event_sk = UnicodeAttribute()
    content_sha256 = UnicodeAttribute()


class EventCounterItem(LedgerItem, discriminator="EVENT_COUNTER"):
    """How many writes changed the account's events (records and voids; only ever grows)."""

    account_id = UnicodeAttribute()
    event_count = NumberAttribute(default=0)
    #: The sum of the digests of the account's active events (``digests``).
    events_digest = NumberAttribute(null=True)


class AlpacaAccountItem(LedgerItem, discriminator="ALPACA_ACCOUNT"):
    """The Alpaca account a ledger account belongs to (``ledger_store.accounts``)."""

    account_id = UnicodeAttribute()
    alpaca_account_id = UnicodeAttribute()
    account_number = UnicodeAttribute(null=True)
    bound_at = UTCTimestampAttribute()


class AlpacaGuardItem(LedgerItem, discriminator="ALPACA_GUARD"):
    """Gives an Alpaca account to one ledger account only: the reverse of its binding."""

    account_id = UnicodeAttribute()
    alpaca_account_id = UnicodeAttribute()


class SnapshotItem(LedgerItem, discriminator="SNAPSHOT"):
    """A deterministic account snapshot: metadata plus its zlib-compressed canonical JSON.

    A body too large for one item lives in ``SNAPSHOT_CHUNK`` items written in the same
    transaction; ``body`` is then empty and ``chunk_count`` says how many to read.
    """

    snapshot_id = UnicodeAttribute()
    snapshot_version = UnicodeAttribute()
    account_id = UnicodeAttribute()
    correlation_id = UnicodeAttribute()
    period_start = UTCTimestampAttribute()
    period_end = UTCTimestampAttribute()
    created_at = UTCTimestampAttribute()
    checksum = UnicodeAttribute()
    checksum_algorithm = UnicodeAttribute()
    body_encoding = UnicodeAttribute(default="zlib")
    body_size = NumberAttribute()
    body = BinaryAttribute(legacy_encoding=False, null=True)
    chunk_count = NumberAttribute(default=0)
    #: Days between ``created_at`` and ``ttl`` (items written before it existed: 90).
    retention_days = NumberAttribute(null=True)


class SnapshotChunkItem(LedgerItem, discriminator="SNAPSHOT_CHUNK"):
    """One slice of a large snapshot body, in its own partition so snapshot range queries
    over ``SNAPSHOT#{account_id}`` never see chunks."""

    data = BinaryAttribute(legacy_encoding=False)


ENTITY_TYPES: tuple[type[LedgerItem], ...] = (
    TradeItem,
    StrategyTradeItem,
    CorrectionItem,
    StrategyRegistryItem,
    AccountEventItem,
    EventIdItem,
    EventCounterItem,
    SnapshotItem,
    SnapshotChunkItem,
)


def table_schema() -> dict[str, Any]:
    """The table definition PynamoDB would create: keys, attribute types, GSIs."""
    return dict(LedgerItem._get_schema())
