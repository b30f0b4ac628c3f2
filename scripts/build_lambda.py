#!/usr/bin/env python3
"""Build the two Lambda packages for the Lambda runtime from manylinux wheels; check them.

    python3 scripts/build_lambda.py [--out build/lambda] [--python .venv/bin/python]
                                    [--twin build/lambda-x86_64 --check-imports]

The runtime is ``python3.12`` on Amazon Linux 2023 (glibc 2.34), arm64 (``RUNTIME``). Its
glibc decides which compiled wheels load: python3.11 runs on Amazon Linux 2 (glibc 2.26), and
numpy's and pillow's current aarch64 wheels need glibc 2.27/2.28 there, so the functions would
fail at their first import. The build therefore asks pip only for wheels whose platform tag is
at most ``manylinux_2_34``, then checks what it got: every wheel's tags (``*.dist-info/WHEEL``)
and every shared object's ``GLIBC_x.y`` symbol versions, failing on anything newer than the
runtime's glibc; the highest version each package needs is printed. ``resolved.json`` in each
package lists every distribution, its version and its wheel tags.

``--twin DIR`` builds the same packages with the same pinned versions for x86_64 (this machine
cannot run arm64 code), and ``--check-imports`` imports every shipped module of each twin with
a Python of the runtime's version (``--runtime-python``, default ``python3.12``), started with
no site-packages, the package tree and the runtime's own boto3 on its path; the report twin
also renders a committed snapshot fixture. An import error fails the build.

* ``build/lambda/report``: the report function — the project's packages and its runtime
  dependencies without alpaca-py (and so without pandas and numpy) and without tqdm (the CLI's).
* ``build/lambda/snapshot``: the snapshot function — every runtime dependency.

Neither package carries the fake Alpaca (``snapshots/fake_alpaca``) or the demo: the build removes
them and fails if a file of theirs is left.

boto3 and botocore are left out of both: the Lambda Python runtime provides them (and they are
large). Wheels are binary only, for the runtime's platform, so the packages run on Graviton
whatever machine builds them. Each package is zipped the way SAM
zips it, and the build fails when one exceeds Lambda's limits: 250 MB unzipped (a function
and its layers) and 50 MB zipped for a direct upload (SAM uploads through S3, but a package
that small also deploys from the console). The sizes and the margins are printed.
"""

from __future__ import annotations

import argparse
import json
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
#: The functions' runtime (deploy/template.yaml): its Python, its glibc, its architecture.
RUNTIME_NAME = "python3.12"
PYTHON_VERSION = "3.12"
GLIBC = (2, 34)
ARCHITECTURE = "aarch64"
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


def platforms(architecture: str) -> list[str]:
    """The platform tags of wheels the runtime's glibc loads: manylinux2014 up to 2_GLIBC."""
    major, minor = GLIBC
    return [f"manylinux2014_{architecture}"] + [
        f"manylinux_{major}_{m}_{architecture}" for m in range(17, minor + 1)
    ]


def pip_install(
    python: str, target: Path, requirements: list[str], architecture: str = ARCHITECTURE
) -> None:
    platform_args = [arg for p in platforms(architecture) for arg in ("--platform", p)]
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
            PYTHON_VERSION,
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


_GLIBC_VERSION = re.compile(rb"GLIBC_(\d+)\.(\d+)")
_MANYLINUX = re.compile(r"manylinux_(\d+)_(\d+)_")
_LEGACY_MANYLINUX = {"manylinux1": (2, 5), "manylinux2010": (2, 12), "manylinux2014": (2, 17)}


def glibc_needed(path: Path) -> tuple[int, int] | None:
    """The newest ``GLIBC_x.y`` symbol version a shared object asks for (``None``: none)."""
    found = {(int(a), int(b)) for a, b in _GLIBC_VERSION.findall(path.read_bytes())}
    return max(found) if found else None


def wheel_tags(target: Path) -> dict[str, tuple[str, list[str]]]:
    """``name -> (version, tags)`` of every distribution installed in ``target``."""
    found: dict[str, tuple[str, list[str]]] = {}
    for info in sorted(target.glob("*.dist-info")):
        metadata = (info / "METADATA").read_text(encoding="utf-8", errors="replace")
        name = re.search(r"^Name: (.+)$", metadata, re.MULTILINE)
        version = re.search(r"^Version: (.+)$", metadata, re.MULTILINE)
        wheel = info / "WHEEL"
        tags = []
        if wheel.exists():
            tags = re.findall(r"^Tag: (.+)$", wheel.read_text(encoding="utf-8"), re.MULTILINE)
        if name and version:
            found[requirement_name(name.group(1).strip())] = (version.group(1).strip(), tags)
    return found


def tag_glibc(tag: str) -> tuple[int, int] | None:
    """The glibc a wheel tag's platform needs (``None`` for a pure or non-Linux tag)."""
    platform = tag.rsplit("-", 1)[-1]
    for legacy, version in _LEGACY_MANYLINUX.items():
        if platform.startswith(legacy + "_"):
            return version
    match = _MANYLINUX.match(platform)
    return (int(match.group(1)), int(match.group(2))) if match else None


