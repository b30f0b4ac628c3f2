"""The handlers' secrets: Alpaca's keys and ``SNAPSHOT_HMAC_KEY`` from AWS Secrets Manager.

With ``TRADE_LEDGER_SECRET_ARN`` set, ``environment()`` reads that secret once per process (a
Lambda cold start) — a JSON object with any of ``APCA_API_KEY_ID``, ``APCA_API_SECRET_KEY`` and
``SNAPSHOT_HMAC_KEY`` — and returns the environment with them added; a variable set in the
environment itself wins, so plain variables still work locally. Without the ARN the
environment is returned as it is and boto3 is never imported. Any failure to read or parse the
secret is a ``ConfigurationError`` naming the secret, never its value.
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Mapping
from typing import Any, Final

from ledger_store.errors import ConfigurationError

SECRET_VARIABLE: Final = "TRADE_LEDGER_SECRET_ARN"
#: What the secret may hold: the variables a handler would otherwise read from the environment.
SECRET_KEYS: Final = ("APCA_API_KEY_ID", "APCA_API_SECRET_KEY", "SNAPSHOT_HMAC_KEY")

_CACHE: dict[str, dict[str, str]] = {}
_LOCK = threading.Lock()


def environment(
    environ: Mapping[str, str] | None = None, *, client: Any | None = None
) -> Mapping[str, str]:
    """``environ`` (default ``os.environ``) with the secret's values added (see the module)."""
    env = os.environ if environ is None else environ
    arn = (env.get(SECRET_VARIABLE) or "").strip()
    if not arn:
        return env
    with _LOCK:
        values = _CACHE.get(arn)
        if values is None:
            values = _read(arn, env, client)
            _CACHE[arn] = values
    return {**values, **env}


def clear_cache() -> None:
    """Forget the secrets read so far (tests; a rotated secret is read on the next cold start)."""
    with _LOCK:
        _CACHE.clear()


def _read(arn: str, env: Mapping[str, str], client: Any | None) -> dict[str, str]:
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        if client is None:
            import boto3

            region = env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION") or None
            client = boto3.client("secretsmanager", region_name=region)
        text = client.get_secret_value(SecretId=arn).get("SecretString")
    except (ClientError, BotoCoreError) as exc:
        raise ConfigurationError(f"cannot read the secret {arn}: {exc}") from exc
    try:
        document = json.loads(text) if isinstance(text, str) else None
    except ValueError:
        document = None
    if not isinstance(document, dict):
        raise ConfigurationError(
            f"the secret {arn} must hold a JSON object with {', '.join(SECRET_KEYS)}"
        )
    values = {
        key: value for key in SECRET_KEYS if isinstance(value := document.get(key), str) and value
    }
    if not values:
        raise ConfigurationError(f"the secret {arn} holds none of {', '.join(SECRET_KEYS)}")
    return values


__all__ = ["SECRET_KEYS", "SECRET_VARIABLE", "clear_cache", "environment"]
