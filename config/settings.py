"""Fleetdeck settings. Everything comes from the environment; defaults give a working embedded setup."""

from __future__ import annotations

import ipaddress
import os
import re
import secrets
import sys
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlsplit

import dj_database_url
from celery.schedules import crontab
from cryptography.fernet import Fernet
from kombu import Exchange, Queue

from config import embedded_redis
from core.env import ConfigError, env_bool, env_days, env_float, env_int, env_list, env_prefixed, env_str
from core.outbound import parse_allow

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


def _public_url() -> tuple[str, str]:
    """FLEETDECK_PUBLIC_URL without its trailing slash, and its origin (scheme://host[:port])."""
    url = env_str("FLEETDECK_PUBLIC_URL").rstrip("/")
    if not url:
        return "", ""
    parts = urlsplit(url)
    if parts.scheme not in {"http", "https"} or not parts.hostname or parts.query or parts.fragment:
        raise ConfigError(
            f"FLEETDECK_PUBLIC_URL={url!r} is not the server's base URL; "
            "give scheme and host, e.g. https://fleetdeck.example.com"
        )
    return url, f"{parts.scheme}://{parts.netloc}"


def _encryption_keys() -> list[str]:
    """FLEETDECK_ENCRYPTION_KEY: one or more Fernet keys, separated by commas or whitespace (a _FILE may
    hold one per line). The first encrypts; every one of them decrypts, so a key can be rotated."""
    keys = [k for k in re.split(r"[,\s]+", env_str("FLEETDECK_ENCRYPTION_KEY")) if k]
    for position, key in enumerate(keys, 1):
        try:
            Fernet(key.encode())
        except (ValueError, TypeError):
            raise ConfigError(
                f"FLEETDECK_ENCRYPTION_KEY: key {position} of {len(keys)} is not a Fernet key (32 url-safe "
                "base64-encoded bytes); make one with: python -c 'from cryptography.fernet import "
                "Fernet; print(Fernet.generate_key().decode())'"
            ) from None
    return keys


SECRET_KEY = _secret_key()
# Keys for integration secrets at rest (core/crypto.py); empty: one derived from SECRET_KEY.
ENCRYPTION_KEYS = _encryption_keys()
DEBUG = env_bool("FLEETDECK_DEBUG", False)
# The base URL hosts, mails and outside systems reach this server at: bundle links, the install script,
# password-reset links, the GitHub webhook address. Empty: taken from the request (Host, vetted below).
PUBLIC_URL, _PUBLIC_ORIGIN = _public_url()
_PUBLIC_HOST = urlsplit(PUBLIC_URL).hostname or ""
if ":" in _PUBLIC_HOST:  # an IPv6 address: ALLOWED_HOSTS spells it in brackets
    _PUBLIC_HOST = f"[{_PUBLIC_HOST}]"
# With a public URL the server answers to its host, plus loopback for probes on the machine itself (the
# stack's readiness check, a local health check); absolute URLs never come from those. Without one it
# answers to any Host, and the web server warns at start (dashboard/checks.py).
ALLOWED_HOSTS = env_list(
    "FLEETDECK_ALLOWED_HOSTS",
    [_PUBLIC_HOST, "localhost", "127.0.0.1", "[::1]"] if PUBLIC_URL else ["*"],
)
CSRF_TRUSTED_ORIGINS = env_list("FLEETDECK_CSRF_TRUSTED_ORIGINS", [_PUBLIC_ORIGIN] if PUBLIC_URL else [])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "axes",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "projects",
    "deployments",
    "dashboard",
    "integrations",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "csp.middleware.CSPMiddleware",
    # Before anything reads the body (CSRF reads the form): uploads past FLEETDECK_MAX_BUNDLE_SIZE get a 413.
    "deployments.upload_limit.BundleSizeLimitMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Last, as django-axes asks: turns a locked-out sign-in into the lockout page.
    "axes.middleware.AxesMiddleware",
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
# Unset: the embedded Redis on a unix socket under the var directory. Reading the settings never starts
# it; the process that needs it does (config/embedded_redis.py: the stack, manage.py, the test session).
REDIS_URL = env_str("REDIS_URL")
EMBEDDED_REDIS = not REDIS_URL
if EMBEDDED_REDIS:
    REDIS_URL = embedded_redis.url(VAR_DIR)
