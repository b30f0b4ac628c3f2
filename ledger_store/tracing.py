"""X-Ray subsegments around storage and Alpaca calls; a silent no-op outside Lambda.

aws-xray-sdk is imported only inside a Lambda (``AWS_LAMBDA_FUNCTION_NAME`` set) with the SDK
enabled, so local runs, tests and the CLI neither pay for the import nor see "segment not
found" warnings.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

AnnotationValue = str | int | float | bool


def _recorder() -> Any | None:
    if not os.environ.get("AWS_LAMBDA_FUNCTION_NAME"):
        return None
    if os.environ.get("AWS_XRAY_SDK_ENABLED", "true").strip().lower() == "false":
        return None
    from aws_xray_sdk.core import xray_recorder

    return xray_recorder


@contextmanager
def subsegment(name: str, **annotations: AnnotationValue | None) -> Iterator[None]:
    """Record the block as an X-Ray subsegment with searchable annotations (Lambda only)."""
    recorder = _recorder()
    if recorder is None:
        yield
        return
    with recorder.in_subsegment(name) as segment:
        if segment is not None:
            for key, value in annotations.items():
                if value is not None:
                    segment.put_annotation(key, value)
        yield
