#!/usr/bin/env python3
"""Build the two Lambda packages for arm64 (Python 3.11) from manylinux wheels; print sizes.

    python3 scripts/build_lambda.py [--out build/lambda] [--python .venv/bin/python]

* ``build/lambda/report``: the report function — the project's packages and its runtime
  dependencies without alpaca-py (and so without pandas and numpy) and without tqdm (the CLI's).
* ``build/lambda/snapshot``: the snapshot function — every runtime dependency.

Neither carries the fake Alpaca (``snapshots/fake_alpaca``) or the demo: the build removes
them and fails if a file of theirs is left.

boto3 and botocore are left out of both: the Lambda Python runtime provides them (and they are
large). Wheels are for ``manylinux2014_aarch64``/``manylinux_2_28_aarch64``, binary only, so
the packages run on Graviton whatever machine builds them. Each package is zipped the way SAM
zips it, and the build fails when one exceeds Lambda's limits: 250 MB unzipped (a function
and its layers) and 50 MB zipped for a direct upload (SAM uploads through S3, but a package
that small also deploys from the console). The sizes and the margins are printed.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
UNZIPPED_LIMIT = 250 * 1024 * 1024
ZIPPED_LIMIT = 50 * 1024 * 1024
PLATFORMS = ("manylinux2014_aarch64", "manylinux_2_28_aarch64")
#: Provided by the Lambda runtime.
RUNTIME = {"boto3", "botocore"}
#: What the report function must never carry (its cold start, its purity).
NOT_IN_REPORT = {"alpaca-py", "tqdm"}


def requirement_name(requirement: str) -> str:
    match = re.match(r"[A-Za-z0-9_.-]+", requirement)
    assert match, requirement
    return match.group(0).lower().replace("_", "-")


def dependencies() -> list[str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    return [d for d in project["dependencies"] if requirement_name(d) not in RUNTIME]


def pip_install(python: str, target: Path, requirements: list[str]) -> None:
    platform_args = [arg for p in PLATFORMS for arg in ("--platform", p)]
    subprocess.run(
        [
            python,
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
            "--target",
            str(target),
            *platform_args,
            "--implementation",
            "cp",
            "--python-version",
            "3.11",
            "--only-binary=:all:",
            *requirements,
        ],
        check=True,
    )


#: Parts of the project no function runs: the test double of Alpaca and the demo that drives it.
NOT_SHIPPED = ("snapshots/fake_alpaca", "snapshots/demo")


def copy_project(target: Path) -> None:
    for package in ("ledger_store", "snapshots"):
        shutil.copytree(
            ROOT / package,
            target / package,
            ignore=shutil.ignore_patterns("__pycache__", "*.pyc"),
        )
    for folder in NOT_SHIPPED:
        shutil.rmtree(target / folder)


def check_not_shipped(target: Path) -> None:
    """Fail when a package carries the fake Alpaca or the demo (a file of theirs, anywhere)."""
    shipped = [str(p.relative_to(target)) for folder in NOT_SHIPPED for p in target.glob(folder)]
    fakes = [
        str(p.relative_to(target))
        for package in ("snapshots", "ledger_store")
        for p in (target / package).rglob("fake*")
    ]
    if shipped or fakes:
        raise SystemExit(f"the {target.name} package ships test doubles: {shipped + fakes}")


def prune(target: Path) -> None:
    """What Lambda never loads: caches, the runtime's boto3/botocore pulled in transitively."""
    for cache in target.rglob("__pycache__"):
        shutil.rmtree(cache, ignore_errors=True)
    for name in RUNTIME:
        shutil.rmtree(target / name, ignore_errors=True)
        for info in target.glob(f"{name}-*.dist-info"):
            shutil.rmtree(info, ignore_errors=True)


def size_of(folder: Path) -> int:
    return sum(f.stat().st_size for f in folder.rglob("*") if f.is_file())


def zipped_size(folder: Path, archive: Path) -> int:
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as zf:
        for path in sorted(folder.rglob("*")):
            if path.is_file():
                zf.write(path, path.relative_to(folder))
    return archive.stat().st_size


def build(python: str, out: Path) -> list[tuple[str, int, int]]:
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    deps = dependencies()
    packages = {
        "report": [d for d in deps if requirement_name(d) not in NOT_IN_REPORT],
        "snapshot": deps,
    }
    sizes = []
    for name, requirements in packages.items():
        target = out / name
        pip_install(python, target, requirements)
        copy_project(target)
        prune(target)
        check_not_shipped(target)
        if name == "report":
            present = {p.name.lower() for p in target.iterdir()}
            leaked = {"alpaca", "pandas", "numpy"} & present
            assert not leaked, f"the report package must not carry {sorted(leaked)}"
        sizes.append((name, size_of(target), zipped_size(target, out / f"{name}.zip")))
    return sizes


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=ROOT / "build" / "lambda")
    parser.add_argument("--python", default=os.environ.get("PYTHON", sys.executable))
    args = parser.parse_args(argv)
    failed = False
    for name, unzipped, zipped in build(args.python, args.out):
        mb = 1024 * 1024
        ok = unzipped <= UNZIPPED_LIMIT and zipped <= ZIPPED_LIMIT
        failed |= not ok
        print(
            f"{name:<9} unzipped {unzipped / mb:6.1f} MB of {UNZIPPED_LIMIT / mb:.0f} "
            f"(margin {(UNZIPPED_LIMIT - unzipped) / mb:6.1f}), zipped {zipped / mb:5.1f} MB of "
            f"{ZIPPED_LIMIT / mb:.0f} (margin {(ZIPPED_LIMIT - zipped) / mb:5.1f})"
            + ("" if ok else "  OVER THE LIMIT")
        )
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
