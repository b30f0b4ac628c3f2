"""What the handlers tell CloudWatch: their log level, and one metric per integrity-check outcome.

* **Logs.** Lambda's Python runtime leaves the root logger at ``WARNING`` unless the function's
  ``ApplicationLogLevel`` says otherwise, so an ``INFO`` line of a module logger is dropped.
  ``handler_logger`` sets the handler's logger to ``AWS_LAMBDA_LOG_LEVEL`` (what Lambda sets
  from ``ApplicationLogLevel``), ``INFO`` by default: the one JSON line per event is written.
* **Metrics.** ``integrity_metrics`` is one CloudWatch embedded-metric-format (EMF) document:
  ``TradeLedger`` / ``IntegrityChecks``, a count of 1 for each check of the snapshot, with the
  dimensions ``Stage`` + ``Status`` (what the alarm on failed checks watches) and ``Stage`` +
  ``Check`` + ``Status`` (which check). Printed on stdout, CloudWatch turns it into metrics with
  no API call and no extra permission.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any, Final

#: The metrics' namespace and name (the template's alarm names them too).
NAMESPACE: Final = "TradeLedger"
METRIC: Final = "IntegrityChecks"
_LEVEL_VARIABLE: Final = "AWS_LAMBDA_LOG_LEVEL"


def handler_logger(name: str, environ: Mapping[str, str] | None = None) -> logging.Logger:
    """The handler's logger, at Lambda's application log level (``INFO`` by default)."""
    env = os.environ if environ is None else environ
    logger = logging.getLogger(name)
    level = (env.get(_LEVEL_VARIABLE) or "INFO").upper()
    logger.setLevel(level if level in logging.getLevelNamesMapping() else "INFO")
    return logger


def integrity_metric(check: str, status: str, *, stage: str, at: datetime) -> dict[str, Any]:
    """One EMF document: ``IntegrityChecks`` = 1 for ``check`` with ``status`` (see above)."""
    return {
        "_aws": {
            "Timestamp": int(at.timestamp() * 1000),
            "CloudWatchMetrics": [
                {
                    "Namespace": NAMESPACE,
                    "Dimensions": [["Stage", "Status"], ["Stage", "Check", "Status"]],
                    "Metrics": [{"Name": METRIC, "Unit": "Count"}],
                }
            ],
        },
        "Stage": stage,
        "Check": check,
        "Status": status,
        METRIC: 1,
    }


def emit_integrity_metrics(
    checks: Iterable[tuple[str, str]], *, stage: str, at: datetime, out: Any = None
) -> list[str]:
    """Print one EMF line per check outcome (CloudWatch reads them from the log); return them."""
    lines = [
        json.dumps(
            integrity_metric(check, status, stage=stage, at=at),
            sort_keys=True,
            separators=(",", ":"),
        )
        for check, status in checks
    ]
    for line in lines:
        print(line, file=out, flush=True)
    return lines


__all__ = [
    "METRIC",
    "NAMESPACE",
    "emit_integrity_metrics",
    "handler_logger",
    "integrity_metric",
]
