"""Settings shared by every environment.

Configuration comes from the environment through django-environ, with defaults that give the
embedded set-up (SQLite and a file-system Celery broker under ``var/``) when nothing is set.
"""

from pathlib import Path

import environ
from celery.schedules import crontab
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent.parent
VAR_DIR = Path(environ.Env().str("TANDEM_VAR_DIR", default=str(BASE_DIR / "var")))
# The embedded set-up keeps its state here (SQLite file, file broker, beat schedule).
VAR_DIR.mkdir(parents=True, exist_ok=True)

env = environ.Env()


def database_from_env(variable: str = "DATABASE_URL") -> dict:
    """Parse the database URL, failing at once with a message that names the variable."""
    default = f"sqlite:///{VAR_DIR / 'tandem.sqlite3'}"
    raw = env.str(variable, default=default)
    try:
        config = env.db_url_config(raw)
    except Exception as exc:
        raise ImproperlyConfigured(
            f"{variable} is not a valid database URL ({raw!r}): {exc}"
        ) from exc
    engine = config.get("ENGINE", "")
    if engine not in ("django.db.backends.sqlite3", "django.db.backends.postgresql"):
        raise ImproperlyConfigured(
            f"{variable} must start with sqlite:// or postgres:// (got {raw!r})."
        )
    if engine.endswith("postgresql") and not config.get("NAME"):
        raise ImproperlyConfigured(f"{variable} names no database ({raw!r}).")
    config["ATOMIC_REQUESTS"] = False
    config["CONN_MAX_AGE"] = env.int("DATABASE_CONN_MAX_AGE", default=0)
    config["CONN_HEALTH_CHECKS"] = True
    if engine.endswith("sqlite3"):
        # WAL lets the web process, the worker and beat share the file without "database is locked".
        config["OPTIONS"] = {
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
            "transaction_mode": "IMMEDIATE",
            "timeout": 20,
        }
    return config


OUTBOX_EMAIL_BACKEND = "orchestration.email.OutboxEmailBackend"
SMTP_EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"


def email_from_env(*, default_backend: str) -> dict:
    """The EMAIL_* settings: from ``EMAIL_URL`` when set (django-environ's email URL, e.g.
    ``smtp+tls://user:password@smtp.example.org:587``), else from the separate variables."""
    config = {
        "EMAIL_BACKEND": env.str("EMAIL_BACKEND", default=default_backend),
        "EMAIL_HOST": env.str("EMAIL_HOST", default="localhost"),
        "EMAIL_PORT": env.int("EMAIL_PORT", default=25),
        "EMAIL_HOST_USER": env.str("EMAIL_HOST_USER", default=""),
        "EMAIL_HOST_PASSWORD": env.str("EMAIL_HOST_PASSWORD", default=""),
        "EMAIL_USE_TLS": env.bool("EMAIL_USE_TLS", default=False),
        "EMAIL_USE_SSL": env.bool("EMAIL_USE_SSL", default=False),
    }
    raw = env.str("EMAIL_URL", default="")
    if raw:
        try:
            parsed = env.email_url_config(raw)
        except Exception as exc:
            # Not echoing the URL: it may hold the SMTP password.
            raise ImproperlyConfigured(f"EMAIL_URL is not a valid email URL: {exc}") from exc
        config.update(
            {
                key: value
                for key, value in parsed.items()
                if key in config and value not in ("", None)
            }
        )
    return config


SECRET_KEY = env.str("DJANGO_SECRET_KEY", default="insecure-development-key-change-me")
DEBUG = env.bool("DJANGO_DEBUG", default=False)
ALLOWED_HOSTS = env.list("DJANGO_ALLOWED_HOSTS", default=["127.0.0.1", "localhost"])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django_htmx",
    "template_partials",
    "rest_framework",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "tenancy",
    "members",
    "outcomes",
    "engagement",
    "milestones",
    "orchestration",
    "webhooks",
    "ops",
    "audit",
    "portability",
]

