"""The Lambda packages fit the runtime they run on (issue 20): the build refuses a wheel or a
shared object newer than the runtime's glibc, imports fail the check, and the README's deploy
path deploys the built packages as they are (``sam build`` dropped their compiled files)."""

from __future__ import annotations

import re
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.builders import ROOT, load_script

build_lambda = load_script("build_lambda")


def _shared_object(path: Path, *versions: str) -> None:
    """A stand-in shared object naming these GLIBC symbol versions (what the build reads)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"\x7fELF\x00" + b"\x00".join(f"GLIBC_{v}".encode() for v in versions))


def _dist_info(target: Path, name: str, version: str, tag: str) -> None:
    info = target / f"{name}-{version}.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n")
    (info / "WHEEL").write_text(f"Wheel-Version: 1.0\nTag: {tag}\n")


def test_the_runtime_is_the_templates() -> None:
    """The build resolves for the runtime the functions run on (python3.12 on Amazon Linux
    2023, glibc 2.34, arm64): python3.11 runs on Amazon Linux 2 (glibc 2.26), where numpy's
    and pillow's aarch64 wheels need 2.27."""
    globals_ = yaml.safe_load((ROOT / "deploy" / "template.yaml").read_text())["Globals"]
    function = globals_["Function"]
    assert function["Runtime"] == build_lambda.RUNTIME_NAME == "python3.12"
    assert function["Architectures"] == ["arm64"]
    assert build_lambda.ARCHITECTURE == "aarch64"
    assert build_lambda.GLIBC == (2, 34)
    assert build_lambda.platforms("aarch64")[-1] == "manylinux_2_34_aarch64"


def test_a_shared_object_or_wheel_newer_than_the_runtimes_glibc_fails_the_build(
    tmp_path: Path,
) -> None:
    fits = tmp_path / "fits"
    _shared_object(fits / "numpy" / "core.so", "2.17", "2.27", "PRIVATE")
    _dist_info(fits, "numpy", "2.3.0", "cp312-cp312-manylinux_2_27_aarch64")
    assert build_lambda.check_platform(fits) == (2, 27)
    resolved = (fits / "resolved.json").read_text()
    assert '"numpy"' in resolved
    assert "manylinux_2_27_aarch64" in resolved

    too_new = tmp_path / "too-new"
    _shared_object(too_new / "pillow.libs" / "libz.so.1", "2.17", "2.38")
    with pytest.raises(SystemExit, match=r"pillow.libs/libz.so.1 needs GLIBC_2.38"):
        build_lambda.check_platform(too_new)
    wheel = tmp_path / "wheel"
    _dist_info(wheel, "pillow", "11.0.0", "cp312-cp312-manylinux_2_39_aarch64")
    with pytest.raises(SystemExit, match=r"pillow 11.0.0: wheel tags"):
        build_lambda.check_platform(wheel)
    assert build_lambda.tag_glibc("cp312-cp312-manylinux2014_aarch64") == (2, 17)
    assert build_lambda.tag_glibc("py3-none-any") is None


def test_an_import_error_in_the_built_tree_fails_the_check(tmp_path: Path) -> None:
    """A package whose handler cannot import (a compiled module left behind, as ``sam build``
    did with ``pydantic_core``) fails the check, naming the module."""
    runtime = build_lambda.find_runtime_python(None)
    tree = tmp_path / "report"
    handlers = tree / "snapshots" / "handlers"
    handlers.mkdir(parents=True)
    (tree / "snapshots" / "__init__.py").write_text("")
    (handlers / "__init__.py").write_text("")
    (handlers / "report.py").write_text("import pydantic_core._pydantic_core\n")
    boto = tmp_path / "runtime"
    (boto / "boto3").mkdir(parents=True)  # the runtime's boto3 (never imported here)
    package: Any = build_lambda.Built("report", tree, 0, None)
    with pytest.raises(SystemExit, match="does not import") as failure:
        build_lambda.check_imports(runtime, [package], boto, sys.executable)
    assert "snapshots.handlers.report: ModuleNotFoundError" in str(failure.value)


def test_the_readmes_deploy_path_deploys_the_built_packages() -> None:
    """The deploy guide builds with the project's script and deploys the template as it is: no
    ``sam build`` (it copies code without its compiled extensions when there is no
    requirements file), and each function's ``CodeUri`` is a folder the script writes."""
    section = (ROOT / "docs" / "deploy.md").read_text(encoding="utf-8")
    block = re.search(r"```bash\n(.*?)```", section, re.DOTALL)
    assert block is not None
    commands = [line.split("#")[0].strip() for line in block.group(1).splitlines()]
    commands = [c for c in commands if c]
    assert commands[0] == "python3 scripts/build_lambda.py"
    assert commands[1].startswith("sam deploy --template-file deploy/template.yaml")
    assert not any(c.startswith("sam build") for c in commands)
    resources = yaml.safe_load((ROOT / "deploy" / "template.yaml").read_text())["Resources"]
    built = ROOT / "build" / "lambda"
    uris = {
        name: (ROOT / "deploy" / r["Properties"]["CodeUri"]).resolve()
        for name, r in resources.items()
        if r["Type"] == "AWS::Serverless::Function"
    }
    assert uris == {"SnapshotFunction": built / "snapshot", "ReportFunction": built / "report"}
