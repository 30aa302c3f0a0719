"""Settings shared by every environment. Values come from the environment with safe local defaults."""

import os
from datetime import timedelta
from pathlib import Path

import dj_database_url
from csp.constants import NONE, SELF, UNSAFE_INLINE

BASE_DIR = Path(__file__).resolve().parent.parent.parent


def env_bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_list(name: str, default: list[str]) -> list[str]:
    value = os.environ.get(name)
    if value is None:
        return default
    return [item.strip() for item in value.split(",") if item.strip()]


SECRET_KEY = os.environ.get("SECRET_KEY", "local-development-key-not-for-production")
DEBUG = env_bool("DEBUG", False)
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["127.0.0.1", "localhost"])

INSTALLED_APPS = [
    "billing_site.admin_apps.BillingAdminConfig",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "rest_framework",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_q",
    "auditlog",
    "axes",
    "csp",
    "billing_site",
    "core",
    "catalog",
    "customers",
    "metering",
    "invoicing",
    "dashboards",
    "payments",
    "notifications",
    "audit",
    "roles",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "core.middleware.RequestTextMiddleware",
    "core.middleware.DatabaseUnavailableMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "audit.context.AuditRequestMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "core.middleware.CSPMiddleware",  # django-csp's, the policy built once per process
    # Last, as django-axes asks: it answers a locked-out login attempt.
    "axes.middleware.AxesMiddleware",
]

# Login throttling (django-axes): after 5 wrong passwords for one username from one address, that
# pair is locked out for 15 minutes (429), even with the right password; a success resets the
# count. `manage.py axes_reset` lifts every lockout.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AXES_FAILURE_LIMIT = int(os.environ.get("AXES_FAILURE_LIMIT", "5"))
AXES_COOLOFF_TIME = timedelta(minutes=15)
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True

# Content-Security-Policy (django-csp): scripts, styles, images and requests from this site only.
# Inline scripts are refused (the admin's and the API docs' scripts are files: the docs page is
# drf-spectacular's split view); inline styles are allowed, as the admin's templates and the
# Swagger UI page use style attributes and a <style> block. Swagger UI draws its icons as data:
# images.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF],
        "style-src": [SELF, UNSAFE_INLINE],
        "img-src": [SELF, "data:"],
        "font-src": [SELF, "data:"],
        "connect-src": [SELF],
        "object-src": [NONE],
        "base-uri": [SELF],
        "form-action": [SELF],
        "frame-ancestors": [NONE],
    }
}

ROOT_URLCONF = "billing_site.urls"
WSGI_APPLICATION = "billing_site.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