MIDDLEWARE = [
    "ops.middleware.RequestIdMiddleware",  # first: every log line of the request carries the id
    "django.middleware.security.SecurityMiddleware",
    # Response-only: up here so the probes answered just below get the header as well.
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "ops.middleware.SecurityHeadersMiddleware",
    "ops.middleware.HealthCheckMiddleware",  # probes answer before host checks and sessions
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "tenancy.middleware.OrganizationMiddleware",
    "audit.middleware.AuditActorMiddleware",  # after it: the seat it resolved is the actor
    "outcomes.recompute.RecomputeBatchMiddleware",
]

# Django's database sessions, loaded through one plain statement (ops/sessions.py).
SESSION_ENGINE = "ops.sessions"

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"

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
                "tenancy.context_processors.organization",
                "ops.context_processors.csp_nonce",
            ],
        },
    }
]

DATABASES = {"default": database_from_env()}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_USER_MODEL = "tenancy.User"
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "tenancy:home"
LOGOUT_REDIRECT_URL = "login"

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
# English only: no catalogs, no LocaleMiddleware. With translation on, every gettext and
# get_language goes through the active-language lookup (an asgiref Local), ~7 µs and ~3 µs a
# call, tens of calls per page; off, Django answers LANGUAGE_CODE and the source strings,
# which are what English readers got anyway (formats still follow en-us).
USE_I18N = False
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = Path(env.str("DJANGO_STATIC_ROOT", default=str(VAR_DIR / "staticfiles")))

# The integrator API (/api/v1/): keys or a signed-in seat; see tenancy/api/.
# A bulk ingest of 1,000 events with payloads is a few megabytes.
DATA_UPLOAD_MAX_MEMORY_SIZE = env.int("TANDEM_MAX_REQUEST_BYTES", default=10 * 1024 * 1024)
TANDEM_CONTEXT_EVENTS_BULK_MAX = env.int("TANDEM_CONTEXT_EVENTS_BULK_MAX", default=1000)
API_THROTTLE_RATE = env.str("TANDEM_API_THROTTLE_RATE", default="1200/min")
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "tenancy.api.auth.ApiKeyAuthentication",
        "tenancy.api.auth.SeatSessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["tenancy.api.permissions.HasApiScope"],
    "DEFAULT_THROTTLE_CLASSES": ["tenancy.api.throttling.PrincipalRateThrottle"],
    "DEFAULT_THROTTLE_RATES": {"api": API_THROTTLE_RATE},
    "DEFAULT_PAGINATION_CLASS": "tenancy.api.pagination.TandemPageNumberPagination",
    "DEFAULT_FILTER_BACKENDS": [
        "django_filters.rest_framework.DjangoFilterBackend",
        "tenancy.api.filters.ConsistentOrderingFilter",
    ],
    "DEFAULT_SCHEMA_CLASS": "tenancy.api.schema.TandemAutoSchema",
    "EXCEPTION_HANDLER": "tenancy.api.errors.api_exception_handler",
    "UNAUTHENTICATED_USER": None,
    "TEST_REQUEST_DEFAULT_FORMAT": "json",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Tandem API",
    "DESCRIPTION": (
        "Connect your organization's systems to Tandem. Every request carries an API key "
        "(`Authorization: Bearer tdm_…`), which names the organization; errors always answer "
        '`{"code", "detail", "errors"}`.'
    ),
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SCHEMA_PATH_PREFIX": r"/api/v1",
    "COMPONENT_SPLIT_REQUEST": True,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    # Choice sets that share a field name across apps get a name of their own.
    "ENUM_NAME_OVERRIDES": {
        "EngagementChannelEnum": "engagement.choices.Channel",
        "EngagementTypeEnum": "engagement.choices.EngagementType",
        "ContextEventKindEnum": "engagement.models.ContextEvent.Kind",
        "ConditionKindEnum": "outcomes.models.Condition.Kind",
        "GoalStatusEnum": "outcomes.models.Goal.Status",
    },
}