def check_platform(target: Path) -> tuple[int, int] | None:
    """Fail when a wheel or a shared object of ``target`` needs a newer glibc than the
    runtime's; return the newest version any needs, and write ``resolved.json``."""
    problems = []
    newest: tuple[int, int] | None = None
    distributions = wheel_tags(target)
    for name, (version, tags) in distributions.items():
        needs = [v for v in (tag_glibc(t) for t in tags) if v is not None]
        if needs and min(needs) > GLIBC:
            problems.append(f"{name} {version}: wheel tags {tags}")
    for path in sorted(target.rglob("*.so*")):
        needed = glibc_needed(path)
        if needed is None:
            continue
        newest = needed if newest is None else max(newest, needed)
        if needed > GLIBC:
            problems.append(f"{path.relative_to(target)} needs GLIBC_{needed[0]}.{needed[1]}")
    (target / "resolved.json").write_text(
        json.dumps(
            {
                "runtime": RUNTIME_NAME,
                "glibc": ".".join(map(str, GLIBC)),
                "distributions": {
                    name: {"version": version, "tags": tags}
                    for name, (version, tags) in distributions.items()
                },
            },
            indent=2,
            sort_keys=True,
        )
        + "\n",
        encoding="utf-8",
    )
    if problems:
        raise SystemExit(
            f"the {target.name} package needs a newer glibc than {RUNTIME_NAME}'s "
            f"{GLIBC[0]}.{GLIBC[1]}:\n  " + "\n  ".join(problems)
        )
    return newest


def size_of(folder: Path) -> int:
    return sum(f.stat().st_size for f in folder.rglob("*") if f.is_file())


def zipped_size(folder: Path, archive: Path) -> int:
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as zf:
        for path in sorted(folder.rglob("*")):
            if path.is_file():
                zf.write(path, path.relative_to(folder))
    return archive.stat().st_size


class Built:
    """One package as built: its folder, sizes and the newest glibc its objects need."""

    def __init__(self, name: str, target: Path, zipped: int, glibc: tuple[int, int] | None):
        self.name, self.target, self.zipped, self.glibc = name, target, zipped, glibc
        self.unzipped = size_of(target)


def build(
    python: str,
    out: Path,
    architecture: str = ARCHITECTURE,
    pins: dict[str, dict[str, str]] | None = None,
) -> list[Built]:
    """Both packages into ``out``; with ``pins`` (a package -> ``name==version`` list per
    package, from another build's ``resolved.json``) exactly those versions."""
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    deps = dependencies()
    packages = {
        "report": [d for d in deps if requirement_name(d) not in NOT_IN_REPORT],
        "snapshot": deps,
    }
    built = []
    for name, requirements in packages.items():
        target = out / name
        wanted = requirements
        if pins is not None:
            wanted = [f"{dist}=={version}" for dist, version in sorted(pins[name].items())]
        pip_install(python, target, wanted, architecture)
        copy_project(target)
        prune(target)
        check_not_shipped(target)
        if name == "report":
            present = {p.name.lower() for p in target.iterdir()}
            leaked = {"alpaca", "pandas", "numpy"} & present
            assert not leaked, f"the report package must not carry {sorted(leaked)}"
        glibc = check_platform(target)
        built.append(Built(name, target, zipped_size(target, out / f"{name}.zip"), glibc))
    return built


def pins_of(out: Path) -> dict[str, dict[str, str]]:
    """Each package's ``name -> version`` as its ``resolved.json`` records them."""
    pins = {}
    for name in ("report", "snapshot"):
        resolved = json.loads((out / name / "resolved.json").read_text(encoding="utf-8"))
        pins[name] = {
            dist: entry["version"]
            for dist, entry in resolved["distributions"].items()
            if dist not in RUNTIME
        }
    return pins


#: What each package must import (and do) on the runtime: its handler and the modules its
#: first event loads. The snapshot function's path pulls alpaca-py, pandas and numpy.
IMPORT_CHECKS = {
    "report": (
        "snapshots.handlers.report",
        "snapshots.report.pdf",
        "snapshots.report.metrics",
        "snapshots.records",
        "ledger_store.snapshot_store",
        "reportlab.lib.rl_accel",
        "pydantic_core._pydantic_core",
        # Imported inside Lambda only (ledger_store.tracing), on the first event.
        "aws_xray_sdk.core",
    ),
    "snapshot": (
        "snapshots.handlers.trading",
        "snapshots.handlers.report",
        "snapshots.builder",
        "snapshots.alpaca.source",
        "ledger_store.snapshot_store",
        "alpaca.trading.client",
        "pandas",
        "numpy",
        "pydantic_core._pydantic_core",
        "aws_xray_sdk.core",
    ),
}
#: The report twin renders this fixture (the snapshot twin only imports).
RENDERED_FIXTURE = ROOT / "tests" / "fixtures" / "snapshot_v1_7_body.json"

