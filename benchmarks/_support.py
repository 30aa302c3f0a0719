"""Shared helpers for the benchmark scripts: a throw-away PostgreSQL (or SQLite) database, migrations,
an API token, and the product behind gunicorn on 127.0.0.1. Everything started here is stopped and
removed when its context manager exits, also on Ctrl-C.

    with database() as env:              # env: os.environ + DATABASE_URL of a fresh database
        migrate(env)
        token = api_token(env)
        with gunicorn(env, workers=3) as server:   # server.url, server.pid (its session)
            ...

PostgreSQL: if DATABASE_URL is set, a fresh database `bench_<pid>` is created on that server and
dropped afterwards; otherwise a private server is started with `.ci/postgres.sh` on a free port and
stopped afterwards. SQLite (`database(sqlite=True)`): a database file in a temporary folder, with
the settings module `billing_site.settings.local` (or `BENCH_SQLITE_SETTINGS`, to compare settings).
The server runs `billing_site.settings.production` unless DJANGO_SETTINGS_MODULE says otherwise.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import shlex
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.parse
from collections.abc import Callable, Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
BIN = Path(PYTHON).parent


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _base_env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    env.setdefault("DJANGO_SETTINGS_MODULE", "billing_site.settings.production")
    env.setdefault("SECRET_KEY", "benchmark-only-secret-key")
    # Plain HTTP on 127.0.0.1, as behind a proxy that terminates TLS: no redirect to HTTPS.
    env.setdefault("SECURE_SSL_REDIRECT", "false")
    env["LOG_LEVEL"] = "ERROR"
    # Database connections kept for the whole run, as a production server keeps them (the default
    # of 60 s reconnects each worker every minute; the CPU of a closed backend could not be read).
    env.setdefault("CONN_MAX_AGE", "3600")
    return env


# The private server is set up as a write-heavy production server would be, not with PostgreSQL's
# minimal defaults: shared_buffers 1 GB (the default 128 MB is a floor; a quarter of the RAM is the
# usual advice) keeps a million events' tables and indexes in PostgreSQL's own cache instead of
# copying pages from the kernel's; max_wal_size 4 GB spaces checkpoints out during a run that
# writes a few GB of WAL. (A server given by DATABASE_URL is used as it is.)
SERVER_OPTIONS = "-c shared_buffers=1GB -c max_wal_size=4GB"


def _psql_admin_url(url: str) -> str:
    parts = urllib.parse.urlsplit(url)
    return urllib.parse.urlunsplit(parts._replace(path="/postgres"))


@contextlib.contextmanager
def database(*, sqlite: bool = False) -> Iterator[dict[str, str]]:
    """A fresh, empty database for one benchmark run; yields the environment to use it."""
    env = _base_env()
    if sqlite:
        with tempfile.TemporaryDirectory(prefix="billing-bench-") as folder:
            env["DATABASE_URL"] = f"sqlite:///{folder}/bench.sqlite3"
            env["DJANGO_SETTINGS_MODULE"] = os.environ.get(
                "BENCH_SQLITE_SETTINGS", "billing_site.settings.local"
            )
            env["DEBUG"] = "false"
            yield env
        return
    given = os.environ.get("DATABASE_URL", "")
    if given.startswith("postgres"):
        import psycopg

        name = f"bench_{os.getpid()}"
        admin = _psql_admin_url(given)
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
            conn.execute(f'CREATE DATABASE "{name}"')
        parts = urllib.parse.urlsplit(given)
        env["DATABASE_URL"] = urllib.parse.urlunsplit(parts._replace(path=f"/{name}"))
        try:
            yield env
        finally:
            with psycopg.connect(admin, autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        return
    port = free_port()
    log(f"starting PostgreSQL on 127.0.0.1:{port} (.ci/postgres.sh, {SERVER_OPTIONS})")
    started = subprocess.run(
        ["bash", str(ROOT / ".ci" / "postgres.sh"), "start", str(port)],
        env={**os.environ, "PG_OPTIONS": SERVER_OPTIONS},
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    exports = dict(
        line.removeprefix("export ").split("=", 1)
        for line in started.splitlines()
        if line.startswith("export ")
    )
    env["DATABASE_URL"] = exports["DATABASE_URL"]
    try:
        yield env
    finally:
        subprocess.run(
            ["bash", str(ROOT / ".ci" / "postgres.sh"), "stop", exports["PG_TMPDIR"]],
            check=False,
            capture_output=True,
        )
        log("PostgreSQL stopped and removed")


def durability(env: dict[str, str]) -> str:
    """The PostgreSQL server's settings that decide whether a commit waits for the disk (a
    private server has them on with PG_DURABLE=1, `.ci/postgres.sh`)."""
    import psycopg

    names = ("fsync", "synchronous_commit", "full_page_writes")
    with psycopg.connect(env["DATABASE_URL"]) as conn:
        found = {name: conn.execute(f"SHOW {name}").fetchone()[0] for name in names}
    mode = "durable" if set(found.values()) == {"on"} else "not durable"
    return f"{mode} commits ({', '.join(f'{k}={v}' for k, v in found.items())})"


def manage(env: dict[str, str], *args: str) -> str:
    result = subprocess.run(
        [PYTHON, str(ROOT / "manage.py"), *args],
        env=env,
        cwd=ROOT,
        check=True,
        capture_output=True,
        text=True,
    )
    return result.stdout


def migrate(env: dict[str, str]) -> None:
    manage(env, "migrate", "--no-input", "-v0")


def rerun_on_fresh_database(script: str, child: str, *, sqlite: bool = False) -> int:
    """Run `script` again with its arguments in a child process on a fresh, migrated database
    (PostgreSQL, or SQLite when `sqlite`); the environment variable `child` tells the script it
    is the child. Returns the child's exit code."""
    with database(sqlite=sqlite) as env:
        migrate(env)
        env = {**env, child: "1"}
        return subprocess.run([sys.executable, script, *sys.argv[1:]], env=env).returncode