# The default cache counts API throttles; point CACHE_URL at Redis when there is more than one
# web process (docker-compose does), so every process counts against the same limit.
CACHES = {"default": env.cache("CACHE_URL", default="locmemcache://")}

# Email. Development and tests write each message to EMAIL_FILE_PATH (the outbox backend: one
# file per Message-ID, never a duplicate); production defaults to SMTP (settings/production.py).
_email = email_from_env(default_backend=OUTBOX_EMAIL_BACKEND)
EMAIL_BACKEND = _email["EMAIL_BACKEND"]
EMAIL_HOST = _email["EMAIL_HOST"]
EMAIL_PORT = _email["EMAIL_PORT"]
EMAIL_HOST_USER = _email["EMAIL_HOST_USER"]
EMAIL_HOST_PASSWORD = _email["EMAIL_HOST_PASSWORD"]
EMAIL_USE_TLS = _email["EMAIL_USE_TLS"]
EMAIL_USE_SSL = _email["EMAIL_USE_SSL"]
EMAIL_TIMEOUT = env.int("EMAIL_TIMEOUT", default=30)
EMAIL_FILE_PATH = env.str("EMAIL_FILE_PATH", default=str(VAR_DIR / "outbox"))
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="Tandem <nudges@tandem.localhost>")
SERVER_EMAIL = DEFAULT_FROM_EMAIL

# Nudge dispatch (orchestration/dispatch.py): sends are retried with backoff up to this many
# attempts; a claim not finished within the lease is handed to another worker.
NUDGE_MAX_ATTEMPTS = env.int("NUDGE_MAX_ATTEMPTS", default=5)
NUDGE_DISPATCH_BATCH = env.int("NUDGE_DISPATCH_BATCH", default=100)
NUDGE_DISPATCH_BUDGET_SECONDS = env.int("NUDGE_DISPATCH_BUDGET_SECONDS", default=50)
NUDGE_DISPATCH_HELPERS = env.int("NUDGE_DISPATCH_HELPERS", default=1)
NUDGE_LEASE_SECONDS = env.int("NUDGE_LEASE_SECONDS", default=300)

# Celery. With no CELERY_BROKER_URL the broker is kombu's file-system transport under var/:
# it needs no server, and a separate worker and beat process can share it (unlike memory://,
# which lives inside one process). Remote control (broadcast) is not used on it.
CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default="filesystem://")
CELERY_BROKER_FOLDER = VAR_DIR / "broker"
if CELERY_BROKER_URL.startswith("filesystem://"):
    for _folder in ("queue", "control"):
        (CELERY_BROKER_FOLDER / _folder).mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(CELERY_BROKER_FOLDER / "queue"),
        "data_folder_out": str(CELERY_BROKER_FOLDER / "queue"),
        "control_folder": str(CELERY_BROKER_FOLDER / "control"),
        "store_processed": False,
    }
