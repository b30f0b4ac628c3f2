"""The documentation: a short README that links into the site, a site that builds with warnings
as errors, generated pages that match the code, and the README's and getting-started's recipes
run as written."""

from __future__ import annotations

import argparse
import os
import re
import shutil
import socket
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import pytest

from snapshots.cli.reference import GENERATED, generated_pages
from tests.docs import DOCS, ROOT, nav_pages

README = (ROOT / "README.md").read_text(encoding="utf-8")


def test_the_readme_is_a_front_page() -> None:
    assert len(README.splitlines()) <= 250
    for section in ("## The two commands", "## A five-minute tour", "## Documentation"):
        assert section in README
    assert "scripts/demo.sh" in README
    assert "scripts/test.sh" in README


def test_every_local_link_of_the_readme_and_the_pages_resolves() -> None:
    pages = [ROOT / "README.md", *sorted(DOCS.glob("*.md"))]
    for page in pages:
        text = page.read_text(encoding="utf-8")
        for target in re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", text):
            if re.match(r"[a-z]+://", target):
                continue
            assert (page.parent / target).exists(), f"{page.name}: {target}"


def test_every_page_is_in_the_navigation_once() -> None:
    listed = nav_pages()
    assert len(listed) == len(set(listed))
    assert set(listed) == {p.name for p in DOCS.glob("*.md")}


def test_the_generated_pages_match_the_code() -> None:
    """``scripts/gen_docs.py`` writes them; run it when this fails."""
    pages = generated_pages(ROOT)
    assert set(pages) == set(GENERATED)
    for name, text in pages.items():
        assert (DOCS / name).read_text(encoding="utf-8") == text, f"docs/{name} is out of date"


def test_the_cli_reference_names_every_command() -> None:
    from snapshots.cli.main import build_parser

    reference = (DOCS / "cli-reference.md").read_text(encoding="utf-8")
    parser = build_parser()
    (commands,) = [a for a in parser._actions if a.dest == "command"]
    for name in commands.choices:  # type: ignore[union-attr]
        assert f"## `trade-ledger {name}`" in reference


def test_the_site_builds_with_warnings_as_errors(tmp_path: Path) -> None:
    """``mkdocs build --strict``: a broken link, a page outside the navigation or a missing
    anchor fails it. mkdocs comes with the dev extras; without it the test skips, but never on
    CI (``CI=true``), which must build the site."""
    if shutil.which("mkdocs", path=str(Path(sys.executable).parent)) is None:
        reason = "mkdocs is not installed (pip install -e '.[dev]')"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"{reason}; CI must build the documentation")
        pytest.skip(reason)
    completed = subprocess.run(
        [str(Path(sys.executable).parent / "mkdocs"), "build", "--strict", "-d", str(tmp_path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, "NO_MKDOCS_2_WARNING": "1"},
    )
    assert completed.returncode == 0, completed.stderr
    assert (tmp_path / "index.html").exists()
    assert (tmp_path / "cli-reference" / "index.html").exists()


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _bash_block(text: str, marker: str) -> str:
    (block,) = [b for b in re.findall(r"^```bash\n(.*?)^```", text, re.M | re.S) if marker in b]
    return str(block)


@pytest.mark.dynamodb_local
@pytest.mark.skipif(shutil.which("java") is None, reason="DynamoDB Local needs Java 17+")
def test_the_tour_on_a_table_of_ones_own_runs_as_written(tmp_path: Path) -> None:
    """The README's tour and then getting-started's recipe, as a newcomer types them (only the
    port is a free one): the demo's data stays in DynamoDB Local for every command after it,
    and a second demo on the same table records nothing new and says so."""
    port = str(_free_port())
    tour = _bash_block(README, "scripts/demo.sh --table my-ledger")
    guide = _bash_block(
        (DOCS / "getting-started.md").read_text(encoding="utf-8"), "scripts/demo.sh --table"
    )
    venv = str(Path(sys.executable).parent)
    environment = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("AWS_", "TRADE_LEDGER_"))
    }
    environment["PATH"] = f"{venv}{os.pathsep}{environment['PATH']}"
    before = set(ROOT.glob("*.pdf"))
    outputs = []
    try:
        for script in (tour, guide):
            script = script.replace("8000", port).replace(".ddb.pid", f"{tmp_path}/ddb.pid")
            script = script.replace("-o report.pdf", f"-o {tmp_path}/r.pdf")
            completed = subprocess.run(
                ["bash", "-euo", "pipefail", "-c", script],
                capture_output=True,
                text=True,
                check=False,
                env=environment,
                cwd=ROOT,  # where a newcomer types it
            )
            assert completed.returncode == 0, completed.stdout[-3000:] + completed.stderr[-3000:]
            outputs.append(completed.stdout)
    finally:
        for made in set(ROOT.glob("*.pdf")) - before:  # the demos' reports
            made.unlink()
        if (tmp_path / "ddb.pid").exists():  # a recipe that failed half-way
            subprocess.run(
                [
                    sys.executable,
                    "scripts/dynamodb_local.py",
                    "stop",
                    "--pid-file",
                    str(tmp_path / "ddb.pid"),
                ],
                cwd=ROOT,
                check=False,
            )
    first, second = outputs
    # the sizes the snapshots page states, as the demo measures them
    sizes = re.findall(r"([\d,]+) B canonical, ([\d,]+) B stored", first)
    assert sizes
    for canonical, stored in sizes:
        assert 150_000 <= int(canonical.replace(",", "")) <= 200_000
        assert 20_000 <= int(stored.replace(",", "")) <= 30_000
    page = (DOCS / "snapshots.md").read_text(encoding="utf-8")
    assert "150\u2013200 KB canonical\n  and 20\u201330 KB stored" in page
    assert "created table my-ledger" in first
    assert "momentum" in first  # trades strategies
    assert "canonical" in first  # snapshot list
    assert (tmp_path / "r.pdf").read_bytes().startswith(b"%PDF-")
    # the second demo on the same table: its fills were there, and it says so
    assert "0 recorded" in second
    assert "already recorded" in second