DATABASES = {
    "default": dj_database_url.parse(
        os.environ.get("DATABASE_URL", f"sqlite:///{BASE_DIR / 'db.sqlite3'}"),
        conn_max_age=int(os.environ.get("CONN_MAX_AGE", "60")),
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # WAL lets the web server and the django-q2 worker read while the other writes; the timeout
    # makes a writer wait for the lock instead of failing with "database is locked".
    DATABASES["default"]["OPTIONS"] = {
        "timeout": 20,
        "transaction_mode": "IMMEDIATE",
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["core.authentication.ApiTokenAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["core.authentication.TokenScopePermission"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["core.parsers.DecimalJSONParser"],
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "core.exceptions.message_exception_handler",
    "UNAUTHENTICATED_USER": None,
    "COERCE_DECIMAL_TO_STRING": False,
    "DEFAULT_THROTTLE_RATES": {"events_search": "60/min"},
}

# How long a web process keeps an API token it has read (core.authentication): a revoked token
# stops working at once in the process that revoked it, and within this many seconds in the
# others. 0 reads the token on every request.
API_TOKEN_CACHE_SECONDS = float(os.environ.get("API_TOKEN_CACHE_SECONDS", "5"))

SPECTACULAR_SETTINGS = {
    "TITLE": "Billing API (Metronome-compatible)",
    "DESCRIPTION": (
        "Usage ingestion, configuration and invoices, wire-compatible with Metronome: every answer "
        'is {"data": ...}, ids are UUIDs, errors are {"message": ...}. Authenticate with '
        "`Authorization: Bearer <token>` (`manage.py create_api_token`)."
    ),
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "COMPONENT_SPLIT_REQUEST": True,
    # The schema and its docs page are public (no token), and work offline (assets served locally).
    "SERVE_PERMISSIONS": ["rest_framework.permissions.AllowAny"],
    "SERVE_AUTHENTICATION": [],
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    # One name per enum the configuration API reuses across components.
    "ENUM_NAME_OVERRIDES": {
        "RateTypeEnum": "catalog.api.serializers.RATE_TYPES",
        "FlatOrTieredEnum": "catalog.api.serializers.FLAT_OR_TIERED",
        "CommitOrListRateEnum": "catalog.api.serializers.COMMIT_OR_LIST_RATE",
        "CommitTypeEnum": "catalog.api.serializers.COMMIT_TYPES",
        "OverrideTypeEnum": "catalog.api.serializers.OVERRIDE_TYPES",
        "ProductTypeEnum": "catalog.api.serializers.PRODUCT_TYPES",
        "FrequencyEnum": "catalog.api.serializers.FREQUENCIES",
        "StatementDayEnum": "catalog.api.serializers.STATEMENT_DAYS",
        "StatementDayInEnum": "catalog.api.serializers.STATEMENT_DAYS_IN",
        "AuditLogStatusEnum": "audit.api.views.AUDIT_LOG_STATUSES",
        "InvoiceStatusEnum": ["DRAFT", "FINALIZED", "VOID"],
        "AccessTypeEnum": ["SPEND", "QUANTITY"],
        "TransitionTypeEnum": ["RENEWAL", "SUPERSEDE"],
        "CreditKindEnum": ["CREDIT"],
        "BillingProviderEnum": "customers.api.serializers.BILLING_PROVIDERS",
        "ContractBillingProviderEnum": [
            "aws_marketplace",
            "azure_marketplace",
            "gcp_marketplace",
            "stripe",
            "netsuite",
        ],
        "DeliveryMethodEnum": "customers.api.serializers.DELIVERY_METHODS",
        "InvoiceTypeEnum": ["USAGE", "SCHEDULED"],
        "InvoiceKindEnum": ["USAGE", "USAGE_CONSOLIDATED", "SCHEDULED"],
        "InvoiceBillableStatusEnum": ["billable", "unbillable"],
        "CustomFieldEntityEnum": "customers.api.custom_fields.ENTITIES",
        "AlertFilterEntityEnum": "notifications.models.Alert.FILTER_ENTITIES",
        "BalanceFilterEntityEnum": "customers.api.more_terms.BALANCE_FILTER_ENTITIES",
        "QuantityManagementModeEnum": ["QUANTITY_ONLY", "SEAT_BASED"],
        "QuantityOnlyModeEnum": ["QUANTITY_ONLY"],
        "DurationUnitEnum": "catalog.api.serializers.DURATION_UNITS",
        "RecurrenceUnitEnum": ["PERIODS"],
        "ProrationRoundingMethodEnum": ["HALF_UP", "FLOOR", "CEILING"],
        "QuantityRoundingMethodEnum": ["ROUND_UP", "ROUND_DOWN", "ROUND_HALF_UP"],
    },
}

Q_CLUSTER = {
    "name": "billing",
    "orm": "default",
    "workers": int(os.environ.get("Q_WORKERS", "1")),
    "timeout": 600,
    "retry": 900,
    "max_attempts": 1,
    "catch_up": False,
    "poll": 1,
}
# Several nodes' workers may share a Redis broker instead of the database's queue table
# (django-q2's "redis" broker): Q_REDIS_URL=redis://host:6379/0.
if os.environ.get("Q_REDIS_URL"):
    Q_CLUSTER.pop("orm")
    Q_CLUSTER["redis"] = os.environ["Q_REDIS_URL"]

# Threshold alerts: customers with new usage are evaluated at most once per this many seconds
# (the debounce that bounds the alert worker's work whatever the ingest rate; a crossing reaches
# its webhook within about this plus one evaluation cycle).
ALERTS_EVALUATION_INTERVAL = float(os.environ.get("ALERTS_EVALUATION_INTERVAL", "15"))
# The niceness the django-q2 worker takes on for alert evaluation (0: unchanged; 19: only the
# CPU that ingest and the API leave over, at the cost of alert latency on a saturated machine).
ALERTS_EVALUATION_NICE = int(os.environ.get("ALERTS_EVALUATION_NICE", "0"))

# How long after a billing period ends its draft stays open for late usage before finalization.
BILLING_FINALIZATION_GRACE = timedelta(
    hours=float(os.environ.get("BILLING_FINALIZATION_GRACE_HOURS", "24"))
)

# Where usage events live (`metering.stores`): empty for the relational database above,
# clickhouse://user:password@host:8123/database[?cluster=NAME] for a ClickHouse server or cluster,
# chdb:///absolute/path for the same engine inside this one process (tests, CI, one-process setups).
EVENT_STORE_URL = os.environ.get("EVENT_STORE_URL", "")

# The audit trail: django-auditlog's entries, in our model that also names API tokens as actors.
# auditlog's own LogEntry is swapped out; its migrations would still create its table (a foreign
# key to content types that no flush knows of), so they are switched off.
AUDITLOG_LOGENTRY_MODEL = "audit.AuditEntry"
AUDITLOG_DISABLE_REMOTE_ADDR = False
MIGRATION_MODULES = {"auditlog": None}

# Ingestion flags an event "late" when its timestamp falls in an already finalized billing period.
# Metering asks invoicing through this dotted path so that it never imports invoicing itself.
METERING_LATE_EVENT_CHECK = "invoicing.selectors.events_late"
# A new SQL metric's query is run once over no events (catalog cannot import metering).
CATALOG_SQL_METRIC_CHECK = "metering.sql_metrics.sql_metric_check_runs"
# A SQL metric's statement timeout (draft reads and finalization).
SQL_METRIC_TIMEOUT_MS = int(os.environ.get("SQL_METRIC_TIMEOUT_MS", "5000"))

# Stripe (payments): keys from the environment fill what the admin's Billing providers page leaves
# empty; STRIPE_API_BASE points the official library elsewhere (tests: a local fake).
STRIPE_SECRET_KEY = os.environ.get("STRIPE_SECRET_KEY", "")
STRIPE_WEBHOOK_SECRET = os.environ.get("STRIPE_WEBHOOK_SECRET", "")
STRIPE_API_BASE = os.environ.get("STRIPE_API_BASE", "https://api.stripe.com")
STRIPE_TIMEOUT_SECONDS = float(os.environ.get("STRIPE_TIMEOUT_SECONDS", "30"))
STRIPE_MAX_NETWORK_RETRIES = int(os.environ.get("STRIPE_MAX_NETWORK_RETRIES", "2"))
# How many invoices the hand-off sends at once (threads; each invoice's calls stay in order).
STRIPE_HANDOFF_WORKERS = int(os.environ.get("STRIPE_HANDOFF_WORKERS", "8"))

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "WARNING")},
}

# Embeddable dashboards (dashboards app): how long a URL from /v1/dashboards/getEmbeddableUrl
# works, which sites may frame its pages (CSP frame-ancestors: "*", or origins separated by
# spaces), and the base of the URLs it answers when the API's own host is not the public one.
DASHBOARD_EMBED_MAX_AGE = timedelta(hours=float(os.environ.get("DASHBOARD_EMBED_HOURS", "24")))
DASHBOARD_FRAME_ANCESTORS = os.environ.get("DASHBOARD_FRAME_ANCESTORS", "*")
DASHBOARD_BASE_URL = os.environ.get("DASHBOARD_BASE_URL", "")
