"""Strategy attribution rules: which strategy a fill the bot never labelled belongs to.

A rule file is TOML. Rules are tried in order and the first that matches a fill takes it; a
fill no rule matches goes to ``default`` (``unattributed`` unless the file names another)::

    default = "unattributed"

    [[rule]]
    name = "momentum bot"              # optional: how adopt's table names the rule
    client_order_id_prefix = "mom-"
    strategy = "momentum"

    [[rule]]
    client_order_id_regex = "^pairs-[0-9]+$"
    allocation = { pairs_a = "0.5", pairs_b = "0.5" }

    [[rule]]
    asset_class = "crypto"             # us_equity, us_option or crypto
    symbols = ["BTC/USD", "ETH/USD"]   # every condition of a rule must hold
    strategy = "crypto"

A rule has at least one condition and exactly one of ``strategy`` (all of the fill) or
``allocation`` (weights as decimal strings, > 0, summing exactly to 1, as a recorded fill's).
A regular expression is searched in the id (``re.search``: anchor it to match the whole id).
Every error names the file's line.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from fractions import Fraction
from pathlib import Path
from typing import Any, Final

from pydantic import TypeAdapter, ValidationError

from ledger_store.dto import MAX_STRATEGIES_PER_FILL, StrategyName, asset_class_of, symbol_key
from ledger_store.errors import LedgerValidationError

DEFAULT_STRATEGY: Final = "unattributed"
ASSET_CLASSES: Final = ("us_equity", "us_option", "crypto")
#: A rule file is small; a larger one is a mistake (or not a rule file).
MAX_RULES: Final = 1_000
MAX_FILE_BYTES: Final = 1_000_000

_CONDITIONS: Final = ("client_order_id_prefix", "client_order_id_regex", "symbols", "asset_class")
_TARGETS: Final = ("strategy", "allocation")
_RULE_KEYS: Final = frozenset({"name", *_CONDITIONS, *_TARGETS})
_TOP_KEYS: Final = frozenset({"default", "rule"})
_STRATEGY_NAME: TypeAdapter[str] = TypeAdapter(StrategyName)
_HEADER = re.compile(r"^\s*\[\[\s*rule\s*\]\]\s*(?:#.*)?$")


@dataclass(frozen=True)
class AttributionRule:
    """One rule: its conditions (``None``: not a condition) and the allocation it gives."""

    label: str
    allocation: Mapping[str, Decimal]
    client_order_id_prefix: str | None = None
    client_order_id_regex: re.Pattern[str] | None = None
    symbols: frozenset[str] | None = None
    asset_class: str | None = None

    def matches(self, client_order_id: str | None, symbol: str) -> bool:
        if self.client_order_id_prefix is not None and not (client_order_id or "").startswith(
            self.client_order_id_prefix
        ):
            return False
        if self.client_order_id_regex is not None and (
            client_order_id is None or self.client_order_id_regex.search(client_order_id) is None
        ):
            return False
        if self.symbols is not None and symbol_key(symbol) not in self.symbols:
            return False
        return self.asset_class is None or asset_class_of(symbol) == self.asset_class


@dataclass(frozen=True)
class AttributionRules:
    """The rules of a file, in order, and the default strategy."""

    rules: tuple[AttributionRule, ...] = ()
    default: str = DEFAULT_STRATEGY

    @property
    def default_label(self) -> str:
        return f"default ({self.default})"

    def attribute(self, client_order_id: str | None, symbol: str) -> tuple[str, dict[str, Decimal]]:
        """The label of the rule that takes a fill, and the fill's strategy allocation."""
        for rule in self.rules:
            if rule.matches(client_order_id, symbol):
                return rule.label, dict(rule.allocation)
        return self.default_label, {self.default: Decimal(1)}

    def labels(self) -> tuple[str, ...]:
        """Every rule's label in file order, the default's last (adopt's table rows)."""
        return (*(rule.label for rule in self.rules), self.default_label)


