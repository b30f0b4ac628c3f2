"""How Query pages are asked for and parsed: a page size on every request, and raw items for
the hot reads (their JSON as DynamoDB sent it, without botocore's per-value shape walk).

Both are botocore event handlers on the client PynamoDB uses, installed by ``install``:

* ``Limit``: without one, DynamoDB Local evaluates the whole rest of the partition for every
  page and cuts it at 1 MB, so paging a partition costs O(n²) (a 33,000-item strategy read in
  5.7 s instead of 1.8 s). ``QUERY_PAGE_ITEMS`` is a little under what 1 MB holds of the
  largest-read items (attributions, about 430 bytes), so on DynamoDB a page holds about as
  much as it would anyway and the read costs the same capacity.
* Raw items: botocore maps every attribute value of a response through the service model, a
  third of a full ledger read's time. A read that takes raw items (``raw_items()``; its
  converter reads only ``S`` and ``N`` values) gets the ``Items`` of each successful Query page
  straight from ``json.loads``; the rest of the page (``LastEvaluatedKey``, counts, consumed
  capacity) is still parsed by botocore. Binary values would stay base64 text there, which is
  why only converters that never read one may ask for it.
"""

from __future__ import annotations

import contextlib
import contextvars
import json
from collections.abc import Iterator, MutableMapping
from typing import Any, Final

#: ``Limit`` of a Query or Scan page the caller did not size (see the module's docstring).
QUERY_PAGE_ITEMS: Final = 2_000

_RAW_ITEMS: contextvars.ContextVar[bool] = contextvars.ContextVar(
    "trade_ledger_raw_items", default=False
)
_LIMIT_HANDLER: Final = "trade-ledger-page-limit"
_RAW_HANDLER: Final = "trade-ledger-raw-items"


def install(client: Any) -> None:
    """Install both handlers on a botocore DynamoDB client (idempotent: named handlers)."""
    events = client.meta.events
    for operation in ("Query", "Scan"):
        events.register(
            f"before-parameter-build.dynamodb.{operation}",
            _page_limit,
            unique_id=f"{_LIMIT_HANDLER}-{operation}",
        )
    events.register("before-parse.dynamodb.Query", _raw_page, unique_id=_RAW_HANDLER)


@contextlib.contextmanager
def raw_items() -> Iterator[None]:
    """Within this block (this thread or context), Query pages carry raw JSON ``Items``."""
    token = _RAW_ITEMS.set(True)
    try:
        yield
    finally:
        _RAW_ITEMS.reset(token)


def _page_limit(params: MutableMapping[str, Any], **_: Any) -> None:
    params.setdefault("Limit", QUERY_PAGE_ITEMS)


def _raw_page(
    response_dict: MutableMapping[str, Any],
    customized_response_dict: MutableMapping[str, Any],
    **_: Any,
) -> None:
    if not _RAW_ITEMS.get() or response_dict.get("status_code") != 200:
        return  # errors and every other read keep botocore's parsing
    try:
        body = json.loads(response_dict["body"])
    except (ValueError, TypeError):
        return  # not JSON: botocore's parser reports it as it would
    if not isinstance(body, dict) or not isinstance(body.get("Items"), list):
        return
    customized_response_dict["Items"] = body.pop("Items")
    response_dict["body"] = json.dumps(body).encode("utf-8")


__all__ = ["QUERY_PAGE_ITEMS", "install", "raw_items"]