def test_the_checksummed_members_are_the_schemas_of_every_version() -> None:
    """The canonical-form page lists the body's members, and since which version each came:
    the list a third party verifies against, held to the models."""
    from snapshots import schema

    text = (DOCS / "canonical.md").read_text(encoding="utf-8")
    listing = text.split("exactly these members", 1)[1].split("(`tests/test_docs.py`", 1)[0]
    listing = listing.split(":\n\n", 1)[1]  # after "except `checksum` and …:"
    first, *later = listing.split("since ")
    documented = {"1.0": set(re.findall(r"`(\w+)`", first))}
    for clause in later:
        version, members = clause.split(" also ", 1)
        documented[version] = set(re.findall(r"`(\w+)`", members))
    from snapshots.cli.schema_reference import BODIES

    bodies = {v: b for v, b in BODIES.items() if v != "1.1"}  # 1.1 has 1.0's members
    seen: set[str] = set()
    added = {}
    for version, body in bodies.items():
        fields = set(body.model_fields)
        if fields - seen:
            added[version] = fields - seen
        seen |= fields
    assert documented == added
    newest = max(bodies, key=lambda v: tuple(map(int, v.split("."))))
    assert newest == schema.SNAPSHOT_VERSION


def test_the_check_names_of_every_version_are_the_documented_ones() -> None:
    """The snapshots page names the checks of 1.2 onwards in its table and the four of 1.0 and
    1.1 beside their later names: the names the committed fixtures hold."""
    import json

    page = (DOCS / "snapshots.md").read_text(encoding="utf-8")
    table = set(re.findall(r"^   \| `(\w+)`", page, re.M))
    old = dict(re.findall(r"`(\w+)`\s+\((?:now )?`(\w+)`\)", page))
    fixtures = ROOT / "tests" / "fixtures"
    for path in sorted(fixtures.glob("snapshot_v*_body.json")):
        names = {c["name"] for c in json.loads(path.read_text())["integrity_checks"]}
        if path.name.startswith(("snapshot_v1_0_", "snapshot_v1_1_")):
            assert names == set(old), path.name
            assert set(old.values()) <= table
        else:
            assert names == table, path.name


def _blocks(text: str, language: str) -> list[str]:
    return [str(b) for b in re.findall(rf"^```{language}\n(.*?)^```", text, re.M | re.S)]


def test_the_fill_line_of_the_import_guide_is_a_fill() -> None:
    import json

    from ledger_store.dto import parse_fill

    (line,) = _blocks((DOCS / "import.md").read_text(encoding="utf-8"), "json")
    fill = parse_fill(json.loads(line))
    assert fill.strategy_allocation == {
        "momentum": Decimal("0.6"),
        "trend_following": Decimal("0.4"),
    }


def test_the_rules_file_of_the_adoption_guide_parses() -> None:
    from snapshots.ledger.rules import parse_rules

    page = (DOCS / "adopt.md").read_text(encoding="utf-8")
    (rules,) = _blocks(page, "toml")
    parsed = parse_rules(rules, source="docs/adopt.md")
    assert len(parsed.rules) == 3
    (command,) = _blocks(page, "bash")
    from snapshots.cli.main import build_parser

    args = build_parser().parse_args(command.split()[1:])
    assert (args.account, str(args.rules)) == ("A", "rules.toml")