if not REDIS_URL.startswith(("redis://", "rediss://", "unix://")):
    raise ConfigError(f"REDIS_URL={REDIS_URL!r} must start with redis://, rediss:// or unix://")

CELERY_BROKER_URL = (
    "redis+socket://" + REDIS_URL.removeprefix("unix://") if REDIS_URL.startswith("unix://") else REDIS_URL
)
CELERY_TASK_DEFAULT_QUEUE = env_str("FLEETDECK_QUEUE", "fleetdeck")
# Server-side waits (a load balancer's drain or health wait, a health check, replacement hosts coming
# up) have a queue of their own, so however long they take, no rollout waits behind them for a worker.
# A worker started for the main queue alone (the worker command before this queue existed) consumes
# this one too (config/celery.py); `python -m config.worker main|waits` runs one of them only.
WAIT_QUEUE = env_str("FLEETDECK_WAIT_QUEUE", f"{CELERY_TASK_DEFAULT_QUEUE}-waits")
if WAIT_QUEUE == CELERY_TASK_DEFAULT_QUEUE:
    raise ConfigError(
        f"FLEETDECK_WAIT_QUEUE={WAIT_QUEUE!r} is also FLEETDECK_QUEUE: the waits need a queue of their own "
        f"(unset it for {CELERY_TASK_DEFAULT_QUEUE + '-waits'!r})"
    )
# Each queue on a direct exchange of its own name (Celery's default for the one queue it knew before).
CELERY_TASK_QUEUES = tuple(
    Queue(name, Exchange(name), routing_key=name) for name in (CELERY_TASK_DEFAULT_QUEUE, WAIT_QUEUE)
)
WAIT_TASKS = (
    "deployments.tasks.run_server_event",  # BlockTraffic, AllowTraffic, HealthCheck
    "deployments.tasks.provision_replacements",  # copying an Auto Scaling group (blue/green)
    "deployments.tasks.check_provisioning",  # until the copy's instances have registered agents
)
CELERY_TASK_ROUTES = {name: {"queue": WAIT_QUEUE} for name in WAIT_TASKS}
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
# The largest bundle accepted (uploads, S3 objects, GitHub archives) and the most entries in one:
# both also bound what the server's archive check decompresses (zip and tar bombs).
MAX_BUNDLE_SIZE = env_int("FLEETDECK_MAX_BUNDLE_SIZE", 2 * 1024**3, minimum=1024)
MAX_BUNDLE_FILES = env_int("FLEETDECK_MAX_BUNDLE_FILES", 200_000, minimum=1)

ALARM_POLL_INTERVAL = env_float("FLEETDECK_ALARM_POLL_INTERVAL", 10.0, minimum=0.5)
# /agent/dist/ fetches PyYAML wheels from the package index; false (air-gapped): repacks the server's own.
AGENT_DIST_DOWNLOAD = env_bool("FLEETDECK_AGENT_DIST_DOWNLOAD", True)

# --- retention (deployments/retention.py, run daily by beat and by `manage.py cleanup`) ---------
# Days after a deployment ends before its log lines are deleted; its state changes, per-host results,
# error codes and diagnostics (log_tail included) stay. None ("never"): logs are kept for ever.
LOG_RETENTION_DAYS = env_days("FLEETDECK_LOG_RETENTION_DAYS", 90)
# Days after which whole finished deployments are deleted (each group's last successful one stays).
# None (the default, "never"): deployments are kept for ever.
DEPLOYMENT_RETENTION_DAYS = env_days("FLEETDECK_DEPLOYMENT_RETENTION_DAYS", None)
# Stored bundles kept per application, newest first; older ones are deleted unless a deployment needs them.
KEEP_REVISIONS = env_int("FLEETDECK_KEEP_REVISIONS", 20, minimum=1)
# Rows per page of the CodeDeploy endpoint's List* operations (nextToken pages the rest).
CODEDEPLOY_PAGE_SIZE = env_int("FLEETDECK_CODEDEPLOY_PAGE_SIZE", 100, minimum=1)

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
# The size limit goes first, so a bundle past FLEETDECK_MAX_BUNDLE_SIZE stops being kept as it streams in.
FILE_UPLOAD_HANDLERS = [
    "deployments.upload_limit.BundleSizeLimitHandler",
    "django.core.files.uploadhandler.MemoryFileUploadHandler",
    "django.core.files.uploadhandler.TemporaryFileUploadHandler",
]
DATA_UPLOAD_MAX_MEMORY_SIZE = 10 * 1024 * 1024

