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


def cpu_by_process(select: Callable[[int, str], bool]) -> dict[int, float]:
    """User + system CPU seconds of each live process `select(pid, command line)` picks, read
    from /proc (Linux). Figures per request from this do not depend on what else the machine runs
    as much as rates do."""
    found = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        pid = int(entry.name)
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as file:
                command = file.read().replace(b"\0", b" ").decode(errors="replace")
            if not select(pid, command):
                continue
            with open(f"/proc/{pid}/stat") as file:
                fields = file.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        found[pid] = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return found


def cpu_seconds(select: Callable[[int, str], bool]) -> float:
    """The total of `cpu_by_process`."""
    return sum(cpu_by_process(select).values())


def cpu_spent(before: dict[int, float], after: dict[int, float]) -> float:
    """CPU seconds spent between two `cpu_by_process` readings by the processes alive at the
    second (one that ended in between is not counted, rather than counted negative: a totals'
    difference goes below zero when, say, an autovacuum worker exits)."""
    return sum(seconds - before.get(pid, 0.0) for pid, seconds in after.items())


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