def test_the_readmes_first_steps_run(monkeypatch: pytest.MonkeyPatch) -> None:
    """``--version`` and ``--help`` print, and the Python lines open the table the
    environment names (here an embedded one)."""
    from ledger_store.bootstrap import create_table
    from ledger_store.config import TableSettings
    from ledger_store.embedded import embedded_aws

    steps = _blocks(README, "bash")[1]
    venv = Path(sys.executable).parent
    for line in steps.splitlines():
        command = line.split("#")[0].strip()
        if command.startswith("trade-ledger"):
            completed = subprocess.run(
                [str(venv / "trade-ledger"), *command.split()[1:]],
                capture_output=True,
                text=True,
                check=True,
            )
            assert completed.stdout.startswith(("trade-ledger ", "usage: trade-ledger"))
    (python,) = _blocks(README, "python")
    with embedded_aws():
        monkeypatch.setenv("TRADE_LEDGER_TABLE", "readme-front-page")
        create_table(TableSettings.from_env())
        namespace: dict[str, object] = {}
        exec(python, namespace)
        assert namespace["ledger"].strategies("acct-1") == []  # type: ignore[attr-defined]


def test_the_command_synopsis_names_only_commands_and_options_that_exist() -> None:
    """The command-line page's synopsis, line by line: each command path is one of the
    parser's, and each option it shows is one that command takes."""
    from snapshots.cli.main import build_parser

    (synopsis,) = _blocks((DOCS / "cli.md").read_text(encoding="utf-8"), "bash")
    parser = build_parser()
    commands = {a.dest: a for a in parser._actions}["command"].choices  # type: ignore[union-attr]
    seen = 0
    for line in synopsis.splitlines():
        words = line.split("#")[0].split()
        if not words or words[0] != "trade-ledger":
            continue
        seen += 1
        command = commands[words[1]]
        subparsers = [a for a in command._actions if isinstance(a, argparse._SubParsersAction)]
        if subparsers:
            command = subparsers[0].choices[words[2]]
        known = {o for a in command._actions for o in a.option_strings}
        shown = {w.strip("[]()|") for w in words if w.lstrip("[(").startswith("--")}
        assert {o.split("=")[0] for o in shown} <= known, line
    assert seen >= 20


def test_the_payloads_the_pages_show_are_what_the_handlers_take_and_give() -> None:
    """The trading handler's event, the payload it returns (the demo's last one, verbatim) and
    the report handler's three event forms, each parsed by the code that reads them."""
    import json

    from snapshots.handlers.report import parse_request as report_request
    from snapshots.handlers.trading import parse_request as snapshot_request
    from snapshots.payload import SnapshotPayload

    event, payload = _blocks((DOCS / "snapshots.md").read_text(encoding="utf-8"), "json")
    request = snapshot_request(json.loads(event))
    assert request.correlation_id == "cycle-2026-10-23"
    parsed = SnapshotPayload.model_validate(json.loads(payload))
    assert parsed.key.sk == "SNAP#2026-10-24T00:00:00Z"
    (forms,) = _blocks((DOCS / "report.md").read_text(encoding="utf-8"), "json")
    for line in forms.splitlines():
        report_request(json.loads(line))


#: Every code block of the README and the hand-written pages, and the test that runs or reads
#: it; a new block fails ``test_every_code_block_is_checked`` until it is listed here.
CHECKED: dict[tuple[str, int], str] = {
    ("README.md", 0): "the two commands: .ci/run runs scripts/test.sh; the tour runs the demo",
    ("README.md", 1): "test_the_readmes_first_steps_run",
    ("README.md", 2): "test_the_tour_on_a_table_of_ones_own_runs_as_written",
    ("README.md", 3): "test_the_readmes_first_steps_run",
    ("adopt.md", 0): "test_the_rules_file_of_the_adoption_guide_parses",
    ("adopt.md", 1): "an output sample: tests/snapshots/adoption test the table's lines",
    ("adopt.md", 2): "test_the_rules_file_of_the_adoption_guide_parses",
    ("cli.md", 0): "test_the_command_synopsis_names_only_commands_and_options_that_exist",
    ("deploy.md", 0): "tests/deploy/test_packages.py::test_the_readmes_deploy_path_...",
    ("getting-started.md", 0): "the two commands (as README.md 0)",
    ("getting-started.md", 1): "test_the_tour_on_a_table_of_ones_own_runs_as_written",
    ("getting-started.md", 2): "tests/scripts/test_fake_alpaca_script.py",
    ("import.md", 0): "test_the_fill_line_of_the_import_guide_is_a_fill",
    ("library.md", 0): "tests/test_readme.py::test_the_python_walk_through_runs_in_order",
    ("library.md", 1): "tests/test_readme.py::test_the_python_walk_through_runs_in_order",
    ("report.md", 0): "test_the_payloads_the_pages_show_are_what_the_handlers_take_and_give",
    ("report.md", 1): "test_the_report_synopses_parse",
    ("report.md", 2): "test_the_report_synopses_parse",
    ("snapshots.md", 0): "tests/test_readme.py::test_the_python_walk_through_runs_in_order",
    ("snapshots.md", 1): "tests/test_readme.py::test_the_python_walk_through_runs_in_order",
    ("snapshots.md", 2): "test_the_payloads_the_pages_show_are_what_the_handlers_take_and_give",
    ("snapshots.md", 3): "test_the_payloads_the_pages_show_are_what_the_handlers_take_and_give",
    ("verify.md", 0): "tests/test_readme.py::test_the_aws_cli_recipe_verifies_stored_snapshots",
    ("verify.md", 1): "tests/test_readme.py::test_the_python_walk_through_runs_in_order",
    ("verify.md", 2): "tests/test_readme.py::test_the_python_walk_through_runs_in_order",
    ("verify.md", 3): "tests/test_readme.py::test_the_worked_example_checksums_reproduce_...",
}


