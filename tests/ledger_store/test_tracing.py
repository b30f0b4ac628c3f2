"""X-Ray subsegments: recorded inside Lambda, silent and import-free outside."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

from ledger_store.config import TableSettings
from ledger_store.trades import TradeLedgerRepository
from tests.builders import make_fill


def test_outside_lambda_nothing_is_imported_or_logged() -> None:
    script = textwrap.dedent(
        """
        import os, sys, warnings
        os.environ.pop("AWS_LAMBDA_FUNCTION_NAME", None)
        os.environ.update(AWS_ACCESS_KEY_ID="x", AWS_SECRET_ACCESS_KEY="x", AWS_REGION="us-east-1")
        warnings.simplefilter("error")
        from moto import mock_aws
        from ledger_store.bootstrap import create_table
        from ledger_store.config import TableSettings
        from ledger_store.trades import TradeLedgerRepository
        from ledger_store.dto import parse_fill
        with mock_aws():
            settings = TableSettings(table_name="trace-test", region="us-east-1")
            create_table(settings)
            ledger = TradeLedgerRepository(settings)
            ledger.record(parse_fill(dict(order_id="o", account_id="a", correlation_id="c",
                symbol="AAPL", side="BUY", qty="1", price="1", filled_at="2024-01-01T00:00:00Z",
                strategy_allocation={"s": "1"})))
            assert list(ledger.trades_by_symbol("AAPL"))
        assert "aws_xray_sdk" not in sys.modules, "aws_xray_sdk imported outside Lambda"
        print("ok")
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ok"
    assert result.stderr == ""


@pytest.mark.parametrize("engine", ["moto"], indirect=True)
def test_in_lambda_reads_and_writes_are_subsegments(
    settings: TableSettings, monkeypatch: pytest.MonkeyPatch
) -> None:
    from aws_xray_sdk.core import xray_recorder

    monkeypatch.setenv("AWS_LAMBDA_FUNCTION_NAME", "trading")
    monkeypatch.delenv("AWS_XRAY_SDK_ENABLED", raising=False)
    xray_recorder.configure(sampling=False, context_missing="LOG_ERROR")
    segment = xray_recorder.begin_segment("test-invocation")
    try:
        ledger = TradeLedgerRepository(settings)
        ledger.record(make_fill(order_id="traced"))
        assert [f.order_id for f in ledger.trades_by_symbol("AAPL")] == ["traced"]
        names = [s.name for s in segment.subsegments]
        assert names[0] == "ledger.record"
        assert "ledger.query" in names
        query = next(s for s in segment.subsegments if s.name == "ledger.query")
        assert query.annotations["operation"] == "query trades by symbol"
        assert query.annotations["key"] == "SYMBOL#AAPL"
    finally:
        xray_recorder.clear_trace_entities()
