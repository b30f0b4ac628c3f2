"""Smoke test of ``scripts/bench_snapshot.py`` at a toy size (structure only, nothing timed)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from ledger_store.config import TableSettings
from ledger_store.snapshot_store import AccountSnapshotRepository
from tests.builders import load_script

bench: Any = load_script("bench_snapshot")


def test_synthetic_history_is_deterministic_and_sized() -> None:
    account = bench.history.synthetic_account_id("t")
    first = bench.synthetic_history(95, fills_per_day=40, account_id=account)
    second = bench.synthetic_history(95, fills_per_day=40, account_id=account)
    assert first == second
    assert [len(c.fills) for c in first] == [15, 40, 40]
    assert {len(f.strategy_allocation) for c in first for f in c.fills} == {1, 2}


def test_item_size_follows_dynamodb_rules() -> None:
    item = {"PK": {"S": "abc"}, "n": {"N": "123.45"}, "b": {"B": b"\x00" * 10}}
    assert bench.item_size(item) == (2 + 3) + (1 + 4) + (1 + 10)


def test_bench_size_reports_requests_capacity_and_sizes(settings: TableSettings) -> None:
    result = bench.bench_size(settings, 50, repeat=2, fills_per_day=20, threads=1)

    assert result.trades == 50
    assert result.repeat == 2
    assert result.seed["fills"] == 50
    assert result.seconds["min"] <= result.seconds["median"] <= result.seconds["max"]
    assert {"alpaca fetch", "ledger aggregation", "write", "cpu rest"} <= set(result.phases)
    assert result.dynamodb["total_requests"] > 0
    assert result.dynamodb["requests"]["Query"] > 0
    assert result.dynamodb["requests"]["TransactWriteItems"] == 1
    assert result.dynamodb == result.paths["incremental"]["dynamodb"]
    assert result.readback["total_requests"] > 0
    assert sum(result.alpaca_requests.values()) > 0
    snapshot = result.snapshot
    assert snapshot["orders"] > 0
    assert snapshot["strategies"] > 0
    assert snapshot["status"] == "created"
    assert 0 < snapshot["compressed_bytes"] < snapshot["canonical_bytes"]
    assert snapshot["header_item_bytes"] > snapshot["compressed_bytes"]
    assert snapshot["chunks"] == 0
    if settings.endpoint_url is not None:  # DynamoDB Local reports real capacity
        assert result.dynamodb["read_units"] > 0
        assert result.dynamodb["write_units"] > 0
        assert result.snapshot["write_units_by_rule"] == result.dynamodb["write_units"]

    # The daily snapshot carried forward from the previous day's, the forced full rebuild
    # and the raw-botocore floor, measured side by side.
    incremental, full = result.paths["incremental"], result.paths["full"]
    assert incremental["ledger_read"]["path"] == "incremental"
    assert full["ledger_read"]["path"] == "full"
    assert full["ledger_read"]["attributions_read"] == result.attributions
    assert incremental["ledger_read"]["attributions_read"] < result.attributions
    assert result.floor["dynamodb"]["requests"]["Query"] >= 2
    assert result.read_path["items"] > 0
    assert result.read_path["ratio"] > 0
    # The full read beside its floors: the same attributions, the same pages.
    full_read = result.full_read
    assert full_read["attributions"] == result.attributions
    assert full_read["strategies"] == result.snapshot["strategies"]
    for name in ("library", "raw botocore", "raw JSON"):
        assert full_read[name]["seconds"] > 0
        assert full_read[name]["cpu_seconds"] > 0
    # the library's attribution pages are the floor's (plus its registry, events and counter)
    floor_queries = full_read["raw botocore"]["read_requests"]
    assert floor_queries >= full_read["strategies"]
    assert floor_queries < full_read["library"]["read_requests"] <= floor_queries + 3
    listing = result.listing
    assert listing["summaries (GSI5)"]["requests"] == {"Query": 1}
    assert listing["raw botocore (GSI5)"]["requests"] == {"Query": 1}
    assert listing["range (bodies)"]["total_requests"] >= 1

    report = bench.format_sizes([result], "test")
    assert "50 trades" in report
    assert "compressed (zlib -9), B" in report
    paths = bench.format_paths([result], "test")
    assert "RCU (b) / (a)" in paths
    assert "read requests (a) / (c)" in paths
    assert "floor, raw JSON: wall / CPU, s" in paths
    assert json.loads(json.dumps({"sizes": [result]}, default=bench._json_default))


def test_max_size_probe_stores_and_reads_back(settings: TableSettings) -> None:
    store = AccountSnapshotRepository(settings)
    meter = bench.DynamoMeter.for_settings(settings)

    probe = bench.run_probe(settings, store, meter, 60)

    assert probe.ok, probe.error
    assert probe.orders >= 60
    assert 0 < probe.compressed_bytes < probe.canonical_bytes
    assert probe.chunks == 0


@pytest.mark.parametrize("argv", [["--max-size"], ["--sizes", "10,20", "--max-size"]])
def test_command_line_defaults(argv: list[str]) -> None:
    args = bench.parse_args(argv)
    assert args.max_size
    assert args.sizes == ([] if argv == ["--max-size"] else [10, 20])
    assert bench.parse_args([]).sizes == [10_000, 100_000]


def test_import_measures_a_first_import_and_a_re_import(settings: TableSettings) -> None:
    result = bench.bench_import(settings, 60, lambda _: None)
    assert result["fills"] == 60
    assert result["first import"]["requests"]["TransactWriteItems"] >= 1
    # A re-import reads each fill once, in batches, and writes nothing.
    assert result["re-import"]["requests"] == {"BatchGetItem": 1}
    assert "fills/s" in bench.format_import(result, "test")
