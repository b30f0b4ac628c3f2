"""The handlers' secrets: Alpaca's keys and ``SNAPSHOT_HMAC_KEY`` from AWS Secrets Manager.

With ``TRADE_LEDGER_SECRET_ARN`` set, ``environment()`` reads that secret once per process (a
Lambda cold start) — a JSON object with any of ``APCA_API_KEY_ID``, ``APCA_API_SECRET_KEY`` and
``SNAPSHOT_HMAC_KEY`` — and returns the environment with them added; a variable set in the
environment itself wins, so plain variables still work locally. Without the ARN the
environment is returned as it is and boto3 is never imported. Any failure to read or parse the
secret is a ``ConfigurationError`` naming the secret, never its value (a
``SecretUnavailableError`` when Secrets Manager could not answer now: throttling, a 5xx, the
network, which Step Functions retries).

A fleet keeps one Alpaca key per account: with ``TRADE_LEDGER_ACCOUNT_SECRET_PREFIX`` set (e.g.
``trade-ledger/prod/alpaca/``), ``account_environment`` reads the secret named the prefix plus
the account id (``trade-ledger/prod/alpaca/6f1c…``), a JSON object with ``APCA_API_KEY_ID`` and
``APCA_API_SECRET_KEY`` (optionally ``APCA_API_BASE_URL``, else the stage's endpoint, and
``TRADE_LEDGER_ALPACA_ACCOUNT_ID``, the Alpaca account the keys must read), and those are the
only credentials the account's snapshot sees: the environment's and the shared secret's are
dropped, so a missing account secret is an error, never another account's keys.
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Mapping
from typing import Any, Final

from ledger_store.errors import ConfigurationError, SecretUnavailableError
from snapshots.errors import aws_transient

SECRET_VARIABLE: Final = "TRADE_LEDGER_SECRET_ARN"
#: A secret of the HMAC key alone: what the report function may read (never a trading key).
HMAC_SECRET_VARIABLE: Final = "TRADE_LEDGER_HMAC_SECRET_ARN"
#: What the secret may hold: the variables a handler would otherwise read from the environment.
SECRET_KEYS: Final = ("APCA_API_KEY_ID", "APCA_API_SECRET_KEY", "SNAPSHOT_HMAC_KEY")
#: The prefix of the per-account secrets' names (a fleet's one key per account).
ACCOUNT_SECRET_PREFIX_VARIABLE: Final = "TRADE_LEDGER_ACCOUNT_SECRET_PREFIX"
#: The Alpaca account an account's keys must read (optional in its secret): with it, not even
#: the first snapshot can bind a ledger account to the wrong Alpaca account.
EXPECTED_ACCOUNT_VARIABLE: Final = "TRADE_LEDGER_ALPACA_ACCOUNT_ID"
#: What an account's secret holds, the first two required.
ACCOUNT_SECRET_KEYS: Final = (
    "APCA_API_KEY_ID",
    "APCA_API_SECRET_KEY",
    "APCA_API_BASE_URL",
    EXPECTED_ACCOUNT_VARIABLE,
)
#: The credentials an account's secret replaces: another account's are never kept. The
#: endpoint is not a credential: the stage's stays unless the secret names one.
ALPACA_CREDENTIALS: Final = (
    "APCA_API_KEY_ID",
    "APCA_API_SECRET_KEY",
    "APCA_API_OAUTH_TOKEN",
    EXPECTED_ACCOUNT_VARIABLE,
)

_CACHE: dict[str, dict[str, str]] = {}
_LOCK = threading.Lock()


def environment(
    environ: Mapping[str, str] | None = None, *, client: Any | None = None
) -> Mapping[str, str]:
    """``environ`` (default ``os.environ``) with the secrets' values added (see the module):
    ``TRADE_LEDGER_SECRET_ARN``'s, and ``TRADE_LEDGER_HMAC_SECRET_ARN``'s (``SNAPSHOT_HMAC_KEY``
    alone, so a function that only verifies snapshots never holds a trading key)."""
    env = os.environ if environ is None else environ
    sources = [
        (arn, keys)
        for variable, keys in (
            (SECRET_VARIABLE, SECRET_KEYS),
            (HMAC_SECRET_VARIABLE, ("SNAPSHOT_HMAC_KEY",)),
        )
        if (arn := (env.get(variable) or "").strip())
    ]
    if not sources:
        return env
    merged: dict[str, str] = {}
    for arn, keys in sources:
        with _LOCK:
            values = _CACHE.get(arn)
            if values is None:
                values = _read(arn, env, client, keys, keys if len(keys) == 1 else ())
                _CACHE[arn] = values
        merged.update(values)
    return {**merged, **env}


def account_environment(
    env: Mapping[str, str], account_id: str, *, client: Any | None = None
) -> Mapping[str, str]:
    """``env`` with the account's own Alpaca keys when the fleet keeps one secret per account
    (``TRADE_LEDGER_ACCOUNT_SECRET_PREFIX``; see the module docstring), else ``env`` itself."""
    prefix = (env.get(ACCOUNT_SECRET_PREFIX_VARIABLE) or "").strip()
    if not prefix:
        return env
    name = f"{prefix}{account_id}"
    with _LOCK:
        values = _CACHE.get(name)
        if values is None:
            values = _read(name, env, client, ACCOUNT_SECRET_KEYS, ACCOUNT_SECRET_KEYS[:2])
            _CACHE[name] = values
    kept = {key: value for key, value in env.items() if key not in ALPACA_CREDENTIALS}
    return {**kept, **values}


def forget_account(env: Mapping[str, str], account_id: str) -> None:
    """Forget an account's cached secret: its keys were refused (rotated), so the next
    invocation reads the secret again instead of waiting for a cold start."""
    prefix = (env.get(ACCOUNT_SECRET_PREFIX_VARIABLE) or "").strip()
    with _LOCK:
        if prefix:
            _CACHE.pop(f"{prefix}{account_id}", None)
        arn = (env.get(SECRET_VARIABLE) or "").strip()
        if arn:
            _CACHE.pop(arn, None)


def clear_cache() -> None:
    """Forget the secrets read so far (tests; a rotated secret is read on the next cold start)."""
    with _LOCK:
        _CACHE.clear()


def _read(
    arn: str,
    env: Mapping[str, str],
    client: Any | None,
    allowed: tuple[str, ...] = SECRET_KEYS,
    required: tuple[str, ...] = (),
) -> dict[str, str]:
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        if client is None:
            import boto3

            region = env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION") or None
            client = boto3.client("secretsmanager", region_name=region)
        text = client.get_secret_value(SecretId=arn).get("SecretString")
    except (ClientError, BotoCoreError) as exc:
        if aws_transient(exc):
            raise SecretUnavailableError(f"the secret {arn} could not be read now: {exc}") from exc
        raise ConfigurationError(f"cannot read the secret {arn}: {exc}") from exc
    try:
        document = json.loads(text) if isinstance(text, str) else None
    except ValueError:
        document = None
    if not isinstance(document, dict):
        raise ConfigurationError(
            f"the secret {arn} must hold a JSON object with {', '.join(allowed)}"
        )
    values = {
        key: value for key in allowed if isinstance(value := document.get(key), str) and value
    }
    if not values:
        raise ConfigurationError(f"the secret {arn} holds none of {', '.join(allowed)}")
    missing = [key for key in required if key not in values]
    if missing:
        raise ConfigurationError(f"the secret {arn} lacks {', '.join(missing)}")
    return values


__all__ = [
    "ACCOUNT_SECRET_KEYS",
    "ACCOUNT_SECRET_PREFIX_VARIABLE",
    "ALPACA_CREDENTIALS",
    "EXPECTED_ACCOUNT_VARIABLE",
    "HMAC_SECRET_VARIABLE",
    "SECRET_KEYS",
    "SECRET_VARIABLE",
    "account_environment",
    "clear_cache",
    "environment",
    "forget_account",
]