_IMPORT_SCRIPT = """
import importlib, json, sys
sys.path[:0] = json.loads(sys.argv[1])
failed = []
for module in json.loads(sys.argv[2]):
    try:
        importlib.import_module(module)
    except Exception as exc:
        failed.append(f"{module}: {type(exc).__name__}: {exc}")
if not failed and sys.argv[3]:
    import hashlib
    from snapshots.report.pdf import render_report
    from snapshots.schema import parse_snapshot_object, verify
    body = open(sys.argv[3], "rb").read()  # the canonical body: its sha256 is its checksum
    raw = {**json.loads(body), "checksum": hashlib.sha256(body).hexdigest()}
    snapshot = parse_snapshot_object({**raw, "checksum_algorithm": "sha256"})
    verify(snapshot, None)
    rendered = render_report(snapshot)
    print(f"rendered {rendered.pages} pages, sha256 {rendered.sha256[:16]}")
print(f"{len(json.loads(sys.argv[2])) - len(failed)} modules imported")
for line in failed:
    print("FAILED", line)
sys.exit(1 if failed else 0)
"""


def python_version(python: str) -> str | None:
    """``3.12`` for a Python that runs, else ``None``."""
    try:
        result = subprocess.run(
            [python, "-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
            capture_output=True,
            text=True,
            check=False,
        )
    except OSError:
        return None
    return result.stdout.strip() if result.returncode == 0 else None


def find_runtime_python(given: str | None) -> str:
    """A Python of the runtime's version: ``given``, else ``python3.12`` on the PATH, else one
    pyenv installed (its shim answers only for the selected version)."""
    pyenv = Path(os.environ.get("PYENV_ROOT", Path.home() / ".pyenv")) / "versions"
    candidates = [given] if given else [f"python{PYTHON_VERSION}"]
    if not given:
        candidates += sorted(str(p) for p in pyenv.glob(f"{PYTHON_VERSION}.*/bin/python3"))
    for candidate in candidates:
        if python_version(candidate) == PYTHON_VERSION:
            return candidate
    raise SystemExit(
        f"no Python {PYTHON_VERSION} to check the packages with (tried {', '.join(candidates)}): "
        f"install one (pyenv install {PYTHON_VERSION}) or pass --runtime-python"
    )


def check_imports(runtime_python: str, built: list[Built], runtime_dir: Path, python: str) -> None:
    """Import each package's modules on a Python of the runtime's version, no site-packages:
    the package tree, then the runtime's boto3 (``runtime_dir``), on the path."""
    if not (runtime_dir / "boto3").exists():
        pip_install(python, runtime_dir, sorted(RUNTIME), architecture="x86_64")
    for package in built:
        fixture = str(RENDERED_FIXTURE) if package.name == "report" else ""
        result = subprocess.run(
            [
                runtime_python,
                "-S",
                "-I",
                "-c",
                _IMPORT_SCRIPT,
                json.dumps([str(package.target), str(runtime_dir)]),
                json.dumps(IMPORT_CHECKS[package.name]),
                fixture,
            ],
            capture_output=True,
            text=True,
            env={"PATH": os.environ.get("PATH", ""), "LC_ALL": "C.UTF-8"},
        )
        print(
            f"{package.name:<9} on {runtime_python}: " + result.stdout.strip().replace("\n", "; ")
        )
        if result.returncode != 0:
            raise SystemExit(
                f"the {package.name} package does not import on Python {PYTHON_VERSION}:\n"
                + result.stdout
                + result.stderr[-2000:]
            )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=ROOT / "build" / "lambda")
    parser.add_argument("--python", default=os.environ.get("PYTHON", sys.executable))
    parser.add_argument("--twin", type=Path, help="also build the x86_64 twin into this folder")
    parser.add_argument("--check-imports", action="store_true", help="import the twin's modules")
    parser.add_argument("--runtime-python", help="a Python 3.12 (default: found)")
    args = parser.parse_args(argv)
    if args.check_imports and args.twin is None:
        parser.error("--check-imports needs --twin (arm64 code cannot run here)")
    failed = False
    for package in build(args.python, args.out):
        mb = 1024 * 1024
        ok = package.unzipped <= UNZIPPED_LIMIT and package.zipped <= ZIPPED_LIMIT
        failed |= not ok
        needs = "none" if package.glibc is None else ".".join(map(str, package.glibc))
        print(
            f"{package.name:<9} unzipped {package.unzipped / mb:6.1f} MB of "
            f"{UNZIPPED_LIMIT / mb:.0f} (margin {(UNZIPPED_LIMIT - package.unzipped) / mb:6.1f}), "
            f"zipped {package.zipped / mb:5.1f} MB of {ZIPPED_LIMIT / mb:.0f} "
            f"(margin {(ZIPPED_LIMIT - package.zipped) / mb:5.1f}); needs glibc {needs} "
            f"of {RUNTIME_NAME}'s {GLIBC[0]}.{GLIBC[1]}" + ("" if ok else "  OVER THE LIMIT")
        )
    if args.twin is not None:
        twins = build(args.python, args.twin, "x86_64", pins_of(args.out))
        print(f"x86_64 twin: the same {sum(len(p) for p in pins_of(args.out).values())} pins")
        if args.check_imports:
            runtime_python = find_runtime_python(args.runtime_python)
            check_imports(runtime_python, twins, args.twin / "runtime", args.python)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
