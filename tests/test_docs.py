"""The documentation: a short README that links into the site, a site that builds with warnings
as errors, generated pages that match the code, and the README's and getting-started's recipes
run as written."""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import sys
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


@pytest.mark.skipif(
    shutil.which("mkdocs", path=str(Path(sys.executable).parent)) is None,
    reason="mkdocs is not installed (pip install -e '.[dev]')",
)
def test_the_site_builds_with_warnings_as_errors(tmp_path: Path) -> None:
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
    bodies = {
        "1.0": schema.SnapshotBody,
        "1.2": schema.SnapshotBodyV12,
        "1.3": schema.SnapshotBodyV13,
        "1.4": schema.SnapshotBodyV14,
        "1.5": schema.SnapshotBodyV15,
        "1.6": schema.SnapshotBodyV16,
        "1.7": schema.SnapshotBodyV17,
    }
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
