"""Draft reads before and after a change, in one run (`python benchmarks/draft_read_compare.py
[--base REF] [--cases 0,1000,10000,70000] [--rounds 3] [--read-events N]`).

One throw-away PostgreSQL database and one chdb store hold `benchmarks/event_store.py`'s draft
read cases (1,000,000 events in the month per customer: 50 pricing groups, then a presentation
key with 1,000 / 10,000 / 70,000 users = lines). Then `GET /v1/customers/{id}/invoices/{id}` is
timed by the code of `--base` (default: where this branch left `main`, exported with `git
archive`) and by this checkout's, one process per code, store and round, base and this
alternating so both meet the same machine load (the load average is printed with each). Each
process reads every case on one store: p50 of the GET over its runs (after one warm-up read),
the p50 of this process's CPU (the part a code change moves; the database server's is not in
it), and a digest of the response body, so the table also says whether both codes answer the
same bytes. Figures are printed; nothing is asserted.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent


def load() -> str:
    return "load " + ", ".join(f"{x:.2f}" for x in os.getloadavg())


# --- in a child process: write the cases, or time them with one tree's code ---------------------


def write_cases(cases: list[int], events: int, out: Path) -> None:
    """The draft read cases in the database and the chdb store of the environment."""
    sys.path.insert(0, str(HERE))
    from _support import django_setup

    django_setup(dict(os.environ))
    import event_store as bench
    from django.conf import settings
    from django.db import connection

    from core.models import ApiToken
    from metering.stores import event_store

    chdb_url = settings.EVENT_STORE_URL
    chdb = event_store()
    settings.EVENT_STORE_URL = ""
    urls = {}
    for users in cases:
        by_user = users > 0
        metric, card = bench.offering(str(users), presentation=by_user)
        customer, invoice = bench.contract_for(card, str(users))
        began = time.perf_counter()
        bench.postgres_events(
            metric, str(customer.id), events=events, users=users or bench.MODELS, by_user=by_user
        )
        bench.chdb_events(
            chdb,
            metric,
            str(customer.id),
            events=events,
            users=users or bench.MODELS,
            by_user=by_user,
        )
        print(
            f"[{time.strftime('%H:%M:%S')}] case {users or '50 pricing groups'}: {events:,} "
            f"events on both stores in {time.perf_counter() - began:.0f} s",
            flush=True,
        )
        urls[users] = f"/v1/customers/{customer.id}/invoices/{invoice.id}"
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    _, token = ApiToken.generate(name="draft-read-compare")
    out.write_text(json.dumps({"urls": urls, "token": token, "chdb": chdb_url}))


def time_cases(tree: Path, store: str, runs: int, cases_file: Path) -> None:
    """Time every case on one store with the code of `tree`; one JSON line on stdout."""
    sys.path.insert(0, str(tree))
    import django

    django.setup()
    from django.conf import settings
    from django.test import Client

    import invoicing

    assert Path(invoicing.__file__).is_relative_to(tree), invoicing.__file__
    info = json.loads(cases_file.read_text())
    settings.DEBUG = False
    settings.ALLOWED_HOSTS = ["*"]
    settings.EVENT_STORE_URL = info["chdb"] if store == "chdb" else ""
    client = Client(HTTP_AUTHORIZATION=f"Bearer {info['token']}")
    found = {}
    for users, url in info["urls"].items():
        first = client.get(url, secure=True)
        assert first.status_code == 200, first.content[:300]
        walls, cpus = [], []
        for _ in range(runs if int(users) <= 10_000 else max(3, runs // 3)):
            began, cpu = time.perf_counter(), time.process_time()
            response = client.get(url, secure=True)
            walls.append((time.perf_counter() - began) * 1000)
            cpus.append((time.process_time() - cpu) * 1000)
            assert response.status_code == 200
        found[users] = {
            "p50": statistics.median(walls),
            "cpu": statistics.median(cpus),
            "lines": len(json.loads(first.content)["data"]["line_items"]),
            "digest": hashlib.sha256(first.content).hexdigest()[:12],
        }
    print(json.dumps(found))


# --- the parent: set up, alternate, print --------------------------------------------------------


def rev_parse(ref: str) -> str:
    return subprocess.run(
        ["git", "-C", str(ROOT), "rev-parse", ref], check=True, capture_output=True, text=True
    ).stdout.strip()


def default_base() -> str:
    return subprocess.run(
        ["git", "-C", str(ROOT), "merge-base", "HEAD", "main"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base", help="git ref of the code before (default: merge-base with main)")
    parser.add_argument("--cases", default="0,1000,10000,70000")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--runs", type=int, default=15, help="GETs per case (a third past 10,000)")
    parser.add_argument("--read-events", type=int, default=1_000_000)
    parser.add_argument("--write-cases", help=argparse.SUPPRESS)
    parser.add_argument("--time-tree", help=argparse.SUPPRESS)
    parser.add_argument("--store", help=argparse.SUPPRESS)
    args = parser.parse_args()
    cases = [int(c) for c in args.cases.split(",")]
    if args.write_cases:
        write_cases(cases, args.read_events, Path(args.write_cases))
        return
    if args.time_tree:
        time_cases(Path(args.time_tree), args.store, args.runs, Path(os.environ["CASES_FILE"]))
        return
    base = args.base or default_base()
    head = rev_parse("HEAD")
    if rev_parse(base) == head:
        print(f"nothing to compare: the base ({base}) is this checkout's HEAD; pass --base REF")
        return
    sys.path.insert(0, str(HERE))
    from _support import database, log, manage, migrate

    log(f"draft reads, base {base[:12]} against this checkout ({head[:12]}), {load()}")
    folder = Path(tempfile.mkdtemp(prefix="billing-bench-compare-"))
    try:
        before = folder / "base"
        before.mkdir()
        archive = subprocess.run(
            ["git", "-C", str(ROOT), "archive", base], check=True, capture_output=True
        ).stdout
        subprocess.run(["tar", "-x", "-C", str(before)], input=archive, check=True)
        with database() as env:
            migrate(env)
            env = {**env, "EVENT_STORE_URL": f"chdb://{folder / 'chdb'}"}
            manage(env, "migrate_event_store")
            cases_file = folder / "cases.json"
            subprocess.run(
                [
                    sys.executable,
                    __file__,
                    "--write-cases",
                    str(cases_file),
                    "--cases",
                    args.cases,
                    "--read-events",
                    str(args.read_events),
                ],
                env=env,
                cwd=ROOT,
                check=True,
            )
            results: dict = {}
            for round_ in range(1, args.rounds + 1):
                for label, tree in (("base", before), ("this", ROOT)):
                    for store in ("PostgreSQL", "chdb"):
                        out = subprocess.run(
                            [
                                sys.executable,
                                __file__,
                                "--time-tree",
                                str(tree),
                                "--store",
                                "chdb" if store == "chdb" else "pg",
                                "--runs",
                                str(args.runs),
                            ],
                            env={**env, "CASES_FILE": str(cases_file)},
                            cwd=tree,
                            check=True,
                            capture_output=True,
                            text=True,
                        ).stdout
                        found = json.loads(out.strip().splitlines()[-1])
                        results.setdefault((label, store), []).append(found)
                        log(
                            f"round {round_} {label:>4} {store:>10}: "
                            + ", ".join(
                                f"{int(u):,} users {r['p50']:.0f} ms (CPU {r['cpu']:.0f})"
                                for u, r in found.items()
                            )
                            + f"; {load()}"
                        )
        table(results, cases)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    log(f"done, {load()}")


def table(results: dict, cases: list[int]) -> None:
    """Per case and store: the median over rounds of each process's p50 (wall and CPU)."""
    print("\nmedian over rounds of the GET p50 in ms (this process's CPU p50 in brackets)")
    print(f"{'case':>18} {'lines':>7} {'store':>11} | {'base':>15} {'this':>15} | same bytes")
    for users in cases:
        for store in ("PostgreSQL", "chdb"):
            row = []
            for label in ("base", "this"):
                runs = [r[str(users)] for r in results[(label, store)]]
                row.append(
                    (
                        statistics.median(r["p50"] for r in runs),
                        statistics.median(r["cpu"] for r in runs),
                        runs[0]["lines"],
                        {r["digest"] for r in runs},
                    )
                )
            name = f"{users:,} users" if users else "50 pricing groups"
            same = "yes" if row[0][3] == row[1][3] and len(row[0][3]) == 1 else "NO"
            print(
                f"{name:>18} {row[1][2]:>7,} {store:>11} | {row[0][0]:>7.0f} ({row[0][1]:>5.0f}) "
                f"{row[1][0]:>7.0f} ({row[1][1]:>5.0f}) | {same}"
            )


if __name__ == "__main__":
    main()
