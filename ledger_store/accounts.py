"""The Alpaca account each ledger account belongs to: bound on first use, checked every time.

A snapshot reads Alpaca with keys and writes into a ledger account. Keys of the wrong account
would write another account's activities and balances into it, for good (events are never
deleted). So before anything is written, the job binds the ledger account to the Alpaca account
its keys read (``bind``):

* the first time, one transaction writes the binding (``ACCOUNT#{account_id}`` / ``ALPACA``)
  and its guard (``ALPACA#{alpaca_account_id}`` / ``LEDGER``), each conditioned on not
  existing: an Alpaca account belongs to one ledger account, and a ledger account to one
  Alpaca account;
* every later time one consistent ``GetItem`` finds the binding and compares;
* a ledger account bound to another Alpaca account, or an Alpaca account already bound to
  another ledger account, is an ``AccountMismatchError`` naming both; nothing is written.

A binding is never changed by the library: an account moved to other keys on purpose is a
new ledger account.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Annotated, Literal

from pynamodb.exceptions import TransactWriteError
from pynamodb.transactions import TransactWrite

from . import keys
from .config import TableSettings
from .dto import AccountId, Frozen, UTCDateTime, key_part
from .errors import AccountMismatchError, IntegrityError, NotFoundError
from .models import AlpacaAccountItem, AlpacaGuardItem, LedgerItem
from .storage import storage_call, transact
from .tracing import subsegment

AlpacaAccountId = Annotated[str, key_part("alpaca_account_id")]


class AccountBinding(Frozen):
    """A ledger account and the Alpaca account it reads; ``status`` of the ``bind`` call."""

    account_id: AccountId
    alpaca_account_id: AlpacaAccountId
    account_number: str | None = None
    bound_at: UTCDateTime
    status: Literal["bound", "already_bound"] = "already_bound"


def _utc_now() -> datetime:
    return datetime.now(UTC)


class AccountBindingRepository:
    """Bindings of ledger accounts to Alpaca accounts (see the module docstring)."""

    def __init__(
        self, settings: TableSettings, *, clock: Callable[[], datetime] = _utc_now
    ) -> None:
        self._settings = settings
        self._clock = clock

    def bind(
        self, account_id: str, alpaca_account_id: str, account_number: str | None = None
    ) -> AccountBinding:
        """Bind ``account_id`` to ``alpaca_account_id``, or check the binding it has.

        Returns the binding (``bound`` now, or ``already_bound``); raises
        ``AccountMismatchError`` when either side belongs elsewhere, before any write.
        """
        wanted = AccountBinding(
            account_id=account_id,
            alpaca_account_id=alpaca_account_id,
            account_number=account_number or None,
            bound_at=self._clock(),
            status="bound",
        )
        existing = self.find(account_id)
        if existing is not None:
            return self._same(existing, alpaca_account_id)
        key = f"{keys.account_pk(account_id)} / {keys.ALPACA_BINDING_SK}"
        with (
            storage_call(self._settings, "bind account", key),
            subsegment("ledger.bind_account", account_id=account_id),
        ):
            connection = LedgerItem._get_connection().connection
            try:
                transact(connection, lambda tx: _write_binding(tx, wanted))
            except TransactWriteError as exc:
                reasons = exc.cancellation_reasons or []
                if not any(r is not None and r.code == "ConditionalCheckFailed" for r in reasons):
                    raise
                # A concurrent first use, or the Alpaca account is another ledger account's.
                existing = self.find(account_id)
                if existing is not None:
                    return self._same(existing, alpaca_account_id)
                owner = self._owner(alpaca_account_id)
                raise AccountMismatchError(
                    f"Alpaca account {alpaca_account_id} belongs to ledger account {owner}, "
                    f"not {account_id}: the keys used for {account_id} are {owner}'s; nothing "
                    "was written",
                    account_id=account_id,
                    alpaca_account_id=alpaca_account_id,
                ) from None
        return wanted

    def find(self, account_id: str) -> AccountBinding | None:
        """The ledger account's binding, or ``None`` before its first snapshot."""
        pk = keys.account_pk(account_id)
        with storage_call(self._settings, "get account binding", f"{pk} / ALPACA"):
            try:
                item = AlpacaAccountItem.get(pk, keys.ALPACA_BINDING_SK, consistent_read=True)
            except AlpacaAccountItem.DoesNotExist:
                return None
        if item.account_id != account_id:
            raise IntegrityError(f"binding {pk} / ALPACA names account {item.account_id!r}")
        return AccountBinding(
            account_id=item.account_id,
            alpaca_account_id=item.alpaca_account_id,
            account_number=item.account_number,
            bound_at=item.bound_at,
        )

    def get(self, account_id: str) -> AccountBinding:
        """The ledger account's binding; ``NotFoundError`` before its first snapshot."""
        found = self.find(account_id)
        if found is None:
            raise NotFoundError(f"ledger account {account_id!r} is bound to no Alpaca account")
        return found

    def _same(self, existing: AccountBinding, alpaca_account_id: str) -> AccountBinding:
        if existing.alpaca_account_id == alpaca_account_id:
            return existing
        raise AccountMismatchError(
            f"ledger account {existing.account_id} reads Alpaca account "
            f"{existing.alpaca_account_id} (bound {keys.format_seconds(existing.bound_at)}), but "
            f"the keys given read Alpaca account {alpaca_account_id}: they are another "
            "account's; nothing was written",
            account_id=existing.account_id,
            alpaca_account_id=alpaca_account_id,
        )

    def _owner(self, alpaca_account_id: str) -> str:
        pk = keys.alpaca_pk(alpaca_account_id)
        with storage_call(self._settings, "get Alpaca account guard", f"{pk} / LEDGER"):
            try:
                guard = AlpacaGuardItem.get(pk, keys.LEDGER_GUARD_SK, consistent_read=True)
            except AlpacaGuardItem.DoesNotExist:
                return "(unknown)"
        return str(guard.account_id)


def _write_binding(tx: TransactWrite, binding: AccountBinding) -> None:
    tx.save(
        AlpacaAccountItem(
            keys.account_pk(binding.account_id),
            keys.ALPACA_BINDING_SK,
            account_id=binding.account_id,
            alpaca_account_id=binding.alpaca_account_id,
            account_number=binding.account_number,
            bound_at=binding.bound_at,
        ),
        condition=LedgerItem.pk.does_not_exist(),
    )
    tx.save(
        AlpacaGuardItem(
            keys.alpaca_pk(binding.alpaca_account_id),
            keys.LEDGER_GUARD_SK,
            account_id=binding.account_id,
            alpaca_account_id=binding.alpaca_account_id,
        ),
        condition=LedgerItem.pk.does_not_exist(),
    )


__all__ = ["AccountBinding", "AccountBindingRepository"]