CELERY_RESULT_BACKEND = env.str("CELERY_RESULT_BACKEND", default=None)
CELERY_TASK_IGNORE_RESULT = CELERY_RESULT_BACKEND is None
CELERY_TASK_ACKS_LATE = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TIMEZONE = "UTC"
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# Minutes a bulk batch's follow-up may stay pending before the sweep sends its task again.
INGEST_FOLLOW_UP_RESEND_MINUTES = env.int("INGEST_FOLLOW_UP_RESEND_MINUTES", default=10)
# Days a finished export's file is kept before the nightly sweep removes it.
TANDEM_EXPORT_KEEP_DAYS = env.int("TANDEM_EXPORT_KEEP_DAYS", default=7)
CELERY_BEAT_SCHEDULE_FILENAME = str(VAR_DIR / "celerybeat-schedule")
CELERY_BEAT_SCHEDULE: dict = {
    # Events still announced two days after their time, never marked as happened, are missed.
    "orchestration-mark-missed-events-nightly": {
        "task": "orchestration.mark_missed_events",
        "schedule": crontab(hour=4, minute=0),
        "options": {"expires": 6 * 3600},
    },
    # Finished exports hold a whole organization's data: their files go after a few days.
    "portability-expire-exports-nightly": {
        "task": "portability.expire_exports",
        "schedule": crontab(hour=4, minute=30),
        "options": {"expires": 6 * 3600},
    },
    # A chunked scoring run that lost a chunk gets its chunks sent again.
    "outcomes-repair-unfinished-runs": {
        "task": "outcomes.repair_unfinished_runs",
        "schedule": crontab(minute=45),
        "options": {"expires": 3000},
    },
    # Follow-ups of bulk context batches whose task was lost are sent again.
    "engagement-resend-ingest-follow-ups": {
        "task": "engagement.resend_ingest_follow_ups",
        "schedule": 300.0,
        "options": {"expires": 290},
    },
    "tenancy-clear-expired-sessions": {
        "task": "tenancy.clear_expired_sessions",
        "schedule": 3600.0,
        "options": {"expires": 5400},
    },
    "outcomes-recompute-success-gaps-nightly": {
        "task": "outcomes.recompute_all_organizations",
        "schedule": crontab(hour=2, minute=15),
        "options": {"expires": 6 * 3600},
    },
    # Every minute; a run stops claiming after NUDGE_DISPATCH_BUDGET_SECONDS (before the next).
    "orchestration-dispatch-nudges": {
        "task": "orchestration.dispatch_nudges",
        "schedule": 60.0,
        "options": {"expires": 90},
    },
    # After the nightly scoring, so members match on the night's bands.
    "orchestration-apply-coverage-nightly": {
        "task": "orchestration.apply_coverage_all",
        "schedule": crontab(hour=3, minute=30),
        "options": {"expires": 6 * 3600},
    },
    # Playbook triggers, hourly (a band change enrols at the latest an hour after scoring).
    "orchestration-evaluate-triggers-hourly": {
        "task": "orchestration.evaluate_triggers_all",
        "schedule": crontab(minute=20),
        "options": {"expires": 50 * 60},
    },
}
# Orchestrated events (orchestration/events.py). Links in emails are absolute: TANDEM_BASE_URL is
# where members reach this site. A confirmation link works until N days after its event; an
# optional cap (seconds since the link was signed, i.e. since the event was announced) is unset
# by default, because an event may be announced long before its announcement is sent.
TANDEM_BASE_URL = env.str("TANDEM_BASE_URL", default="http://127.0.0.1:8000")
TANDEM_CONFIRM_LINK_DAYS_AFTER_EVENT = env.int("TANDEM_CONFIRM_LINK_DAYS_AFTER_EVENT", default=30)
TANDEM_CONFIRM_LINK_MAX_AGE = env.int("TANDEM_CONFIRM_LINK_MAX_AGE", default=None)

# Webhooks (webhooks/): signed POSTs of domain events to the URLs admins register. Outbound URLs
# must be https and resolve to public addresses; the two ALLOW settings relax that for
# development (a receiver on http://127.0.0.1) and stay off in every shipped settings module.
WEBHOOK_ALLOW_INSECURE = env.bool("WEBHOOK_ALLOW_INSECURE", default=False)
WEBHOOK_ALLOW_PRIVATE_ADDRESSES = env.bool("WEBHOOK_ALLOW_PRIVATE_ADDRESSES", default=False)
WEBHOOK_TIMEOUT_SECONDS = env.float("WEBHOOK_TIMEOUT_SECONDS", default=10.0)
WEBHOOK_MAX_ATTEMPTS = env.int("WEBHOOK_MAX_ATTEMPTS", default=8)
WEBHOOK_BACKOFF_SECONDS = env.int("WEBHOOK_BACKOFF_SECONDS", default=30)  # doubles per attempt
WEBHOOK_BACKOFF_MAX_SECONDS = env.int("WEBHOOK_BACKOFF_MAX_SECONDS", default=6 * 3600)
WEBHOOK_SEND_BATCH = env.int("WEBHOOK_SEND_BATCH", default=50)
WEBHOOK_SEND_BUDGET_SECONDS = env.int("WEBHOOK_SEND_BUDGET_SECONDS", default=25)
WEBHOOK_LEASE_SECONDS = env.int("WEBHOOK_LEASE_SECONDS", default=120)
WEBHOOK_FANOUT_GRACE_SECONDS = env.int("WEBHOOK_FANOUT_GRACE_SECONDS", default=10)
CELERY_BEAT_SCHEDULE["webhooks-deliver"] = {
    # Fan new domain events out to endpoints, then send what is due (retries included).
    "task": "webhooks.deliver",
    "schedule": 30.0,
    "options": {"expires": 45},
}

