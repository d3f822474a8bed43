"""Fleetdeck settings. Everything comes from the environment; defaults give a working embedded setup."""

from __future__ import annotations

import os
import secrets
import sys
from pathlib import Path

import dj_database_url
from celery.schedules import crontab

from .env import ConfigError, env_bool, env_days, env_float, env_int, env_list, env_str

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(env_str("FLEETDECK_VAR_DIR", str(BASE_DIR / "var"))).resolve()
VAR_DIR.mkdir(parents=True, exist_ok=True)


def _secret_key() -> str:
    configured = env_str("FLEETDECK_SECRET_KEY")
    if configured:
        return configured
    key_file = VAR_DIR / "secret_key"
    if not key_file.exists():
        key_file.write_text(secrets.token_urlsafe(50))
        key_file.chmod(0o600)
    return key_file.read_text().strip()


SECRET_KEY = _secret_key()
DEBUG = env_bool("FLEETDECK_DEBUG", False)
ALLOWED_HOSTS = env_list("FLEETDECK_ALLOWED_HOSTS", ["*"])
CSRF_TRUSTED_ORIGINS = env_list("FLEETDECK_CSRF_TRUSTED_ORIGINS", [])
# Absolute base URL agents use to reach this server (bundle links). Empty: taken from the request.
PUBLIC_URL = env_str("FLEETDECK_PUBLIC_URL").rstrip("/")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "drf_spectacular",
    "deployments",
    "dashboard",
    "integrations",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "config.urls"
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
ASGI_APPLICATION = "config.asgi.application"
WSGI_APPLICATION = "config.wsgi.application"

# --- database -------------------------------------------------------------------------
DATABASE_URL = env_str("DATABASE_URL", f"sqlite:///{VAR_DIR / 'fleetdeck.sqlite3'}")
try:
    _db = dj_database_url.parse(
        DATABASE_URL, conn_max_age=env_int("FLEETDECK_DB_CONN_MAX_AGE", 60, minimum=0)
    )
except ValueError as exc:
    raise ConfigError(f"DATABASE_URL is not a database URL: {exc}") from None
if _db["ENGINE"] == "django.db.backends.sqlite3":
    # WAL plus IMMEDIATE transactions let the web server, the worker and beat share one file.
    _db["CONN_MAX_AGE"] = 0
    _db["OPTIONS"] = {
        "timeout": 30,
        "transaction_mode": "IMMEDIATE",
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
    # A file (not :memory:) so the e2e stack's processes share it; per process so parallel runs don't clash.
    _db["TEST"] = {"NAME": str(VAR_DIR / f"test-fleetdeck-{os.getpid()}.sqlite3")}
elif _db["ENGINE"] == "django.db.backends.postgresql":
    _db["CONN_HEALTH_CHECKS"] = True
DATABASES = {"default": _db}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- redis: broker and pub/sub ---------------------------------------------------------
REDIS_URL = env_str("REDIS_URL")
if not REDIS_URL:
    from .embedded_redis import ensure_running

    REDIS_URL = f"unix://{ensure_running(VAR_DIR)}?db=0"
    EMBEDDED_REDIS = True
else:
    EMBEDDED_REDIS = False
if not REDIS_URL.startswith(("redis://", "rediss://", "unix://")):
    raise ConfigError(f"REDIS_URL={REDIS_URL!r} must start with redis://, rediss:// or unix://")

CELERY_BROKER_URL = (
    "redis+socket://" + REDIS_URL.removeprefix("unix://") if REDIS_URL.startswith("unix://") else REDIS_URL
)
CELERY_TASK_DEFAULT_QUEUE = env_str("FLEETDECK_QUEUE", "fleetdeck")
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_IGNORE_RESULT = True
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 3600}
CELERY_TASK_ALWAYS_EAGER = env_bool("FLEETDECK_CELERY_EAGER", False)
CELERY_WORKER_HIJACK_ROOT_LOGGER = False

# Django's cache (dashboard tiles' GitHub/JIRA results): the same Redis, shared by every web process,
# so an invalidation in one process is seen by all. Short socket timeouts: a cache miss beats a hang.
CACHES = {
    "default": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": REDIS_URL,
        "KEY_PREFIX": "fleetdeck",
        "OPTIONS": {"socket_connect_timeout": 1, "socket_timeout": 1},
    }
}

# --- the engine -----------------------------------------------------------------------
SWEEP_INTERVAL = env_float("FLEETDECK_SWEEP_INTERVAL", 15.0, minimum=0.5)
# A command nobody acked within this many seconds fails with AGENT_ISSUE.
AGENT_PICKUP_TIMEOUT = env_int("FLEETDECK_AGENT_PICKUP_TIMEOUT", 300, minimum=1)
# An agent silent for this long is offline and its running events fail with AGENT_ISSUE.
AGENT_OFFLINE_AFTER = env_int("FLEETDECK_AGENT_OFFLINE_AFTER", 90, minimum=1)
# Extra time past a hook's own timeout before the sweep fails the event.
HOOK_TIMEOUT_GRACE = env_int("FLEETDECK_HOOK_TIMEOUT_GRACE", 60, minimum=0)
# When every agent goes quiet at once, the web tier (or the network in front of it) is the likelier
# culprit: the sweep holds AGENT_ISSUE back for this many more seconds.
FLEET_SILENCE_GRACE = env_int("FLEETDECK_FLEET_SILENCE_GRACE", 300, minimum=0)
POLL_WAIT_MAX = env_int("FLEETDECK_POLL_WAIT", 25, minimum=1)
MAX_BUNDLE_SIZE = env_int("FLEETDECK_MAX_BUNDLE_SIZE", 2 * 1024**3, minimum=1024)

