"""Production: PostgreSQL through DATABASE_URL, a real SECRET_KEY, HTTPS only (secure cookies, HSTS,
plain HTTP redirected). `manage.py check --deploy` is clean with these settings (a test says so).

Behind a proxy that terminates TLS and itself redirects plain HTTP and sends HSTS, turn ours off
explicitly: `SECURE_SSL_REDIRECT=false` and/or `SECURE_HSTS_SECONDS=0` (the matching deploy checks
are then silenced: the proxy does it). The proxy must send `X-Forwarded-Proto: https`.
"""

import os

from django.core.exceptions import ImproperlyConfigured

from .base import *  # noqa: F403
from .base import DATABASES, env_bool

if "SECRET_KEY" not in os.environ:
    raise ImproperlyConfigured("Set SECRET_KEY in the environment for production.")
SECRET_KEY = os.environ["SECRET_KEY"]
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    raise ImproperlyConfigured("Set DATABASE_URL to a PostgreSQL database for production.")

DEBUG = False
SESSION_COOKIE_SECURE = env_bool("SECURE_COOKIES", True)
CSRF_COOKIE_SECURE = env_bool("SECURE_COOKIES", True)
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", True)
SECURE_HSTS_SECONDS = int(os.environ.get("SECURE_HSTS_SECONDS", str(365 * 24 * 3600)))
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", True)
SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", False)
# Submitting a domain to the browsers' HSTS preload list is the operator's decision, not ours.
SILENCED_SYSTEM_CHECKS = ["security.W021"]
if not SECURE_SSL_REDIRECT:
    SILENCED_SYSTEM_CHECKS.append("security.W008")
if not SECURE_HSTS_SECONDS:
    SILENCED_SYSTEM_CHECKS.append("security.W004")