def test_every_code_block_is_checked() -> None:
    pages = [ROOT / "README.md", *sorted(DOCS.glob("*.md"))]
    found = set()
    for page in pages:
        if page.name in GENERATED:
            continue
        blocks = re.findall(r"^```\w*\n.*?^```", page.read_text(encoding="utf-8"), re.M | re.S)
        found |= {(page.name, index) for index in range(len(blocks))}
    assert found == set(CHECKED)


def test_the_report_synopses_parse() -> None:
    """``report metrics`` and ``report render`` as the report page shows them, the optional
    arguments included and ``--latest`` for the choice, are what the parser accepts."""
    from snapshots.cli.main import build_parser

    page = (DOCS / "report.md").read_text(encoding="utf-8")
    lines = [
        line.split("#")[0]
        for block in _blocks(page, "bash")
        for line in block.splitlines()
        if line.startswith("trade-ledger")
    ]
    assert len(lines) == 2
    for line in lines:
        line = re.sub(r"[\[\]]", "", line.replace("(--at T | --latest)", "--latest"))
        parsed = build_parser().parse_args(line.split()[1:])
        assert parsed.latest
        assert parsed.json


@pytest.mark.dynamodb_local
@pytest.mark.skipif(shutil.which("java") is None, reason="DynamoDB Local needs Java 17+")
def test_the_demo_can_keep_its_data_for_the_recipes(tmp_path: Path) -> None:
    """``scripts/demo.sh --keep``: the demo on a DynamoDB Local it leaves running, then the
    commands it prints, run as printed, find the demo's data; its stop command stops it."""
    pid_file = tmp_path / "ddb.pid"
    venv = str(Path(sys.executable).parent)
    environment = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("AWS_", "TRADE_LEDGER_"))
    }
    environment["TRADE_LEDGER_KEEP_PID_FILE"] = str(pid_file)
    demo = subprocess.run(
        [
            str(ROOT / "scripts" / "demo.sh"),
            "--keep",
            "--days",
            "8",
            "--cycles",
            "2",
            "--no-progress",
            "--output",
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
        check=False,
        env=environment,
        cwd=tmp_path,
    )
    try:
        assert demo.returncode == 0, demo.stdout[-2000:] + demo.stderr[-2000:]
        printed = demo.stdout.split("In this shell:", 1)[1]
        commands = [line.strip() for line in printed.splitlines() if line.startswith("  ")]
        script = "\n".join(commands)
        tried = subprocess.run(
            ["bash", "-euo", "pipefail", "-c", script],
            capture_output=True,
            text=True,
            check=False,
            env={**environment, "PATH": f"{venv}{os.pathsep}{environment['PATH']}"},
            cwd=tmp_path,
        )
        assert tried.returncode == 0, tried.stderr[-2000:]
        assert "momentum" in tried.stdout
        assert "canonical" in tried.stdout
        assert "return (period)" in tried.stdout
    finally:
        stop = demo.stdout.rsplit("Stop it with: ", 1)[-1].strip()
        if stop.startswith("python3"):
            subprocess.run(stop.split(), check=False, cwd=tmp_path)
    assert not pid_file.exists()


def test_the_version_table_has_a_row_for_every_released_version() -> None:
    """The canonical-form page's table of versions once stopped at 1.3: every version with a
    committed fixture (every one readers must read) has its row, and no other."""
    from tests.snapshots.test_snapshot_fixture import VERSIONS

    page = (DOCS / "canonical.md").read_text(encoding="utf-8")
    rows = re.findall(r"^\| (\d+\.\d+) \|", page, re.M)
    assert rows == [v.version for v in VERSIONS]
