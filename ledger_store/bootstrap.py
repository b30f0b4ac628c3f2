"""Table bootstrap: create, describe and compare the ledger table, and export it as CloudFormation.

Everything is derived from the PynamoDB models, so the table, the infrastructure template and
the code that reads the table cannot drift apart.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from pynamodb.constants import PAY_PER_REQUEST_BILLING_MODE

from .config import TABLE_NAME_TEMPLATE, TableSettings
from .errors import SchemaMismatchError
from .models import LedgerItem, table_schema
from .storage import storage_call

TTL_ATTRIBUTE = "ttl"
_POLL_SECONDS = 1.0


@dataclass(frozen=True)
class IndexDefinition:
    """A GSI as the models declare it."""

    name: str
    hash_key: str
    range_key: str
    projection_type: str
    non_key_attributes: tuple[str, ...] = ()


@dataclass(frozen=True)
class TableDefinition:
    """The whole table as the models declare it."""

    hash_key: str
    range_key: str
    attribute_types: dict[str, str]
    indexes: tuple[IndexDefinition, ...]
    billing_mode: str = PAY_PER_REQUEST_BILLING_MODE
    ttl_attribute: str = TTL_ATTRIBUTE


@dataclass(frozen=True)
class TableDescription:
    """What DynamoDB reports about an existing table, plus how it differs from the models."""

    table_name: str
    endpoint: str
    region: str
    status: str
    item_count: int
    billing_mode: str
    ttl_status: str
    ttl_attribute: str | None
    indexes: tuple[dict[str, Any], ...]
    differences: tuple[str, ...] = field(default=())

    def as_dict(self) -> dict[str, Any]:
        return {
            "table_name": self.table_name,
            "endpoint": self.endpoint,
            "region": self.region,
            "status": self.status,
            "item_count": self.item_count,
            "billing_mode": self.billing_mode,
            "ttl": {"status": self.ttl_status, "attribute": self.ttl_attribute},
            "indexes": list(self.indexes),
            "matches_models": not self.differences,
            "differences": list(self.differences),
        }


def expected_definition() -> TableDefinition:
    """The table layout declared in ``models.py``."""
    schema = table_schema()
    keys = {k["KeyType"]: k["AttributeName"] for k in schema["key_schema"]}
    indexes = []
    for index in sorted(schema["global_secondary_indexes"], key=lambda i: i["index_name"]):
        index_keys = {k["KeyType"]: k["AttributeName"] for k in index["key_schema"]}
        projection = index["projection"]
        indexes.append(
            IndexDefinition(
                name=index["index_name"],
                hash_key=index_keys["HASH"],
                range_key=index_keys["RANGE"],
                projection_type=projection["ProjectionType"],
                non_key_attributes=tuple(sorted(projection.get("NonKeyAttributes", []))),
            )
        )
    return TableDefinition(
        hash_key=keys["HASH"],
        range_key=keys["RANGE"],
        attribute_types={
            d["AttributeName"]: d["AttributeType"]
            for d in sorted(schema["attribute_definitions"], key=lambda d: d["AttributeName"])
        },
        indexes=tuple(indexes),
    )


def create_table(
    settings: TableSettings,
    *,
    wait: bool = False,
    sleep: Callable[[float], None] = time.sleep,
) -> Literal["created", "exists"]:
    """Create the table, its GSIs and TTL; an existing identical table is fine.

    An existing table that differs from the models raises ``SchemaMismatchError`` listing every
    difference. TTL is enabled once the table is ACTIVE (DynamoDB rejects it earlier, and
    rejects enabling it twice). ``wait`` also waits for every GSI to become ACTIVE.
    """
    with storage_call(settings, "create table", settings.table_name):
        connection = LedgerItem._get_connection()
        if LedgerItem.exists():
            differences = compare(settings)
            if differences:
                raise SchemaMismatchError(settings.table_name, differences)
            return "exists"
        schema = table_schema()
        connection.create_table(
            attribute_definitions=schema["attribute_definitions"],
            key_schema=schema["key_schema"],
            global_secondary_indexes=schema["global_secondary_indexes"],
            billing_mode=PAY_PER_REQUEST_BILLING_MODE,
        )
        _wait_active(connection.describe_table, indexes_too=wait, sleep=sleep)
        connection.update_time_to_live(TTL_ATTRIBUTE)
    return "created"


def add_missing_indexes(
    settings: TableSettings,
    *,
    sleep: Callable[[float], None] = time.sleep,
) -> list[str]:
    """Add the GSIs the models declare and the table lacks (one UpdateTable each, as DynamoDB
    allows one index creation at a time), waiting for each to be ACTIVE; returns their names.

    The upgrade path of a table created by an earlier version (GSI5, snapshot listing, came
    with issue 11): DynamoDB backfills a new index from the existing items. Nothing else is
    changed; any other difference still raises ``SchemaMismatchError``.
    """
    schema = table_schema()
    declared = {index["index_name"]: index for index in schema["global_secondary_indexes"]}
    added: list[str] = []
    with storage_call(settings, "update table", settings.table_name):
        connection = LedgerItem._get_connection()
        table = connection.describe_table()
        present = {g["IndexName"] for g in table.get("GlobalSecondaryIndexes", [])}
        client: Any = connection.connection.client
        types = dict(expected_definition().attribute_types)
        for name in sorted(set(declared) - present):
            index = declared[name]
            attributes = sorted({k["AttributeName"] for k in index["key_schema"]})
            client.update_table(
                TableName=settings.table_name,
                AttributeDefinitions=[
                    {"AttributeName": a, "AttributeType": types[a]} for a in attributes
                ],
                GlobalSecondaryIndexUpdates=[
                    {
                        "Create": {
                            "IndexName": name,
                            "KeySchema": index["key_schema"],
                            "Projection": index["projection"],
                        }
                    }
                ],
            )
            _wait_active(connection.describe_table, indexes_too=True, sleep=sleep)
            added.append(name)
    differences = compare(settings)
    if differences:
        raise SchemaMismatchError(settings.table_name, differences)
    return added


def delete_table(settings: TableSettings) -> None:
    """Delete the table (tests and demos only; the CLI does not expose this)."""
    with storage_call(settings, "delete table", settings.table_name):
        LedgerItem.delete_table()


def _wait_active(
    describe: Callable[[], dict[str, Any]], *, indexes_too: bool, sleep: Callable[[float], None]
) -> None:
    while True:
        table = describe()
        ready = table.get("TableStatus") == "ACTIVE"
        if indexes_too:
            ready = ready and all(
                gsi.get("IndexStatus", "ACTIVE") == "ACTIVE"
                for gsi in table.get("GlobalSecondaryIndexes", [])
            )
        if ready:
            return
        sleep(_POLL_SECONDS)


def describe_table(settings: TableSettings) -> TableDescription:
    """Describe the existing table and list where it differs from the models."""
    with storage_call(settings, "describe table", settings.table_name):
        connection = LedgerItem._get_connection()
        table = connection.describe_table()
        client: Any = connection.connection.client
        ttl = client.describe_time_to_live(TableName=settings.table_name)
        endpoint = str(client.meta.endpoint_url)
    ttl_description = ttl.get("TimeToLiveDescription", {})
    indexes = tuple(
        {
            "name": gsi["IndexName"],
            "keys": {k["KeyType"]: k["AttributeName"] for k in gsi["KeySchema"]},
            "projection": gsi["Projection"].get("ProjectionType"),
            "non_key_attributes": sorted(gsi["Projection"].get("NonKeyAttributes", [])),
            "status": gsi.get("IndexStatus", "ACTIVE"),
        }
        for gsi in sorted(table.get("GlobalSecondaryIndexes", []), key=lambda g: g["IndexName"])
    )
    return TableDescription(
        table_name=settings.table_name,
        endpoint=endpoint,
        region=settings.region,
        status=str(table.get("TableStatus", "UNKNOWN")),
        item_count=int(table.get("ItemCount", 0)),
        billing_mode=_billing_mode(table),
        ttl_status=str(ttl_description.get("TimeToLiveStatus", "DISABLED")),
        ttl_attribute=ttl_description.get("AttributeName"),
        indexes=indexes,
        differences=tuple(_differences(table, ttl_description, expected_definition())),
    )


def compare(settings: TableSettings) -> list[str]:
    """Every difference between the existing table and the models (empty when identical)."""
    return list(describe_table(settings).differences)


def _billing_mode(table: dict[str, Any]) -> str:
    summary = table.get("BillingModeSummary") or {}
    mode = summary.get("BillingMode")
    if mode:
        return str(mode)
    throughput = table.get("ProvisionedThroughput") or {}
    # DynamoDB Local omits the summary; on-demand tables report zero provisioned capacity.
    if throughput.get("ReadCapacityUnits") or throughput.get("WriteCapacityUnits"):
        return "PROVISIONED"
    return PAY_PER_REQUEST_BILLING_MODE


def _differences(
    table: dict[str, Any], ttl: dict[str, Any], expected: TableDefinition
) -> list[str]:
    found: list[str] = []
    keys = {k["KeyType"]: k["AttributeName"] for k in table.get("KeySchema", [])}
    if keys != {"HASH": expected.hash_key, "RANGE": expected.range_key}:
        found.append(
            f"primary key is {keys}, expected HASH={expected.hash_key} RANGE={expected.range_key}"
        )
    types = {d["AttributeName"]: d["AttributeType"] for d in table.get("AttributeDefinitions", [])}
    for name, wanted in expected.attribute_types.items():
        if name in types and types[name] != wanted:
            found.append(f"attribute {name} has type {types[name]}, expected {wanted}")
    actual_indexes = {g["IndexName"]: g for g in table.get("GlobalSecondaryIndexes", [])}
    for index in expected.indexes:
        actual = actual_indexes.pop(index.name, None)
        if actual is None:
            found.append(f"index {index.name} is missing")
            continue
        actual_keys = {k["KeyType"]: k["AttributeName"] for k in actual["KeySchema"]}
        if actual_keys != {"HASH": index.hash_key, "RANGE": index.range_key}:
            found.append(
                f"index {index.name} keys are {actual_keys}, expected "
                f"HASH={index.hash_key} RANGE={index.range_key}"
            )
        projection = actual.get("Projection", {})
        if projection.get("ProjectionType") != index.projection_type:
            found.append(
                f"index {index.name} projects {projection.get('ProjectionType')}, "
                f"expected {index.projection_type}"
            )
        elif tuple(sorted(projection.get("NonKeyAttributes", []))) != index.non_key_attributes:
            found.append(
                f"index {index.name} includes {sorted(projection.get('NonKeyAttributes', []))}, "
                f"expected {list(index.non_key_attributes)}"
            )
    for extra in sorted(actual_indexes):
        found.append(f"index {extra} is not declared by the models")
    billing = _billing_mode(table)
    if billing != expected.billing_mode:
        found.append(f"billing mode is {billing}, expected {expected.billing_mode}")
    status = ttl.get("TimeToLiveStatus", "DISABLED")
    if status not in ("ENABLED", "ENABLING"):
        found.append(f"TTL is {status}, expected ENABLED on attribute {expected.ttl_attribute!r}")
    elif ttl.get("AttributeName") != expected.ttl_attribute:
        found.append(
            f"TTL attribute is {ttl.get('AttributeName')!r}, expected {expected.ttl_attribute!r}"
        )
    return found


def cloudformation_template(table_name: str | None = None) -> dict[str, Any]:
    """An ``AWS::DynamoDB::Table`` template generated from the models.

    Without ``table_name`` the name is ``alchemiser-trade-ledger-${Stage}`` with a ``Stage``
    parameter. PITR and encryption are on; the table is retained on stack deletion.
    """
    expected = expected_definition()
    name: Any = table_name or {"Fn::Sub": TABLE_NAME_TEMPLATE.replace("{stage}", "${Stage}")}
    indexes = []
    for index in expected.indexes:
        projection: dict[str, Any] = {"ProjectionType": index.projection_type}
        if index.non_key_attributes:
            projection["NonKeyAttributes"] = list(index.non_key_attributes)
        indexes.append(
            {
                "IndexName": index.name,
                "KeySchema": [
                    {"AttributeName": index.hash_key, "KeyType": "HASH"},
                    {"AttributeName": index.range_key, "KeyType": "RANGE"},
                ],
                "Projection": projection,
            }
        )
    template: dict[str, Any] = {
        "AWSTemplateFormatVersion": "2010-09-09",
        "Description": "trade-ledger: single-table trade ledger and account snapshots",
        "Resources": {
            "TradeLedgerTable": {
                "Type": "AWS::DynamoDB::Table",
                "DeletionPolicy": "Retain",
                "UpdateReplacePolicy": "Retain",
                "Properties": {
                    "TableName": name,
                    "BillingMode": expected.billing_mode,
                    "AttributeDefinitions": [
                        {"AttributeName": attr, "AttributeType": kind}
                        for attr, kind in expected.attribute_types.items()
                    ],
                    "KeySchema": [
                        {"AttributeName": expected.hash_key, "KeyType": "HASH"},
                        {"AttributeName": expected.range_key, "KeyType": "RANGE"},
                    ],
                    "GlobalSecondaryIndexes": indexes,
                    "TimeToLiveSpecification": {
                        "AttributeName": expected.ttl_attribute,
                        "Enabled": True,
                    },
                    "PointInTimeRecoverySpecification": {"PointInTimeRecoveryEnabled": True},
                    "SSESpecification": {"SSEEnabled": True},
                },
            }
        },
        "Outputs": {
            "TradeLedgerTableName": {"Value": {"Ref": "TradeLedgerTable"}},
            "TradeLedgerTableArn": {"Value": {"Fn::GetAtt": ["TradeLedgerTable", "Arn"]}},
        },
    }
    if table_name is None:
        template["Parameters"] = {
            "Stage": {"Type": "String", "Default": "dev", "AllowedPattern": "[A-Za-z0-9_.-]+"}
        }
    return template
