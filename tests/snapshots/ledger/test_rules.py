"""Attribution rules: first match wins, everything else goes to the default, errors name lines."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from ledger_store.errors import LedgerValidationError
from snapshots.ledger.rules import AttributionRules, load_rules, parse_rules

RULES = """\
# how this account's bots named their orders
default = "unlabelled"

[[rule]]
name = "momentum bot"
client_order_id_prefix = "mom-"
strategy = "momentum"

[[rule]]
client_order_id_regex = "^pairs-[0-9]+$"
allocation = { pairs_a = "0.5", pairs_b = "0.5" }

[[rule]]
asset_class = "crypto"
symbols = ["BTC/USD", "ethusd"]
strategy = "crypto"

[[rule]]
asset_class = "us_option"
strategy = "options_income"
"""


def test_the_first_matching_rule_takes_a_fill_and_the_rest_goes_to_the_default() -> None:
    rules = parse_rules(RULES)
    assert rules.attribute("mom-2024-01-02-AAPL", "AAPL") == (
        "momentum bot",
        {"momentum": Decimal(1)},
    )
    # A prefix rule comes first: a momentum order on a crypto pair is momentum's.
    assert rules.attribute("mom-1", "BTC/USD")[0] == "momentum bot"
    assert rules.attribute("pairs-17", "KO") == (
        "rule 2",
        {"pairs_a": Decimal("0.5"), "pairs_b": Decimal("0.5")},
    )
    assert rules.attribute("pairs-17x", "KO")[0] == "default (unlabelled)"  # anchored regex
    # Both conditions of rule 3 must hold; the crypto spelling of positions matches too.
    assert rules.attribute(None, "ETH/USD") == ("rule 3", {"crypto": Decimal(1)})
    assert rules.attribute(None, "SOL/USD")[0] == "default (unlabelled)"
    assert rules.attribute("x", "AAPL250620C00100000")[0] == "rule 4"
    assert rules.attribute(None, "AAPL") == ("default (unlabelled)", {"unlabelled": Decimal(1)})
    assert rules.labels() == (
        "momentum bot",
        "rule 2",
        "rule 3",
        "rule 4",
        "default (unlabelled)",
    )


def test_no_file_means_everything_is_unattributed() -> None:
    assert AttributionRules().attribute("mom-1", "AAPL") == (
        "default (unattributed)",
        {"unattributed": Decimal(1)},
    )
    assert parse_rules("").default == "unattributed"


def test_a_rule_file_is_read_from_disk(tmp_path: Path) -> None:
    path = tmp_path / "rules.toml"
    path.write_text(RULES, encoding="utf-8")
    assert load_rules(path).attribute("mom-", "AAPL")[0] == "momentum bot"
    with pytest.raises(LedgerValidationError, match="cannot read the rule file"):
        load_rules(tmp_path / "missing.toml")
    path.write_bytes(b"default = \xff")
    with pytest.raises(LedgerValidationError, match="not UTF-8"):
        load_rules(path)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('default = "x"\n[[rule]]\nstrategy = \n', r"<rules>:3: not valid TOML"),
        ('[[rule]]\nstrategy = "a"\n', r"<rules>:1: rule 1: a rule needs a condition"),
        (
            '[[rule]]\nsymbols = ["A"]\nstrategy = "a"\n\n'
            '[[rule]]\nname = "b"\nprefx = "x"\nstrategy = "s"\n',
            r"<rules>:7: rule 2: unknown key 'prefx'",
        ),
        (
            '[[rule]]\nsymbols = ["A"]\nstrategy = "a"\nallocation = { a = "1" }\n',
            r"<rules>:1: rule 1: a rule gives either strategy or allocation",
        ),
        (
            '[[rule]]\nsymbols = ["A"]\n',
            r"<rules>:1: rule 1: a rule gives either strategy or allocation",
        ),
        (
            '[[rule]]\nclient_order_id_regex = "mom-("\nstrategy = "a"\n',
            r"<rules>:2: rule 1: not a regular expression",
        ),
        (
            '[[rule]]\nsymbols = ["A"]\nallocation = { a = 0.5, b = 0.5 }\n',
            r"<rules>:3: rule 1: the weight of 'a' is a decimal text .*TOML float",
        ),
        (
            '[[rule]]\nsymbols = ["A"]\nallocation = { a = "0.5", b = "0.4" }\n',
            r"<rules>:3: rule 1: the weights must sum exactly to 1",
        ),
        (
            '[[rule]]\nsymbols = ["A"]\nallocation = { a = "1.5", b = "-0.5" }\n',
            r"<rules>:3: rule 1: the weight of 'b' must be a decimal > 0",
        ),
        (
            '[[rule]]\nasset_class = "stocks"\nstrategy = "a"\n',
            r"<rules>:2: rule 1: asset_class is one of us_equity, us_option, crypto",
        ),
        (
            '[[rule]]\nsymbols = []\nstrategy = "a"\n',
            r"<rules>:2: rule 1: symbols is a non-empty list",
        ),
        (
            '[[rule]]\nsymbols = ["A"]\nstrategy = "has#hash"\n',
            r"<rules>:3: rule 1: strategy: not a strategy name",
        ),
        ('default = ""\n', r"<rules>:1: default: not a strategy name"),
        ('defaults = "a"\n', r"<rules>:1: unknown key 'defaults'"),
        (
            '[[rule]]\nname = "x"\nsymbols = ["A"]\nstrategy = "a"\n'
            '[[rule]]\nname = "x"\nsymbols = ["B"]\nstrategy = "b"\n',
            r"<rules>:5: rule 2: the name 'x' is another rule's",
        ),
    ],
)
def test_every_error_names_the_line(text: str, message: str) -> None:
    with pytest.raises(LedgerValidationError, match=message):
        parse_rules(text)
