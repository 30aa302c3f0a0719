"""Tests: the same database selection as everywhere (SQLite file or DATABASE_URL), fast hashing."""

from .base import *  # noqa: F403

DEBUG = False
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
ALLOWED_HOSTS = ["*"]
# Tests never collect static files; whitenoise serves them from the apps' folders instead of
# warning, on every request, that the collected folder does not exist on a fresh clone.
STATIC_ROOT = None
WHITENOISE_USE_FINDERS = True
# Every request reads its API token, so that a token changed in the database by any means stops
# working at once (the cache's own tests set it).
API_TOKEN_CACHE_SECONDS = 0
# Every batch evaluated at once (tests of the debounce set it).
ALERTS_EVALUATION_INTERVAL = 0

Q_CLUSTER = {"name": "billing-test", "orm": "default", "sync": True, "timeout": 60, "retry": 120}
# Nothing in the tests talks to Stripe: an unreachable address unless a test's fake is running.
STRIPE_SECRET_KEY = ""
STRIPE_WEBHOOK_SECRET = ""
STRIPE_API_BASE = "http://127.0.0.1:9"
STRIPE_TIMEOUT_SECONDS = 2.0
