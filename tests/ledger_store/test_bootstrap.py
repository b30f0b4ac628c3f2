"""Table bootstrap: idempotent create, differences reported one by one, CloudFormation export."""

from __future__ import annotations

import time

import boto3
import pytest

from ledger_store.bootstrap import (
    add_missing_indexes,
    cloudformation_template,
    create_table,
    describe_table,
    expected_definition,
)
from ledger_store.config import TableSettings
from ledger_store.errors import SchemaMismatchError


def _client(settings: TableSettings) -> object:
    return boto3.client("dynamodb", region_name=settings.region, endpoint_url=settings.endpoint_url)


def test_create_is_idempotent(settings: TableSettings) -> None:
    assert create_table(settings) == "exists"
    assert create_table(settings, wait=True) == "exists"
    assert describe_table(settings).differences == ()


def test_fresh_table_has_the_declared_layout(settings: TableSettings) -> None:
    description = describe_table(settings)
    assert description.status == "ACTIVE"
    assert description.billing_mode == "PAY_PER_REQUEST"
    assert description.ttl_status in ("ENABLED", "ENABLING")
    assert description.ttl_attribute == "ttl"
    assert [i["name"] for i in description.indexes] == ["GSI1", "GSI2", "GSI3", "GSI4", "GSI5"]
    projections = {i["name"]: i["projection"] for i in description.indexes}
    assert projections == {
        "GSI1": "ALL",
        "GSI2": "ALL",
        "GSI3": "INCLUDE",
        "GSI4": "INCLUDE",
        "GSI5": "INCLUDE",
    }


def test_differing_table_is_reported_difference_by_difference(settings: TableSettings) -> None:
    other = settings.with_table(settings.table_name + "-bare")
    client = _client(settings)
    client.create_table(  # type: ignore[attr-defined]
        TableName=other.table_name,
        KeySchema=[
            {"AttributeName": "PK", "KeyType": "HASH"},
            {"AttributeName": "SK", "KeyType": "RANGE"},
        ],
        AttributeDefinitions=[
            {"AttributeName": "PK", "AttributeType": "S"},
            {"AttributeName": "SK", "AttributeType": "S"},
            {"AttributeName": "GSI1PK", "AttributeType": "S"},
            {"AttributeName": "GSI1SK", "AttributeType": "S"},
        ],
        GlobalSecondaryIndexes=[
            {
                "IndexName": "GSI1",
                "KeySchema": [
                    {"AttributeName": "GSI1PK", "KeyType": "HASH"},
                    {"AttributeName": "GSI1SK", "KeyType": "RANGE"},
                ],
                "Projection": {"ProjectionType": "KEYS_ONLY"},
            }
        ],
        BillingMode="PAY_PER_REQUEST",
    )
    try:
        with pytest.raises(SchemaMismatchError) as caught:
            create_table(other)
        differences = caught.value.differences
        assert "index GSI1 projects KEYS_ONLY, expected ALL" in differences
        for missing in ("GSI2", "GSI3", "GSI4", "GSI5"):
            assert f"index {missing} is missing" in differences
        assert any(d.startswith("TTL is DISABLED") for d in differences)
        assert len(differences) == 6
    finally:
        client.delete_table(TableName=other.table_name)  # type: ignore[attr-defined]


def test_cloudformation_matches_the_models() -> None:
    template = cloudformation_template()
    table = template["Resources"]["TradeLedgerTable"]
    assert table["Type"] == "AWS::DynamoDB::Table"
    props = table["Properties"]
    assert props["TableName"] == {"Fn::Sub": "alchemiser-trade-ledger-${Stage}"}
    assert template["Parameters"]["Stage"]["Default"] == "dev"
    assert props["BillingMode"] == "PAY_PER_REQUEST"
    assert props["TimeToLiveSpecification"] == {"AttributeName": "ttl", "Enabled": True}
    assert props["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": True}
    expected = expected_definition()
    assert {i["IndexName"] for i in props["GlobalSecondaryIndexes"]} == {
        i.name for i in expected.indexes
    }
    gsi3 = next(i for i in props["GlobalSecondaryIndexes"] if i["IndexName"] == "GSI3")
    assert gsi3["Projection"]["ProjectionType"] == "INCLUDE"
    assert "qty" in gsi3["Projection"]["NonKeyAttributes"]
    defined = {d["AttributeName"] for d in props["AttributeDefinitions"]}
    gsi_keys = {f"GSI{n}{k}" for n in range(1, 5) for k in ("PK", "SK")}
    # GSI5 is keyed on the snapshot header's own account_id and period_end.
    assert defined == {"PK", "SK", "account_id", "period_end"} | gsi_keys


def test_cloudformation_with_a_literal_table_name() -> None:
    template = cloudformation_template("ledger-prod")
    assert template["Resources"]["TradeLedgerTable"]["Properties"]["TableName"] == "ledger-prod"
    assert "Parameters" not in template


def test_a_table_of_an_earlier_version_gains_the_missing_index(settings: TableSettings) -> None:
    """A table created before GSI5 (snapshot listing): ``add_missing_indexes`` adds it, and
    DynamoDB backfills it with the snapshots already stored."""
    from datetime import UTC, datetime

    from ledger_store.snapshot_store import AccountSnapshotRepository
    from snapshots.records import snapshot_record
    from snapshots.schema import seal
    from tests.builders import snapshot_body

    stored = seal(snapshot_body(), None)
    AccountSnapshotRepository(settings).put(snapshot_record(stored))
    client = _client(settings)
    client.update_table(  # type: ignore[attr-defined]
        TableName=settings.table_name,
        GlobalSecondaryIndexUpdates=[{"Delete": {"IndexName": "GSI5"}}],
    )
    for _ in range(600):  # DynamoDB Local deletes an index asynchronously (DELETING)
        if all(i["name"] != "GSI5" for i in describe_table(settings).indexes):
            break
        time.sleep(0.05)
    assert "index GSI5 is missing" in describe_table(settings).differences
    with pytest.raises(SchemaMismatchError, match="GSI5"):
        create_table(settings)

    assert add_missing_indexes(settings, sleep=lambda _: None) == ["GSI5"]
    assert describe_table(settings).differences == ()
    assert add_missing_indexes(settings, sleep=lambda _: None) == []
    listed = list(AccountSnapshotRepository(settings).summaries(stored.account_id))
    assert [s.snapshot_id for s in listed] == [stored.snapshot_id]
    assert listed[0].period_end == stored.period_end
    assert datetime.now(UTC) > listed[0].created_at
