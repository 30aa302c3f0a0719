"""What a draft preview costs the ClickHouse store (`ClickHouseStore.preview`): opening and dropping
a preview's database (with a replaced month: its day and month rows rebuilt), and the dedup lookup
of 100 transaction ids on the store itself and through a preview's view over it (the view must not
lose the `by_transaction` projection), over `--events` event rows in a chdb store in a temporary
folder. Prints best-of-5 times and the load average (the machine is shared)."""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "billing_site.settings.test")

MARCH = datetime(2026, 3, 1, tzinfo=UTC)
APRIL = datetime(2026, 4, 1, tzinfo=UTC)


def best_ms(run, times=5) -> float:
    best = float("inf")
    for _ in range(times):
        began = time.perf_counter()
        run()
        best = min(best, time.perf_counter() - began)
    return best * 1000


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=1_000_000)
    args, _ = parser.parse_known_args()
    import django

    django.setup()
    from metering.stores.clickhouse import ClickHouseStore, sql

    with tempfile.TemporaryDirectory(prefix="bench-previews-") as path:
        store = ClickHouseStore(f"chdb://{path}")
        db = store.database
        start = int(MARCH.timestamp())
        # 1,000 customer ids, 400 events a second from March 1st.
        store.client.command(
            f"INSERT INTO {db}.usage (kind, customer_id, metric_id, hour, group_values, "
            f"transaction_id, received_at, timestamp, event_type, properties, is_late, id) "
            f"SELECT 'event', concat('c', toString(number % 1000)), '{sql.NO_METRIC}', "
            f"toStartOfHour(toDateTime({start} + intDiv(number, 400), 'UTC')), '', "
            f"concat('tx-', toString(number)), toDateTime64({start} + intDiv(number, 400), 6, "
            f"'UTC'), toDateTime64({start} + intDiv(number, 400), 6, 'UTC'), 'x', '{{}}', 0, "
            f"generateUUIDv4() FROM numbers({args.events})"
        )
        ids = [f"tx-{n}" for n in range(0, args.events, max(1, args.events // 100))]
        lookup = sql.accepted
        print(f"{args.events:,} event rows; load average {os.getloadavg()[0]:.1f} (2 cores)")
        on_store = best_ms(lambda: store.client.rows(lookup(db, ids, MARCH)))
        print(f"dedup lookup of {len(ids)} ids on the store: {on_store:.1f} ms")
        for label, forget in (("merge", []), ("replace", [(MARCH, APRIL)])):
            with store.preview(customer_ids=["c1"], forget=forget) as scoped:
                through = best_ms(
                    lambda s=scoped: store.client.rows(lookup(s.database, ids, MARCH))
                )
            print(f"the same through a {label} preview's view: {through:.1f} ms")

            def open_and_drop(forget=forget):
                with store.preview(customer_ids=["c1"], forget=forget):
                    pass

            print(f"open and drop a {label} preview: {best_ms(open_and_drop):.1f} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