def api_token(env: dict[str, str], name: str = "benchmark") -> str:
    return manage(env, "create_api_token", name).strip().splitlines()[-1]


def django_setup(env: dict[str, str]) -> None:
    """Configure Django in this process against the benchmark database."""
    os.environ.update({k: env[k] for k in ("DATABASE_URL", "DJANGO_SETTINGS_MODULE", "SECRET_KEY")})
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    import django

    django.setup()


@contextlib.contextmanager
def gunicorn(env: dict[str, str], *, workers: int, extra: tuple[str, ...] = ()) -> Iterator[Server]:
    """The product behind gunicorn on 127.0.0.1 (sync workers unless `extra` gives gunicorn
    options of its own, e.g. a worker class); yields its base URL and the pid of its master,
    which leads a session of its own (workers included)."""
    port = free_port()
    command = [
        str(BIN / "gunicorn"),
        "billing_site.wsgi:application",
        "--bind",
        f"127.0.0.1:{port}",
        "--workers",
        str(workers),
        *(extra or ("--worker-class", "sync")),
        "--keep-alive",
        "30",
        "--backlog",
        "512",
        "--log-level",
        "warning",
    ]
    log(f"starting gunicorn: {shlex.join(command[1:])}")
    process = subprocess.Popen(command, env=env, cwd=ROOT, start_new_session=True)
    try:
        deadline = time.monotonic() + 60
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"gunicorn exited with {process.returncode}")
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
                break
            if time.monotonic() > deadline:
                raise RuntimeError("gunicorn did not start within 60 s")
            time.sleep(0.1)
        yield Server(url=f"http://127.0.0.1:{port}", pid=process.pid)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait()
        log("gunicorn stopped")


@dataclasses.dataclass(frozen=True)
class Server:
    url: str
    pid: int


@dataclasses.dataclass(frozen=True)
class CpuSample:
    """User + system CPU seconds of a set of processes at one moment, read from /proc (Linux):
    `own` per live process picked, `reaped` per process picked (the CPU of the children it has
    waited for: `cutime` + `cstime`). `after - before` is the CPU seconds used in between
    (figures per request from it depend less on other load on the machine than rates do)."""

    own: dict[int, float]
    reaped: dict[int, float]

    def __sub__(self, before: CpuSample) -> float:
        """Each live process's growth (all of it for one started since), plus what processes
        that exited in between used after `before`: the parent that reaps an exited process
        grows by the child's whole life, so the child's share up to `before` is taken off.
        (Summing only the live processes made the figure fall, even below zero, whenever one
        sampled before had exited after: a PostgreSQL backend closing, an autovacuum worker
        finishing its table.)"""
        used = sum(seconds - before.own.get(pid, 0.0) for pid, seconds in self.own.items())
        used += sum(
            seconds - before.reaped[pid]
            for pid, seconds in self.reaped.items()
            if pid in before.reaped
        )
        used -= sum(seconds for pid, seconds in before.own.items() if pid not in self.own)
        return used


def cpu_seconds(
    select: Callable[[int, str], bool], parent: Callable[[int, str], bool] | None = None
) -> CpuSample:
    """The CPU of the live processes `select(pid, command line)` picks, plus the processes
    `parent` picks and all their children (PostgreSQL's postmaster: every backend and helper of
    one server), and of the children that exited under any of them. Subtract two samples for the
    seconds used in between. A picked process whose parent is neither picked nor a `parent` must
    not exit meanwhile, or its CPU after the first sample is missed."""
    tick = os.sysconf("SC_CLK_TCK")
    stats: dict[int, list[str]] = {}
    commands: dict[int, str] = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        pid = int(entry.name)
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as file:
                commands[pid] = file.read().replace(b"\0", b" ").decode(errors="replace")
            with open(f"/proc/{pid}/stat") as file:
                stats[pid] = file.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
    parents = (
        {pid for pid, command in commands.items() if pid in stats and parent(pid, command)}
        if parent is not None
        else set()
    )
    picked = [
        pid
        for pid, command in commands.items()
        if pid in stats
        and (pid in parents or int(stats[pid][1]) in parents or select(pid, command))
    ]

    def seconds(pid: int, first: int) -> float:
        return (int(stats[pid][first]) + int(stats[pid][first + 1])) / tick

    return CpuSample(
        own={pid: seconds(pid, 11) for pid in picked},
        reaped={pid: seconds(pid, 13) for pid in picked},
    )


def session_of(pid: int) -> int:
    """The session id of a process (0 if it is gone)."""
    try:
        return os.getsid(pid)
    except OSError:
        return 0


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    index = min(len(ordered) - 1, max(0, round(fraction * (len(ordered) - 1))))
    return ordered[index]