def load_rules(path: str | Path) -> AttributionRules:
    """The rules of a TOML file; ``LedgerValidationError`` naming the file and line if invalid."""
    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise LedgerValidationError(f"{path}: cannot read the rule file: {exc.strerror}") from exc
    if len(raw) > MAX_FILE_BYTES:
        raise LedgerValidationError(f"{path}: a rule file is at most {MAX_FILE_BYTES:,} bytes")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise LedgerValidationError(f"{path}: not UTF-8 text ({exc.reason})") from exc
    return parse_rules(text, source=str(path))


def parse_rules(text: str, *, source: str = "<rules>") -> AttributionRules:
    """The rules of a TOML text (``source`` names it in errors)."""
    try:
        document = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        line = _decode_error_line(exc)
        where = f"{source}:{line}" if line is not None else source
        raise LedgerValidationError(f"{where}: not valid TOML: {_decode_error_text(exc)}") from exc
    lines = text.splitlines()
    for key in document:
        if key not in _TOP_KEYS:
            raise LedgerValidationError(
                f"{source}:{_key_line(lines, key, 0, len(lines))}: unknown key {key!r} "
                f"(known: default, [[rule]])"
            )
    default = document.get("default", DEFAULT_STRATEGY)
    default_line = _key_line(lines, "default", 0, _first_header(lines))
    default = _strategy_name(default, f"{source}:{default_line}: default")
    raw_rules = document.get("rule", [])
    if not isinstance(raw_rules, list) or not all(isinstance(r, dict) for r in raw_rules):
        raise LedgerValidationError(f"{source}: rules are [[rule]] tables")
    if len(raw_rules) > MAX_RULES:
        raise LedgerValidationError(f"{source}: at most {MAX_RULES} rules, got {len(raw_rules)}")
    headers = [i for i, line in enumerate(lines) if _HEADER.match(line)]
    rules = []
    for index, body in enumerate(raw_rules):
        start = headers[index] if index < len(headers) else 0
        end = headers[index + 1] if index + 1 < len(headers) else len(lines)
        rules.append(_rule(body, index + 1, source, lines, start, end))
    labels = [rule.label for rule in rules]
    for index, label in enumerate(labels):
        if label in labels[:index]:
            raise LedgerValidationError(
                f"{source}:{headers[index] + 1 if index < len(headers) else '?'}: rule "
                f"{index + 1}: the name {label!r} is another rule's"
            )
    return AttributionRules(rules=tuple(rules), default=default)


def _rule(
    body: Mapping[str, Any], number: int, source: str, lines: Sequence[str], start: int, end: int
) -> AttributionRule:
    def where(key: str | None = None) -> str:
        line = _key_line(lines, key, start, end) if key else start + 1
        return f"{source}:{line}: rule {number}"

    for key in body:
        if key not in _RULE_KEYS:
            raise LedgerValidationError(
                f"{where(key)}: unknown key {key!r} (known: {', '.join(sorted(_RULE_KEYS))})"
            )
    if not any(key in body for key in _CONDITIONS):
        raise LedgerValidationError(
            f"{where()}: a rule needs a condition ({', '.join(_CONDITIONS)})"
        )
    targets = [key for key in _TARGETS if key in body]
    if len(targets) != 1:
        raise LedgerValidationError(f"{where()}: a rule gives either strategy or allocation")
    label = body.get("name", f"rule {number}")
    if not isinstance(label, str) or not label.strip() or len(label) > 64:
        raise LedgerValidationError(f"{where('name')}: name is a text of 1 to 64 characters")

    prefix = body.get("client_order_id_prefix")
    if prefix is not None and (not isinstance(prefix, str) or not prefix):
        raise LedgerValidationError(
            f"{where('client_order_id_prefix')}: client_order_id_prefix is a non-empty text"
        )
    pattern = None
    if "client_order_id_regex" in body:
        expression = body["client_order_id_regex"]
        if not isinstance(expression, str) or not expression:
            raise LedgerValidationError(
                f"{where('client_order_id_regex')}: client_order_id_regex is a non-empty text"
            )
        try:
            pattern = re.compile(expression)
        except re.error as exc:
            raise LedgerValidationError(
                f"{where('client_order_id_regex')}: not a regular expression: {exc}"
            ) from exc
    symbols = None
    if "symbols" in body:
        listed = body["symbols"]
        if (
            not isinstance(listed, list)
            or not listed
            or not all(isinstance(s, str) and s for s in listed)
        ):
            raise LedgerValidationError(
                f"{where('symbols')}: symbols is a non-empty list of symbols"
            )
        symbols = frozenset(symbol_key(s.upper()) for s in listed)
    asset_class = body.get("asset_class")
    if asset_class is not None and asset_class not in ASSET_CLASSES:
        raise LedgerValidationError(
            f"{where('asset_class')}: asset_class is one of {', '.join(ASSET_CLASSES)}, "
            f"got {asset_class!r}"
        )
    if "strategy" in body:
        strategy = _strategy_name(body["strategy"], f"{where('strategy')}: strategy")
        allocation = {strategy: Decimal(1)}
    else:
        allocation = _allocation(body["allocation"], where("allocation"))
    return AttributionRule(
        label=label,
        allocation=allocation,
        client_order_id_prefix=prefix,
        client_order_id_regex=pattern,
        symbols=symbols,
        asset_class=asset_class,
    )


