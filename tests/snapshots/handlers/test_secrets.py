"""Secrets from AWS Secrets Manager (moto): read once per process, the environment wins."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws

from ledger_store.errors import ConfigurationError, SecretUnavailableError
from snapshots.handlers import secrets

REGION = "us-east-1"


@pytest.fixture
def client() -> Iterator[Any]:
    secrets.clear_cache()
    with mock_aws():
        yield boto3.client("secretsmanager", region_name=REGION)
    secrets.clear_cache()


class Counting:
    """A secretsmanager client that counts its reads."""

    def __init__(self, inner: Any) -> None:
        self.inner, self.reads = inner, 0

    def get_secret_value(self, **kwargs: Any) -> Any:
        self.reads += 1
        return self.inner.get_secret_value(**kwargs)


def secret(client: Any, value: object) -> str:
    text = value if isinstance(value, str) else json.dumps(value)
    return str(client.create_secret(Name="trade-ledger", SecretString=text)["ARN"])


def test_without_an_arn_the_environment_is_unchanged() -> None:
    env = {"APCA_API_KEY_ID": "k"}
    assert secrets.environment(env) is env


def test_the_secret_is_read_once_and_the_environment_wins(client: Any) -> None:
    arn = secret(
        client,
        {
            "APCA_API_KEY_ID": "key",
            "APCA_API_SECRET_KEY": "secret",
            "SNAPSHOT_HMAC_KEY": "h",
            "x": 1,
        },
    )
    counting = Counting(client)
    env = {"TRADE_LEDGER_SECRET_ARN": arn, "APCA_API_KEY_ID": "local-key"}
    first = secrets.environment(env, client=counting)
    again = secrets.environment(env, client=counting)
    assert first == again
    assert counting.reads == 1  # once per cold start
    assert first["APCA_API_KEY_ID"] == "local-key"  # a variable set in the environment wins
    assert (first["APCA_API_SECRET_KEY"], first["SNAPSHOT_HMAC_KEY"]) == ("secret", "h")
    assert "x" not in first


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("not json", "must hold a JSON object"),
        (["a"], "must hold a JSON object"),
        ({"other": "x"}, "holds none of"),
    ],
)
def test_a_malformed_secret_is_a_configuration_error(
    client: Any, value: object, message: str
) -> None:
    arn = secret(client, value)
    with pytest.raises(ConfigurationError, match=message) as failure:
        secrets.environment({"TRADE_LEDGER_SECRET_ARN": arn}, client=client)
    assert "not json" not in str(failure.value)  # never the secret's value


def test_a_missing_secret_is_a_configuration_error(client: Any) -> None:
    arn = f"arn:aws:secretsmanager:{REGION}:123456789012:secret:nope-AbCdEf"
    with pytest.raises(ConfigurationError, match="cannot read the secret"):
        secrets.environment({"TRADE_LEDGER_SECRET_ARN": arn, "AWS_REGION": REGION})


# One key per account ---------------------------------------------------------------------------

PREFIX = "trade-ledger/prod/alpaca/"


def test_each_account_reads_its_own_secret_and_only_it(client: Any) -> None:
    """With the prefix, account A's keys are A's secret's, whatever the environment or the
    shared secret hold (a fleet never falls back to one key for all)."""
    for account, key in (("acct-a", "key-a"), ("acct-b", "key-b")):
        client.create_secret(
            Name=f"{PREFIX}{account}",
            SecretString=json.dumps({"APCA_API_KEY_ID": key, "APCA_API_SECRET_KEY": f"s-{key}"}),
        )
    env = {
        "TRADE_LEDGER_ACCOUNT_SECRET_PREFIX": PREFIX,
        "APCA_API_KEY_ID": "shared-key",
        "APCA_API_SECRET_KEY": "shared-secret",
        "APCA_API_BASE_URL": "https://paper-api.alpaca.markets",
        "SNAPSHOT_HMAC_KEY": "h",
    }
    a = secrets.account_environment(env, "acct-a", client=client)
    b = secrets.account_environment(env, "acct-b", client=client)
    assert (a["APCA_API_KEY_ID"], a["APCA_API_SECRET_KEY"]) == ("key-a", "s-key-a")
    assert (b["APCA_API_KEY_ID"], b["APCA_API_SECRET_KEY"]) == ("key-b", "s-key-b")
    # The endpoint is the stage's (a live stage stays live), the rest of the environment too.
    assert a["APCA_API_BASE_URL"] == "https://paper-api.alpaca.markets"
    assert a["SNAPSHOT_HMAC_KEY"] == "h"
    assert "TRADE_LEDGER_ALPACA_ACCOUNT_ID" not in a


def test_an_account_s_secret_may_name_its_endpoint_and_the_alpaca_account_it_reads(
    client: Any,
) -> None:
    client.create_secret(
        Name=f"{PREFIX}acct-e",
        SecretString=json.dumps(
            {
                "APCA_API_KEY_ID": "key-e",
                "APCA_API_SECRET_KEY": "s-e",
                "APCA_API_BASE_URL": "https://api.alpaca.markets",
                "TRADE_LEDGER_ALPACA_ACCOUNT_ID": "5d4c3b2a-0000-4000-8000-000000000001",
            }
        ),
    )
    env = {
        "TRADE_LEDGER_ACCOUNT_SECRET_PREFIX": PREFIX,
        "APCA_API_BASE_URL": "https://paper-api.alpaca.markets",
        # Another account's expectation (a shared secret) never leaks into this one's.
        "TRADE_LEDGER_ALPACA_ACCOUNT_ID": "ffffffff-0000-4000-8000-000000000009",
        "APCA_API_OAUTH_TOKEN": "shared-token",
    }
    e = secrets.account_environment(env, "acct-e", client=client)
    assert e["APCA_API_BASE_URL"] == "https://api.alpaca.markets"
    assert e["TRADE_LEDGER_ALPACA_ACCOUNT_ID"] == "5d4c3b2a-0000-4000-8000-000000000001"
    assert "APCA_API_OAUTH_TOKEN" not in e


def test_an_account_without_its_secret_is_refused_not_given_another_key(client: Any) -> None:
    env = {
        "TRADE_LEDGER_ACCOUNT_SECRET_PREFIX": PREFIX,
        "APCA_API_KEY_ID": "shared-key",
        "AWS_REGION": REGION,
    }
    with pytest.raises(ConfigurationError, match=f"cannot read the secret {PREFIX}acct-c"):
        secrets.account_environment(env, "acct-c")
    client.create_secret(Name=f"{PREFIX}acct-d", SecretString=json.dumps({"APCA_API_KEY_ID": "k"}))
    with pytest.raises(ConfigurationError, match="lacks APCA_API_SECRET_KEY"):
        secrets.account_environment(env, "acct-d", client=client)


def test_without_the_prefix_the_environment_is_unchanged() -> None:
    env = {"APCA_API_KEY_ID": "k"}
    assert secrets.account_environment(env, "acct-a") is env


@pytest.mark.parametrize(
    ("code", "status", "error"),
    [
        ("ThrottlingException", 400, SecretUnavailableError),
        ("InternalServiceError", 500, SecretUnavailableError),
        ("AccessDeniedException", 400, ConfigurationError),
        ("ResourceNotFoundException", 400, ConfigurationError),
    ],
)
def test_a_throttled_secret_is_retried_and_a_refused_one_is_not(
    code: str, status: int, error: type[Exception]
) -> None:
    """A secret Secrets Manager could not serve now is a transient ``SecretUnavailableError``
    (Step Functions retries it); one it refuses stays a ``ConfigurationError``."""
    from botocore.exceptions import ClientError

    class Refusing:
        def get_secret_value(self, **_: Any) -> None:
            raise ClientError(
                {
                    "Error": {"Code": code, "Message": "no"},
                    "ResponseMetadata": {"HTTPStatusCode": status},
                },
                "GetSecretValue",
            )

    secrets.clear_cache()
    with pytest.raises(error, match="the secret arn:x"):
        secrets.environment({"TRADE_LEDGER_SECRET_ARN": "arn:x"}, client=Refusing())


def test_the_hmac_secret_gives_the_hmac_key_and_nothing_else(client: Any) -> None:
    """The report function's secret: even if it held trading keys, only the HMAC key is
    taken; a secret without the key is refused."""
    arn = str(
        client.create_secret(
            Name="trade-ledger-hmac",
            SecretString=json.dumps({"SNAPSHOT_HMAC_KEY": "h", "APCA_API_KEY_ID": "leaked"}),
        )["ARN"]
    )
    env = secrets.environment({"TRADE_LEDGER_HMAC_SECRET_ARN": arn}, client=client)
    assert env["SNAPSHOT_HMAC_KEY"] == "h"
    assert "APCA_API_KEY_ID" not in env
    empty = str(
        client.create_secret(
            Name="trade-ledger-hmac-empty", SecretString=json.dumps({"APCA_API_KEY_ID": "k"})
        )["ARN"]
    )
    secrets.clear_cache()
    with pytest.raises(ConfigurationError, match="holds none of SNAPSHOT_HMAC_KEY"):
        secrets.environment({"TRADE_LEDGER_HMAC_SECRET_ARN": empty}, client=client)


def test_a_rotated_key_is_read_again_once_forgotten(client: Any) -> None:
    """A warm container keeps an account's keys; after Alpaca refused them (a rotation), the
    handler forgets them and the next invocation reads the secret's new value."""
    name = f"{PREFIX}acct-r"
    client.create_secret(
        Name=name, SecretString=json.dumps({"APCA_API_KEY_ID": "old", "APCA_API_SECRET_KEY": "s"})
    )
    env = {"TRADE_LEDGER_ACCOUNT_SECRET_PREFIX": PREFIX}
    assert secrets.account_environment(env, "acct-r", client=client)["APCA_API_KEY_ID"] == "old"
    client.put_secret_value(
        SecretId=name,
        SecretString=json.dumps({"APCA_API_KEY_ID": "new", "APCA_API_SECRET_KEY": "s"}),
    )
    assert secrets.account_environment(env, "acct-r", client=client)["APCA_API_KEY_ID"] == "old"
    secrets.forget_account(env, "acct-r")
    assert secrets.account_environment(env, "acct-r", client=client)["APCA_API_KEY_ID"] == "new"
