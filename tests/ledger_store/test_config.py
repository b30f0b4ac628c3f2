"""Table name, region and endpoint resolution follow the flags, then the SDK's environment."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from ledger_store.binding import LOCAL_CREDENTIALS, local_credentials
from ledger_store.config import TableSettings, resolve_table_name
from ledger_store.errors import ConfigurationError


def test_default_name_uses_stage_dev() -> None:
    assert resolve_table_name(environ={}) == "alchemiser-trade-ledger-dev"


def test_stage_from_environment_and_argument() -> None:
    env = {"TRADE_LEDGER_STAGE": "prod", "AWS_REGION": "eu-west-1"}
    assert TableSettings.from_env(environ=env).table_name == "alchemiser-trade-ledger-prod"
    chosen = TableSettings.from_env(stage="qa", environ=env)
    assert chosen.table_name == "alchemiser-trade-ledger-qa"


def test_explicit_table_overrides_stage() -> None:
    env = {"TRADE_LEDGER_TABLE": "my-ledger", "TRADE_LEDGER_STAGE": "prod", "AWS_REGION": "x-1"}
    assert TableSettings.from_env(environ=env).table_name == "my-ledger"
    assert TableSettings.from_env(table_name="other", environ=env).table_name == "other"


def test_name_is_resolved_at_call_time(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TRADE_LEDGER_STAGE", "first")
    assert TableSettings.from_env().table_name.endswith("-first")
    monkeypatch.setenv("TRADE_LEDGER_STAGE", "second")
    assert TableSettings.from_env().table_name.endswith("-second")


def test_endpoint_precedence() -> None:
    env = {
        "AWS_REGION": "us-east-1",
        "AWS_ENDPOINT_URL": "http://generic:1",
        "AWS_ENDPOINT_URL_DYNAMODB": "http://dynamodb:2",
    }
    assert TableSettings.from_env(environ=env).endpoint_url == "http://dynamodb:2"
    assert TableSettings.from_env(endpoint_url="http://flag:3", environ=env).endpoint_url == (
        "http://flag:3"
    )
    del env["AWS_ENDPOINT_URL_DYNAMODB"]
    assert TableSettings.from_env(environ=env).endpoint_url == "http://generic:1"


def test_region_precedence() -> None:
    env = {"AWS_REGION": "eu-west-1", "AWS_DEFAULT_REGION": "us-west-2"}
    assert TableSettings.from_env(environ=env).region == "eu-west-1"
    assert TableSettings.from_env(region="ap-south-1", environ=env).region == "ap-south-1"
    assert TableSettings.from_env(environ={"AWS_DEFAULT_REGION": "us-west-2"}).region == (
        "us-west-2"
    )


def test_missing_region_for_aws_is_an_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("ledger_store.config._profile_region", lambda: None)
    with pytest.raises(ConfigurationError, match="AWS_REGION"):
        TableSettings.from_env(environ={})
    local = TableSettings.from_env(endpoint_url="http://127.0.0.1:8000", environ={})
    assert local.region == "us-east-1"


@pytest.mark.parametrize("name", ["ab", "has space", "has#hash", "x" * 256])
def test_invalid_table_names_are_rejected(name: str) -> None:
    with pytest.raises(ConfigurationError, match="invalid DynamoDB table name"):
        TableSettings(table_name=name, region="us-east-1")


def test_invalid_stage_is_rejected() -> None:
    with pytest.raises(ConfigurationError, match="invalid stage"):
        resolve_table_name("bad stage", environ={})


@pytest.fixture
def no_credentials(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[None]:
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    local_credentials.cache_clear()
    yield
    local_credentials.cache_clear()


@pytest.mark.usefixtures("no_credentials")
@pytest.mark.parametrize(
    ("endpoint", "expected"),
    [
        ("http://127.0.0.1:8000", LOCAL_CREDENTIALS),
        ("http://localhost:8000", LOCAL_CREDENTIALS),
        ("http://[::1]:8000", LOCAL_CREDENTIALS),
        ("https://dynamodb.eu-west-1.amazonaws.com", None),
        ("http://10.0.0.5:8000", None),
        (None, None),
    ],
)
def test_a_loopback_engine_works_without_aws_credentials(
    endpoint: str | None, expected: tuple[str, str] | None
) -> None:
    assert local_credentials(endpoint) == expected


def test_configured_credentials_are_never_replaced(monkeypatch: pytest.MonkeyPatch) -> None:
    local_credentials.cache_clear()
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "real")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "real")
    try:
        assert local_credentials("http://127.0.0.1:8000") is None
    finally:
        local_credentials.cache_clear()