# Organizations larger than this are scored in chunks of this many members, one task each.
SUCCESS_GAP_CHUNK_SIZE = env.int("SUCCESS_GAP_CHUNK_SIZE", default=50_000)

# Security headers (checked by ``manage.py check --deploy``; production adds HTTPS and HSTS).
# Stated here, not left to Django's defaults, so every environment sends the same ones.
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
# Probes come over plain HTTP from inside the network (ops.middleware.HealthCheckMiddleware).
SECURE_REDIRECT_EXEMPT = [r"^(healthz|readyz)/?$"]
# ops.middleware.SecurityHeadersMiddleware: Content-Security-Policy with a per-request nonce,
# and no powerful browser features for any page.
TANDEM_CSP_RELAXED_STYLE_PATHS = ["/api/docs/"]  # Swagger UI sets inline styles
TANDEM_PERMISSIONS_POLICY = (
    "accelerometer=(), autoplay=(), camera=(), display-capture=(), geolocation=(), "
    "gyroscope=(), magnetometer=(), microphone=(), midi=(), payment=(), usb=()"
)

# Failed-login throttling (ops/throttle.py), counted in the default cache.
LOGIN_THROTTLE_MAX_PER_EMAIL = env.int("TANDEM_LOGIN_MAX_FAILURES_PER_EMAIL", default=5)
LOGIN_THROTTLE_MAX_PER_IP = env.int("TANDEM_LOGIN_MAX_FAILURES_PER_IP", default=20)
LOGIN_THROTTLE_WINDOW_SECONDS = env.int("TANDEM_LOGIN_THROTTLE_WINDOW_SECONDS", default=15 * 60)
# How many proxies of ours append to X-Forwarded-For (0: use the connection's address).
TANDEM_TRUSTED_PROXIES = env.int("TANDEM_TRUSTED_PROXIES", default=0)

# Logs: readable text by default, JSON lines (LOG_FORMAT=json, the production default). Both
# carry the request id and the organization (ops.logging.RequestContextFilter).
LOG_FORMAT = env.str("LOG_FORMAT", default="text")
# One log line per request (method, path, status, duration); off where runserver logs them.
TANDEM_LOG_REQUESTS = env.bool("TANDEM_LOG_REQUESTS", default=False)


def logging_config(log_format: str) -> dict:
    """The LOGGING dict for ``text`` or ``json`` output on stderr."""
    if log_format not in ("text", "json"):
        raise ImproperlyConfigured(f"LOG_FORMAT must be text or json (got {log_format!r}).")
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {"request_context": {"()": "ops.logging.RequestContextFilter"}},
        "formatters": {
            "text": {
                "format": "%(asctime)s %(levelname)s %(name)s [%(request_id)s %(organization)s] "
                "%(message)s"
            },
            "json": {"()": "ops.logging.JsonFormatter"},
        },
        "handlers": {
            "console": {
                "class": "logging.StreamHandler",
                "formatter": log_format,
                "filters": ["request_context"],
            }
        },
        "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    }


LOGGING = logging_config(LOG_FORMAT)