ALARM_POLL_INTERVAL = env_float("FLEETDECK_ALARM_POLL_INTERVAL", 10.0, minimum=0.5)

# --- retention (deployments/retention.py, run daily by beat and by `manage.py cleanup`) ---------
# Days after a deployment ends before its log lines are deleted; its state changes, per-host results,
# error codes and diagnostics (log_tail included) stay. None ("never"): logs are kept for ever.
LOG_RETENTION_DAYS = env_days("FLEETDECK_LOG_RETENTION_DAYS", 90)
# Days after which whole finished deployments are deleted (each group's last successful one stays).
# None (the default, "never"): deployments are kept for ever.
DEPLOYMENT_RETENTION_DAYS = env_days("FLEETDECK_DEPLOYMENT_RETENTION_DAYS", None)
# Stored bundles kept per application, newest first; older ones are deleted unless a deployment needs them.
KEEP_REVISIONS = env_int("FLEETDECK_KEEP_REVISIONS", 20, minimum=1)

CELERY_BEAT_SCHEDULE = {
    "sweep": {"task": "deployments.tasks.sweep", "schedule": SWEEP_INTERVAL},
    "poll-alarms": {"task": "deployments.tasks.poll_alarms", "schedule": ALARM_POLL_INTERVAL},
    "discover-ec2": {"task": "integrations.tasks.discover_all_ec2", "schedule": 300.0},
    # Daily, at a quiet hour (UTC); it works in small batches, so a rollout running then is unaffected.
    "cleanup": {"task": "deployments.tasks.cleanup", "schedule": crontab(hour=3, minute=17)},
}

# --- storage --------------------------------------------------------------------------
MEDIA_ROOT = Path(env_str("FLEETDECK_STORAGE_DIR", str(VAR_DIR / "storage")))
MEDIA_URL = "/media/"
STATIC_URL = "/static/"
STATIC_ROOT = VAR_DIR / "static"
STATIC_ROOT.mkdir(exist_ok=True)
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
FILE_UPLOAD_MAX_MEMORY_SIZE = 2 * 1024 * 1024
DATA_UPLOAD_MAX_MEMORY_SIZE = 10 * 1024 * 1024

# --- auth and API ---------------------------------------------------------------------
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "/"
LOGOUT_REDIRECT_URL = "login"
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        # Personal tokens (fdp_…, stored hashed; createapitoken issues them too), then the browser session.
        "dashboard.api.authentication.PersonalTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_PAGINATION_CLASS": "rest_framework.pagination.PageNumberPagination",
    "PAGE_SIZE": 50,
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "deployments.api.errors.exception_handler",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Fleetdeck API",
    "DESCRIPTION": "Applications, deployment groups, revisions and deployments.",
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    "COMPONENT_SPLIT_REQUEST": True,
    "ENUM_NAME_OVERRIDES": {
        "DeploymentStatusEnum": "deployments.models.choices.DeploymentStatus",
        "TargetStatusEnum": "deployments.models.choices.TargetStatus",
        "EventStatusEnum": "deployments.models.choices.EventStatus",
    },
}

# --- email (trigger notifications) ------------------------------------------------------
# Unset host: email triggers fail with a message saying so, rather than trying localhost:25.
EMAIL_HOST = env_str("FLEETDECK_EMAIL_HOST")
EMAIL_PORT = env_int("FLEETDECK_EMAIL_PORT", 587, minimum=1)
EMAIL_HOST_USER = env_str("FLEETDECK_EMAIL_USER")
EMAIL_HOST_PASSWORD = env_str("FLEETDECK_EMAIL_PASSWORD")
EMAIL_USE_TLS = env_bool("FLEETDECK_EMAIL_STARTTLS", True)
EMAIL_USE_SSL = env_bool("FLEETDECK_EMAIL_SSL", False)
if EMAIL_USE_SSL:
    EMAIL_USE_TLS = False  # implicit TLS (port 465) replaces STARTTLS
EMAIL_TIMEOUT = env_int("FLEETDECK_INTEGRATIONS_TIMEOUT", 10, minimum=1)
DEFAULT_FROM_EMAIL = env_str("FLEETDECK_EMAIL_FROM", "Fleetdeck <fleetdeck@localhost>")

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = False
USE_TZ = True

SESSION_COOKIE_SECURE = env_bool("FLEETDECK_SECURE_COOKIES", False)
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
if env_bool("FLEETDECK_BEHIND_TLS_PROXY", False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

LOG_LEVEL = env_str("FLEETDECK_LOG_LEVEL", "INFO").upper()
if LOG_LEVEL not in {"DEBUG", "INFO", "WARNING", "ERROR"}:
    raise ConfigError(f"FLEETDECK_LOG_LEVEL={LOG_LEVEL!r} must be DEBUG, INFO, WARNING or ERROR")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "stream": sys.stderr, "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {
        "django.db.backends": {"level": "INFO"},
        # urllib3 logs every request's URL at DEBUG, and a Slack trigger's URL is a credential.
        "urllib3": {"level": "INFO"},
    },
}
