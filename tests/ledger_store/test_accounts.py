"""A ledger account belongs to one Alpaca account and an Alpaca account to one ledger account,
on both engines: bound on first use, compared every time, a mismatch refused writing nothing."""

from __future__ import annotations

import threading
from datetime import UTC, datetime

import pytest

from ledger_store.accounts import AccountBindingRepository
from ledger_store.config import TableSettings
from ledger_store.errors import AccountMismatchError, NotFoundError
from tests.builders import raw_table

ALPACA_A = "a7d5c3b1-0e2f-4a6b-8c9d-1e2f3a4b5c6d"
ALPACA_B = "b8e6d4c2-1f3a-4b7c-9d0e-2f3a4b5c6d7e"
NOW = datetime(2026, 12, 1, 12, tzinfo=UTC)


def repository(settings: TableSettings) -> AccountBindingRepository:
    return AccountBindingRepository(settings, clock=lambda: NOW)


def test_the_first_use_binds_and_every_later_one_only_reads(settings: TableSettings) -> None:
    accounts = repository(settings)
    with pytest.raises(NotFoundError, match="bound to no Alpaca account"):
        accounts.get("ledger-a")
    first = accounts.bind("ledger-a", ALPACA_A, "PA3AAAA")
    assert (first.status, first.alpaca_account_id, first.bound_at) == ("bound", ALPACA_A, NOW)
    # The binding and its guard: nothing else.
    assert [(i["PK"]["S"], i["SK"]["S"]) for i in raw_table(settings)] == [
        ("ACCOUNT#ledger-a", "ALPACA"),
        (f"ALPACA#{ALPACA_A}", "LEDGER"),
    ]
    before = raw_table(settings)
    again = accounts.bind("ledger-a", ALPACA_A, "PA3AAAA")
    assert again.status == "already_bound"
    assert raw_table(settings) == before
    assert accounts.get("ledger-a").account_number == "PA3AAAA"


def test_another_accounts_keys_are_refused_writing_nothing(settings: TableSettings) -> None:
    """Ledger account A with B's Alpaca account, and B's ledger account with A's: both refused,
    each naming the account the keys belong to."""
    accounts = repository(settings)
    accounts.bind("ledger-a", ALPACA_A)
    before = raw_table(settings)
    with pytest.raises(AccountMismatchError, match=f"reads Alpaca account {ALPACA_A}") as caught:
        accounts.bind("ledger-a", ALPACA_B)
    assert (caught.value.account_id, caught.value.alpaca_account_id) == ("ledger-a", ALPACA_B)
    with pytest.raises(AccountMismatchError, match="belongs to ledger account ledger-a, not"):
        accounts.bind("ledger-b", ALPACA_A)
    assert raw_table(settings) == before


def test_two_first_uses_at_once_bind_once(settings: TableSettings) -> None:
    accounts = repository(settings)
    results: list[str] = []
    errors: list[BaseException] = []

    def bind() -> None:
        try:
            results.append(accounts.bind("ledger-a", ALPACA_A).status)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=bind) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert sorted(results) == ["already_bound"] * 3 + ["bound"]
    assert len(raw_table(settings)) == 2
