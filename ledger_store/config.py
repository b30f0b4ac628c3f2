"""Which table, where: resolved at run time from flags and the AWS SDK's own environment."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, replace

from .errors import ConfigurationError

TABLE_NAME_TEMPLATE = "alchemiser-trade-ledger-{stage}"
DEFAULT_STAGE = "dev"
DEFAULT_LOCAL_REGION = "us-east-1"

_TABLE_NAME = re.compile(r"^[A-Za-z0-9_.-]{3,255}$")
_STAGE = re.compile(r"^[A-Za-z0-9_.-]{1,200}$")


#: Retries of one DynamoDB call (botocore's own default for DynamoDB: 10 attempts). In legacy
#: mode the waits are 50 ms doubling, about 25 s in all: a throttling burst, not only a lost
#: packet, is ridden out before the call fails.
DEFAULT_RETRY_ATTEMPTS = 9


@dataclass(frozen=True)
class TableSettings:
    """Everything a repository needs to reach the ledger table.

    ``endpoint_url`` None means the SDK's default endpoint resolution (real AWS). Timeouts and
    the retry budget are passed to botocore through PynamoDB, which retries throttling and
    transient errors with backoff; the library adds no retry loop of its own.
    """

    table_name: str
    region: str
    endpoint_url: str | None = None
    connect_timeout_seconds: float = 2.0
    read_timeout_seconds: float = 10.0
    max_retry_attempts: int = DEFAULT_RETRY_ATTEMPTS

    def __post_init__(self) -> None:
        if not _TABLE_NAME.match(self.table_name):
            raise ConfigurationError(
                f"invalid DynamoDB table name {self.table_name!r}: 3-255 characters of "
                "letters, digits, '_', '-' and '.'"
            )
        if not self.region:
            raise ConfigurationError("region must not be empty")

    @classmethod
    def from_env(
        cls,
        *,
        table_name: str | None = None,
        stage: str | None = None,
        region: str | None = None,
        endpoint_url: str | None = None,
        environ: Mapping[str, str] | None = None,
    ) -> TableSettings:
        """Resolve settings: explicit arguments first, then the environment.

        Table: ``table_name`` > ``TRADE_LEDGER_TABLE`` > ``alchemiser-trade-ledger-{stage}``
        with stage from ``stage`` > ``TRADE_LEDGER_STAGE`` > ``dev``.
        Endpoint: ``endpoint_url`` > ``AWS_ENDPOINT_URL_DYNAMODB`` > ``AWS_ENDPOINT_URL``.
        Region: ``region`` > ``AWS_REGION`` > ``AWS_DEFAULT_REGION`` > the botocore profile;
        a local endpoint without any region gets ``us-east-1`` (DynamoDB Local ignores it).
        """
        env = os.environ if environ is None else environ
        name = table_name or env.get("TRADE_LEDGER_TABLE") or resolve_table_name(stage, env)
        endpoint = (
            endpoint_url or env.get("AWS_ENDPOINT_URL_DYNAMODB") or env.get("AWS_ENDPOINT_URL")
        )
        resolved_region = (
            region or env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION") or _profile_region()
        )
        if not resolved_region:
            if endpoint is None:
                raise ConfigurationError(
                    "no AWS region configured: set AWS_REGION (or AWS_DEFAULT_REGION, or a "
                    "profile region) or pass --region"
                )
            resolved_region = DEFAULT_LOCAL_REGION
        return cls(table_name=name, region=resolved_region, endpoint_url=endpoint or None)

    def with_table(self, table_name: str) -> TableSettings:
        return replace(self, table_name=table_name)


def resolve_table_name(stage: str | None = None, environ: Mapping[str, str] | None = None) -> str:
    """``alchemiser-trade-ledger-{stage}``, stage from the argument or ``TRADE_LEDGER_STAGE``."""
    env = os.environ if environ is None else environ
    chosen = stage or env.get("TRADE_LEDGER_STAGE") or DEFAULT_STAGE
    if not _STAGE.match(chosen):
        raise ConfigurationError(f"invalid stage {chosen!r}")
    return TABLE_NAME_TEMPLATE.format(stage=chosen)


def _profile_region() -> str | None:
    """The region of the active botocore profile (``~/.aws/config``), if any."""
    import botocore.session

    region = botocore.session.get_session().get_config_variable("region")
    return str(region) if region else None