# --- auth and API ---------------------------------------------------------------------
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "/"
LOGOUT_REDIRECT_URL = "login"
# Sign-in throttling (django-axes) on every password sign-in: /accounts/login/ and /admin/login/. API
# tokens and agent credentials are not passwords and never pass through here. A user is locked out per
# address (username and IP together), so nobody can lock another user out from elsewhere; behind a proxy
# the address is the client's (uvicorn's --forwarded-allow-ips, docs/production.md).
AUTHENTICATION_BACKENDS = [
    "dashboard.auth_backends.SignInThrottleBackend",  # first: refuses a locked-out pair before any check
    "django.contrib.auth.backends.ModelBackend",
]
AXES_FAILURE_LIMIT = env_int("FLEETDECK_LOGIN_FAILURE_LIMIT", 5, minimum=1)
AXES_COOLOFF_TIME = timedelta(minutes=env_int("FLEETDECK_LOGIN_COOLOFF_MINUTES", 15, minimum=1))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_CALLABLE = "dashboard.views.accounts.locked_out"
AXES_DISABLE_ACCESS_LOG = True  # failed attempts are kept; a row per successful sign-in is not needed
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        # Personal tokens (fdp_…, stored hashed; createapitoken issues them too), then the browser session.
        "projects.api.authentication.PersonalTokenAuthentication",
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
    # Swagger UI from drf-spectacular-sidecar's static files (its pinned version), never a CDN.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    # Deep links put a link inside each operation's toggle button: nested controls a screen reader
    # cannot reach (axe's nested-interactive).
    "SWAGGER_UI_SETTINGS": {"deepLinking": False},
    "REDOC_DIST": "SIDECAR",
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
DEFAULT_FROM_EMAIL = env_str("FLEETDECK_EMAIL_FROM", "Fleetdeck <fleetdeck@localhost>")

# Email goes through the outbound-request policy's SMTP backend (core/outbound.py).
EMAIL_BACKEND = "core.outbound.SMTPBackend"

# --- integrations: GitHub, JIRA, AWS, trigger targets (integrations/) -------------------------
# Seconds for one call from a worker; a float (2.5 is fine). SMTP (trigger email) uses it too.
FLEETDECK_INTEGRATIONS_TIMEOUT = env_float("FLEETDECK_INTEGRATIONS_TIMEOUT", 10.0, minimum=0.1)
EMAIL_TIMEOUT = FLEETDECK_INTEGRATIONS_TIMEOUT
# Seconds for calls a person waits on: dashboard tiles, "Test connection", registering a revision.
FLEETDECK_INTEGRATIONS_INTERACTIVE_TIMEOUT = env_float(
    "FLEETDECK_INTEGRATIONS_INTERACTIVE_TIMEOUT", 5.0, minimum=0.1
)
# Trigger deliveries: attempts, and the first retry's delay in seconds (it doubles each attempt).
FLEETDECK_TRIGGER_ATTEMPTS = env_int("FLEETDECK_TRIGGER_ATTEMPTS", 5, minimum=1)
FLEETDECK_TRIGGER_BACKOFF = env_float("FLEETDECK_TRIGGER_BACKOFF", 10.0, minimum=0)
# Seconds a repository, build or issues tile (or, shorter, its error) is reused per project; 0: never.
FLEETDECK_TILE_CACHE_TTL = env_int("FLEETDECK_TILE_CACHE_TTL", 60, minimum=0)
FLEETDECK_TILE_ERROR_TTL = env_int("FLEETDECK_TILE_ERROR_TTL", 10, minimum=0)
# Seconds between two GitHub writes when the wizard commits a starter bundle (PyGithub's default is 1).
FLEETDECK_GITHUB_WRITE_INTERVAL = env_float("FLEETDECK_GITHUB_WRITE_INTERVAL", 0.25, minimum=0.0)

