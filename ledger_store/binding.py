"""Run-time binding of the PynamoDB models to a table.

PynamoDB reads the table name and endpoint from ``Model.Meta`` class attributes, which would
freeze them at import. Here ``Meta`` resolves them from the settings bound by the repository
for the duration of each call, and connections are cached per settings, so one process can
talk to several tables (tests use a fresh table each) without re-importing anything.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from functools import lru_cache
from urllib.parse import urlsplit

from .config import DEFAULT_RETRY_ATTEMPTS, TableSettings
from .errors import ConfigurationError

_ACTIVE: ContextVar[TableSettings | None] = ContextVar("ledger_table", default=None)


def active_settings() -> TableSettings:
    """The settings bound by the innermost ``bound()`` block."""
    settings = _ACTIVE.get()
    if settings is None:
        raise ConfigurationError(
            "no ledger table bound: use a repository (or ledger_store.binding.bound(settings))"
        )
    return settings


@contextmanager
def bound(settings: TableSettings) -> Iterator[TableSettings]:
    """Bind the models to ``settings`` for the duration of the block."""
    token = _ACTIVE.set(settings)
    try:
        yield settings
    finally:
        _ACTIVE.reset(token)


#: Placeholder credentials for a local engine: DynamoDB Local accepts any, but botocore refuses
#: to sign a request without some.
LOCAL_CREDENTIALS = ("local", "local")
_LOOPBACK_HOSTS = frozenset({"localhost", "127.0.0.1", "::1"})


@lru_cache(maxsize=32)
def local_credentials(endpoint_url: str | None) -> tuple[str, str] | None:
    """Placeholder credentials for a loopback endpoint when the SDK's chain finds none.

    Real AWS endpoints always use the credential chain; so does a local endpoint when the
    chain has credentials.
    """
    if not endpoint_url or urlsplit(endpoint_url).hostname not in _LOOPBACK_HOSTS:
        return None
    import botocore.session

    if botocore.session.get_session().get_credentials() is not None:
        return None
    return LOCAL_CREDENTIALS


class BoundTableMeta(type):
    """Metaclass of the models' ``Meta``: connection options come from the bound settings."""

    @property
    def table_name(cls) -> str:
        return active_settings().table_name

    @property
    def region(cls) -> str | None:
        settings = _ACTIVE.get()
        return settings.region if settings else None

    @property
    def host(cls) -> str | None:
        settings = _ACTIVE.get()
        return settings.endpoint_url if settings else None

    @property
    def aws_access_key_id(cls) -> str | None:
        settings = _ACTIVE.get()
        credentials = local_credentials(settings.endpoint_url) if settings else None
        return credentials[0] if credentials else None

    @property
    def aws_secret_access_key(cls) -> str | None:
        settings = _ACTIVE.get()
        credentials = local_credentials(settings.endpoint_url) if settings else None
        return credentials[1] if credentials else None

    @property
    def connect_timeout_seconds(cls) -> float:
        settings = _ACTIVE.get()
        return settings.connect_timeout_seconds if settings else 2.0

    @property
    def read_timeout_seconds(cls) -> float:
        settings = _ACTIVE.get()
        return settings.read_timeout_seconds if settings else 10.0

    @property
    def max_retry_attempts(cls) -> int:
        settings = _ACTIVE.get()
        return settings.max_retry_attempts if settings else DEFAULT_RETRY_ATTEMPTS