def _allocation(value: Any, where: str) -> dict[str, Decimal]:
    if not isinstance(value, dict) or not value:
        raise LedgerValidationError(f"{where}: allocation is a table of strategy = weight")
    if len(value) > MAX_STRATEGIES_PER_FILL:
        raise LedgerValidationError(
            f"{where}: at most {MAX_STRATEGIES_PER_FILL} strategies, got {len(value)}"
        )
    weights: dict[str, Decimal] = {}
    for name, weight in value.items():
        strategy = _strategy_name(name, f"{where}: allocation")
        # A TOML float is binary: 0.1 is not one tenth. Weights are exact decimal texts.
        if isinstance(weight, bool) or not isinstance(weight, str | int):
            raise LedgerValidationError(
                f'{where}: the weight of {strategy!r} is a decimal text such as "0.5" '
                f"(a TOML float is not exact), got {weight!r}"
            )
        try:
            parsed = Decimal(weight)
        except InvalidOperation:
            raise LedgerValidationError(
                f"{where}: the weight of {strategy!r} is not a decimal: {weight!r}"
            ) from None
        if not parsed.is_finite() or parsed <= 0 or len(str(weight)) > 40:
            raise LedgerValidationError(
                f"{where}: the weight of {strategy!r} must be a decimal > 0, got {weight!r}"
            )
        weights[strategy] = parsed
    if sum(map(Fraction, weights.values()), Fraction(0)) != 1:
        raise LedgerValidationError(f"{where}: the weights must sum exactly to 1")
    return dict(sorted(weights.items()))


def _strategy_name(value: Any, where: str) -> str:
    try:
        return _STRATEGY_NAME.validate_python(value)
    except ValidationError as exc:
        reason = exc.errors()[0]["msg"] if exc.errors() else "invalid"
        raise LedgerValidationError(f"{where}: not a strategy name ({reason}): {value!r}") from None


def _first_header(lines: Sequence[str]) -> int:
    return next((i for i, line in enumerate(lines) if _HEADER.match(line)), len(lines))


def _key_line(lines: Sequence[str], key: str, start: int, end: int) -> int | str:
    """The 1-based line of ``key = …`` between two lines, or ``?`` when written otherwise."""
    pattern = re.compile(rf"^\s*(?:{re.escape(key)}|\"{re.escape(key)}\")\s*=")
    for index in range(start, min(end, len(lines))):
        if pattern.match(lines[index]):
            return index + 1
    return start + 1 if start < len(lines) else "?"


def _decode_error_line(exc: tomllib.TOMLDecodeError) -> int | None:
    line = getattr(exc, "lineno", None)  # Python 3.14 adds it; older ones say it in the text
    if isinstance(line, int):
        return line
    found = re.search(r"\(at line (\d+), column \d+\)", str(exc))
    return int(found.group(1)) if found else None


def _decode_error_text(exc: tomllib.TOMLDecodeError) -> str:
    return getattr(exc, "msg", None) or re.sub(r"\s*\(at line \d+, column \d+\)", "", str(exc))
