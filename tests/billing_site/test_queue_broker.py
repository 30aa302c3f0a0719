"""django-q2's broker: the database's queue table by default, Redis when Q_REDIS_URL names one
(several nodes' workers then share one queue)."""

import os
import subprocess
import sys

from django.conf import settings

SCRIPT = """
import django
django.setup()
from django_q.brokers import get_broker
broker = get_broker()
print(type(broker).__name__)
if type(broker).__name__ == "Redis":
    pool = broker.connection.connection_pool.connection_kwargs
    print(pool["host"], pool["port"], pool["db"])
"""


def _broker(**env) -> list[str]:
    environment = {
        key: value
        for key, value in os.environ.items()
        if key not in ("Q_REDIS_URL", "DATABASE_URL")
    }
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT],
        capture_output=True,
        text=True,
        cwd=settings.BASE_DIR,
        env={
            **environment,
            "PYTHONPATH": str(settings.BASE_DIR),
            "DJANGO_SETTINGS_MODULE": "billing_site.settings.local",
            **env,
        },
        timeout=120,
        check=True,
    )
    return done.stdout.splitlines()


def test_the_queue_is_the_database_by_default():
    assert _broker() == ["ORM"]


def test_q_redis_url_makes_workers_share_a_redis_queue():
    assert _broker(Q_REDIS_URL="redis://queue.internal:6380/2") == [
        "Redis",
        "queue.internal 6380 2",
    ]