# --- the outbound-request policy (core/outbound.py) and the server's AWS credentials --------
# Destinations the server may reach although they are not public: CIDRs, addresses, host names,
# .domain suffixes. Empty: loopback, link-local, private, CGNAT, multicast and reserved are refused.
OUTBOUND_ALLOW = env_list("FLEETDECK_OUTBOUND_ALLOW", [])
# Blue/green command routers the operator installed: FLEETDECK_TRAFFIC_COMMAND_<NAME>=/path/to/switch.
TRAFFIC_COMMANDS = env_prefixed("FLEETDECK_TRAFFIC_COMMAND_")
# Proxies whose X-Forwarded-For names an agent's address (its health checks go there).
TRUSTED_PROXIES = env_list("FLEETDECK_TRUSTED_PROXIES", [])
# Health checks may use the host name an agent reports, if it resolves to the agent's own address.
HEALTH_CHECK_AGENT_HOSTNAMES = env_bool("FLEETDECK_HEALTH_CHECK_AGENT_HOSTNAMES", False)
# Where the server's own AWS credential chain may act for a project: none, all, or project slugs.
AWS_DEFAULT_CREDENTIALS = env_list("FLEETDECK_AWS_DEFAULT_CREDENTIALS", ["none"])


def _check_outbound_settings() -> None:
    try:
        parse_allow(OUTBOUND_ALLOW)
    except ValueError as exc:
        raise ConfigError(f"FLEETDECK_OUTBOUND_ALLOW: {exc}") from None
    for entry in TRUSTED_PROXIES:
        try:
            ipaddress.ip_network(entry, strict=False)
        except ValueError:
            raise ConfigError(f"FLEETDECK_TRUSTED_PROXIES: {entry!r} is not an address or CIDR") from None
    words = [w.lower() for w in AWS_DEFAULT_CREDENTIALS]
    if ("none" in words or "all" in words) and len(words) > 1:
        raise ConfigError(
            "FLEETDECK_AWS_DEFAULT_CREDENTIALS is none, all, or a comma-separated list of project slugs"
        )


_check_outbound_settings()

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = False
USE_TZ = True

# --- browser security headers ------------------------------------------------------------
# Content-Security-Policy on every response (django-csp). Nothing inline may run: page scripts live in
# static/js/ and take their data from data- attributes or json_script, and no markup carries a style
# attribute (a width the server computes is applied by the page's script through the CSSOM, which the
# policy allows). Images may be data: URIs (Swagger UI's icons); everything else comes from this server.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "img-src": ["'self'", "data:"],
        "font-src": ["'self'"],
        "connect-src": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'none'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
    }
}

# Reached over TLS (a proxy that sets X-Forwarded-Proto, or uvicorn's own TLS): session and CSRF cookies
# travel only over HTTPS, and browsers are told to use HTTPS only (HSTS, sent on HTTPS responses only;
# no includeSubDomains or preload, which would bind other names of the domain).
BEHIND_TLS_PROXY = env_bool("FLEETDECK_BEHIND_TLS_PROXY", False)
if BEHIND_TLS_PROXY:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SESSION_COOKIE_SECURE = env_bool("FLEETDECK_SECURE_COOKIES", BEHIND_TLS_PROXY)
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
SECURE_HSTS_SECONDS = env_int(
    "FLEETDECK_HSTS_SECONDS", 365 * 24 * 3600 if BEHIND_TLS_PROXY or SESSION_COOKIE_SECURE else 0, minimum=0
)

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
        # django-axes announces itself at INFO in every process; its lockouts are WARNINGs.
        "axes.apps": {"level": "WARNING"},
    },
}
