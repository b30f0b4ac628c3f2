"""Snapshot checksums: SHA-256, or HMAC-SHA-256 with the key from ``SNAPSHOT_HMAC_KEY``.

One implementation for everyone who seals or verifies a snapshot body: the snapshot store
(on every write and read), the schema's ``seal``/``verify`` and both Lambdas. With a key only
``hmac-sha256`` verifies, so someone with table write access but without the key cannot
replace a body and reseal it with plain SHA-256.
"""

from __future__ import annotations

import hashlib
import hmac
import os
from collections.abc import Mapping
from typing import Final, Literal, TypeAlias

from .errors import LedgerValidationError

ChecksumAlgorithm: TypeAlias = Literal["sha256", "hmac-sha256"]
SHA256: Final = "sha256"
HMAC_SHA256: Final = "hmac-sha256"
CHECKSUM_ALGORITHMS: Final[tuple[ChecksumAlgorithm, ...]] = (SHA256, HMAC_SHA256)

#: Environment variable holding the HMAC key of snapshot checksums (UTF-8 text).
HMAC_KEY_VARIABLE: Final = "SNAPSHOT_HMAC_KEY"


def hmac_key_from_env(environ: Mapping[str, str] | None = None) -> bytes | None:
    """``SNAPSHOT_HMAC_KEY`` as bytes, or ``None`` (plain SHA-256) when unset or empty."""
    env = os.environ if environ is None else environ
    value = env.get(HMAC_KEY_VARIABLE, "")
    return value.encode("utf-8") if value else None


def checksum(payload: bytes, key: bytes | None) -> tuple[str, ChecksumAlgorithm]:
    """``(hex digest, algorithm)``: HMAC-SHA-256 with ``key``, plain SHA-256 without one.

    An empty key is rejected rather than silently producing a keyless-looking HMAC.
    """
    if key is None:
        return hashlib.sha256(payload).hexdigest(), SHA256
    if not key:
        raise LedgerValidationError("the HMAC key must not be empty")
    return hmac.new(key, payload, hashlib.sha256).hexdigest(), HMAC_SHA256


def checksum_matches(payload: bytes, digest: str, algorithm: str, key: bytes | None) -> bool:
    """Whether ``(digest, algorithm)`` is what ``checksum(payload, key)`` gives.

    The digests are compared in constant time (``hmac.compare_digest``). The algorithm must
    match too: with a key only ``hmac-sha256`` passes (a keyless SHA-256 cannot stand in for
    the HMAC), without a key only ``sha256``.
    """
    expected_digest, expected_algorithm = checksum(payload, key)
    same_digest = hmac.compare_digest(
        digest.encode("utf-8", "surrogatepass"), expected_digest.encode("ascii")
    )
    return same_digest and algorithm == expected_algorithm


def mismatch_reason(algorithm: str, key: bytes | None) -> str:
    """Why a checksum sealed with ``algorithm`` failed ``checksum_matches`` under ``key``.

    Never includes a digest: the expected HMAC of a forged body would let its author finish
    the forgery.
    """
    if key is None and algorithm == HMAC_SHA256:
        return (
            f"it is sealed with {HMAC_SHA256} and needs {HMAC_KEY_VARIABLE} to be verified "
            "(no HMAC key was given)"
        )
    if key is not None and algorithm != HMAC_SHA256:
        return (
            f"it is sealed with {algorithm}, but an HMAC key is configured: only {HMAC_SHA256} "
            "snapshots are trusted"
        )
    return f"it fails its {algorithm} checksum (the digest does not match the content)"


__all__ = [
    "CHECKSUM_ALGORITHMS",
    "HMAC_KEY_VARIABLE",
    "HMAC_SHA256",
    "SHA256",
    "ChecksumAlgorithm",
    "checksum",
    "checksum_matches",
    "hmac_key_from_env",
    "mismatch_reason",
]
