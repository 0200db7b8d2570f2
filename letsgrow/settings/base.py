"""Settings shared by every environment.

Everything lives here; `local`, `test` and `production` override a few lines.
The environment is read only in settings, through django-environ
(https://django-environ.readthedocs.io/).
"""

from __future__ import annotations

from pathlib import Path

import environ

BASE_DIR = Path(__file__).resolve().parent.parent.parent
# Runtime data of the embedded default (SQLite file, broker folders, cache, media).
VAR_DIR = Path(environ.Env().str("LETSGROW_VAR_DIR", default=str(BASE_DIR / "var")))

env = environ.Env()
env.smart_cast = False
# A `.env` at the project root is optional and never required.
environ.Env.read_env(BASE_DIR / ".env", overwrite=False)


def env_secret(name: str, default: str | None = None) -> str | None:
    """Read a secret from NAME, or from the file named by NAME_FILE (Docker secrets)."""
    file_path = env.str(f"{name}_FILE", default="")
    if file_path:
        return Path(file_path).read_text().strip()
    return env.str(name, default=default)


# ---------------------------------------------------------------------------
# Core  https://docs.djangoproject.com/en/5.2/ref/settings/
# ---------------------------------------------------------------------------
DEBUG = env.bool("DJANGO_DEBUG", default=False)
SECRET_KEY = env_secret("DJANGO_SECRET_KEY", default="") or ""
ALLOWED_HOSTS: list[str] = env.list("DJANGO_ALLOWED_HOSTS", default=[])
CSRF_TRUSTED_ORIGINS: list[str] = env.list("DJANGO_CSRF_TRUSTED_ORIGINS", default=[])
SITE_ID = 1
# The public host name (and port, if not 80/443) that links in emails point at.
SITE_DOMAIN = env.str("SITE_DOMAIN", default="127.0.0.1:8000")
SITE_NAME = "LetsGrow"
ROOT_URLCONF = "letsgrow.urls"
WSGI_APPLICATION = "letsgrow.wsgi.application"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

DJANGO_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.sites",
]
THIRD_PARTY_APPS = [
    "allauth",
    "allauth.account",
    "allauth.socialaccount",
    "allauth.mfa",
    "rest_framework",
    "django_celery_beat",
    "encrypted_model_fields",
    "waffle",
]
LOCAL_APPS = [
    # `letsgrow` wires everything and owns no models: it carries the
    # project-wide management commands (setup_periodic_tasks, seed_demo).
    "letsgrow",
    "accounts",
    "content",
    "publishing",
    "analytics",
    "billing",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "allauth.account.middleware.AccountMiddleware",
    "accounts.middleware.StaffTwoFactorMiddleware",
    "waffle.middleware.WaffleMiddleware",
]

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
                "accounts.context_processors.workspaces",
                "publishing.context_processors.emergency_stop",
            ],
        },
    },
]

# ---------------------------------------------------------------------------
# Database  https://docs.djangoproject.com/en/5.2/ref/databases/
# ---------------------------------------------------------------------------
# Embedded default: one SQLite file. WAL lets readers run beside the writer,
# the busy timeout makes a second writer wait instead of failing at once, and
# IMMEDIATE transactions take the write lock up front, so the web process and
# the Celery worker can both write without "database is locked" mid-transaction.
SQLITE_PATH = VAR_DIR / "db.sqlite3"
DATABASE_URL = env.str("DATABASE_URL", default="")
if DATABASE_URL:
    DATABASES = {"default": env.db_url_config(DATABASE_URL)}
    DATABASES["default"]["CONN_MAX_AGE"] = env.int("DJANGO_CONN_MAX_AGE", default=60)
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
else:
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": SQLITE_PATH,
            "OPTIONS": {
                "timeout": 20,
                "transaction_mode": "IMMEDIATE",
                "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
            },
        }
    }
IS_POSTGRES = DATABASES["default"]["ENGINE"].endswith("postgresql")

# ---------------------------------------------------------------------------
# Cache  https://docs.djangoproject.com/en/5.2/topics/cache/
# ---------------------------------------------------------------------------
# Shared by web, worker and beat (heartbeats, rate limits), so it must be a
# store every process sees: Redis when configured, else files on disk.
REDIS_URL = env.str("REDIS_URL", default="")
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": "letsgrow",
            "TIMEOUT": 300,
            "OPTIONS": {"socket_connect_timeout": 2, "socket_timeout": 2},
        }
    }
else:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
            "LOCATION": VAR_DIR / "cache",
            "TIMEOUT": 300,
        }
    }

# ---------------------------------------------------------------------------
# Auth  https://docs.djangoproject.com/en/5.2/topics/auth/customizing/
#       https://docs.allauth.org/en/latest/account/configuration.html
# ---------------------------------------------------------------------------
AUTH_USER_MODEL = "accounts.User"
AUTHENTICATION_BACKENDS = [
    "django.contrib.auth.backends.ModelBackend",
    "allauth.account.auth_backends.AuthenticationBackend",
]
LOGIN_URL = "account_login"
LOGIN_REDIRECT_URL = "accounts:start"
ACCOUNT_LOGOUT_REDIRECT_URL = "home"
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 8}},
    {"NAME": "accounts.validators.CharacterClassesValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

# Email is the login; there is no username. Every address is verified before use.
ACCOUNT_USER_MODEL_USERNAME_FIELD = None
ACCOUNT_LOGIN_METHODS = {"email"}
ACCOUNT_SIGNUP_FIELDS = ["email*", "password1*", "password2*"]
ACCOUNT_UNIQUE_EMAIL = True
ACCOUNT_EMAIL_VERIFICATION = "mandatory"
ACCOUNT_CONFIRM_EMAIL_ON_GET = False  # a link prefetcher must not confirm for the user
ACCOUNT_LOGIN_ON_EMAIL_CONFIRMATION = True
ACCOUNT_EMAIL_CONFIRMATION_EXPIRE_DAYS = 3
ACCOUNT_CHANGE_EMAIL = True
ACCOUNT_EMAIL_NOTIFICATIONS = True
# Login and password reset never reveal whether an address has an account; sign-up
# does say so plainly (AccountAdapter.validate_unique_email) and creates nothing.
ACCOUNT_PREVENT_ENUMERATION = True
ACCOUNT_SESSION_REMEMBER = None  # ask the user ("Remember me")
ACCOUNT_EMAIL_SUBJECT_PREFIX = "[LetsGrow] "
ACCOUNT_DEFAULT_HTTP_PROTOCOL = env.str("ACCOUNT_DEFAULT_HTTP_PROTOCOL", default="https")
ACCOUNT_ADAPTER = "accounts.adapters.AccountAdapter"
# allauth's limits (kept explicit): failed logins per IP and per account,
# sign-ups, password resets and confirmation mails. They live in the shared cache.
ACCOUNT_RATE_LIMITS = {
    "login": "30/m/ip",
    "login_failed": "10/m/ip,5/5m/key",
    "signup": "20/m/ip",
    "confirm_email": "1/3m/key",
    "reset_password": "20/m/ip,5/m/key",
    "reset_password_from_key": "20/m/ip",
    "change_password": "5/m/user",
    "manage_email": "10/m/user",
    "reauthenticate": "10/m/user",
}

# Two-factor authentication: TOTP with recovery codes, for everyone; staff must use it.
MFA_SUPPORTED_TYPES = ["totp", "recovery_codes"]
MFA_TOTP_ISSUER = "LetsGrow"
MFA_ADAPTER = "accounts.adapters.MFAAdapter"
# allauth's default blocks adding an (unverified) address once 2FA is on, so staff
# and every 2FA user could never change their email. Its concern (sign up without
# verifying, then lock the owner out with 2FA) cannot happen here: verification is
# mandatory before any login, and a new address replaces the old one only once verified.
MFA_ALLOW_UNVERIFIED_EMAIL = True
STAFF_REQUIRE_2FA = env.bool("STAFF_REQUIRE_2FA", default=True)

# Google sign-in, when its OAuth client is configured.
GOOGLE_CLIENT_ID = env.str("GOOGLE_CLIENT_ID", default="")
GOOGLE_CLIENT_SECRET = env_secret("GOOGLE_CLIENT_SECRET", default="") or ""
GOOGLE_ENABLED = bool(GOOGLE_CLIENT_ID and GOOGLE_CLIENT_SECRET)
SOCIALACCOUNT_PROVIDERS: dict[str, dict[str, object]] = {}
if GOOGLE_ENABLED:
    THIRD_PARTY_APPS.append("allauth.socialaccount.providers.google")
    SOCIALACCOUNT_PROVIDERS["google"] = {
        "APPS": [{"client_id": GOOGLE_CLIENT_ID, "secret": GOOGLE_CLIENT_SECRET, "key": ""}],
        "SCOPE": ["profile", "email"],
        "AUTH_PARAMS": {"access_type": "online"},
        "OAUTH_PKCE_ENABLED": True,
    }
SOCIALACCOUNT_EMAIL_AUTHENTICATION = True
SOCIALACCOUNT_EMAIL_AUTHENTICATION_AUTO_CONNECT = True
SOCIALACCOUNT_ONLY = False

# Invitations to join a workspace expire after this many days.
INVITATION_EXPIRY_DAYS = env.int("INVITATION_EXPIRY_DAYS", default=7)

INSTALLED_APPS = DJANGO_APPS + THIRD_PARTY_APPS + LOCAL_APPS

# ---------------------------------------------------------------------------
# Static and media files  https://whitenoise.readthedocs.io/
# ---------------------------------------------------------------------------
STATIC_URL = "/static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
# Front-end packages come from npm (package.json + package-lock.json, `npm ci`)
# and are served by whitenoise from our own origin: no CDN at run time.
NODE_MODULES = BASE_DIR / "node_modules"
STATICFILES_DIRS = [
    BASE_DIR / "static",
    ("vendor/bootstrap", NODE_MODULES / "bootstrap" / "dist"),
    ("vendor/bootstrap-icons", NODE_MODULES / "bootstrap-icons" / "font"),
]
MEDIA_URL = "/media/"
MEDIA_ROOT = Path(env.str("DJANGO_MEDIA_ROOT", default=str(VAR_DIR / "media")))
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}

# ---------------------------------------------------------------------------
# Security
# ---------------------------------------------------------------------------
SESSION_COOKIE_HTTPONLY = True
CSRF_COOKIE_HTTPONLY = False  # the site's fetch() calls read it for the X-CSRFToken header
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"

# Tokens at rest: django-encrypted-model-fields takes a list of Fernet keys:
# the first encrypts, all decrypt, so keys can be rotated (`rotate_encryption_keys`).
# The environment gives them comma-separated, newest first.
FIELD_ENCRYPTION_KEY: list[str] = [
    key.strip() for key in (env_secret("FIELD_ENCRYPTION_KEY", default="") or "").split(",") if key.strip()
]

# ---------------------------------------------------------------------------
# Email  https://docs.djangoproject.com/en/5.2/topics/email/
# ---------------------------------------------------------------------------
EMAIL_BACKEND = env.str("DJANGO_EMAIL_BACKEND", default="django.core.mail.backends.smtp.EmailBackend")
EMAIL_FILE_PATH = VAR_DIR / "mail"
DEFAULT_FROM_EMAIL = env.str("DJANGO_DEFAULT_FROM_EMAIL", default="LetsGrow <noreply@letsgrow.local>")
SERVER_EMAIL = DEFAULT_FROM_EMAIL
EMAIL_URL = env_secret("EMAIL_URL", default="")
if EMAIL_URL:
    globals().update(environ.Env.email_url_config(EMAIL_URL))

# ---------------------------------------------------------------------------
# Celery  https://docs.celeryq.dev/en/stable/userguide/configuration.html
# ---------------------------------------------------------------------------
# Embedded default: kombu's filesystem transport, a broker that needs no
# server process (web, worker and beat share a folder). REDIS_URL switches to Redis.
BROKER_DIR = VAR_DIR / "broker"
if REDIS_URL:
    CELERY_BROKER_URL = REDIS_URL
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        # A task not acked within this time is redelivered; it must outlast
        # the longest ETA we schedule, or ETA tasks are delivered twice.
        "visibility_timeout": env.int("CELERY_VISIBILITY_TIMEOUT", default=6 * 3600),
        "socket_connect_timeout": 3,
        "socket_timeout": 5,
    }
else:
    CELERY_BROKER_URL = "filesystem://"
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(BROKER_DIR / "queue"),
        "data_folder_out": str(BROKER_DIR / "queue"),
        "control_folder": str(BROKER_DIR / "control"),
        "store_processed": False,
    }
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_BROKER_CONNECTION_TIMEOUT = 3
CELERY_TIMEZONE = TIME_ZONE
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
# Results are not used: state lives in our own tables.
CELERY_TASK_IGNORE_RESULT = True
# Ack after the task ran, and put it back if the worker process died, so a
# crash mid-task never loses work (tasks are idempotent and claim atomically).
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_TIME_LIMIT = env.int("CELERY_TASK_TIME_LIMIT", default=5 * 60)
CELERY_TASK_SOFT_TIME_LIMIT = env.int("CELERY_TASK_SOFT_TIME_LIMIT", default=4 * 60)
CELERY_WORKER_SEND_TASK_EVENTS = False
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
CELERY_BEAT_SCHEDULER = "letsgrow.celery_beat:HeartbeatDatabaseScheduler"
# Celery's Django fixup closes the database connection around every task unless
# told to reuse it: keep it (bounded; letsgrow/celery.py drops unusable ones).
CELERY_DB_REUSE_MAX = env.int("CELERY_DB_REUSE_MAX", default=1000)
# beat wakes at least this often, which bounds how stale its heartbeat can be.
CELERY_BEAT_MAX_LOOP_INTERVAL = 5
CELERY_TASK_ALWAYS_EAGER = False

# Heartbeats of the worker and beat, read by /readyz.
HEARTBEAT_INTERVAL_SECONDS = env.int("HEARTBEAT_INTERVAL_SECONDS", default=10)
HEARTBEAT_MAX_AGE_SECONDS = env.int("HEARTBEAT_MAX_AGE_SECONDS", default=60)

# ---------------------------------------------------------------------------
# Social platforms  ../shared/PLATFORMS.md
# ---------------------------------------------------------------------------
# With the emulator on (the default outside production), every platform is the
# local emulator (`manage.py run_emulator`, started by `make run`), so the whole
# product works with no platform credentials. In production each platform's
# real base URLs and the app credentials below are used.
PLATFORM_EMULATOR_ENABLED = env.bool("PLATFORM_EMULATOR_ENABLED", default=True)
PLATFORM_EMULATOR_URL = env.str(
    "PLATFORM_EMULATOR_URL", default=f"http://127.0.0.1:{env.int('LETSGROW_EMULATOR_PORT', default=8100)}"
)
PLATFORM_TIMEOUT_SECONDS = env.float("PLATFORM_TIMEOUT_SECONDS", default=15.0)
# Where the platforms send the user back after consent; must be registered with each app.
OAUTH_REDIRECT_BASE_URL = env.str("OAUTH_REDIRECT_BASE_URL", default="http://127.0.0.1:8000")
# Real platform apps (ignored while the emulator is on).
PLATFORM_CREDENTIALS = {
    "x": (env.str("X_CLIENT_ID", default=""), env_secret("X_CLIENT_SECRET", default="") or ""),
    "linkedin": (env.str("LINKEDIN_CLIENT_ID", default=""), env_secret("LINKEDIN_CLIENT_SECRET", default="") or ""),
    "facebook": (env.str("FACEBOOK_APP_ID", default=""), env_secret("FACEBOOK_APP_SECRET", default="") or ""),
    "instagram": (env.str("FACEBOOK_APP_ID", default=""), env_secret("FACEBOOK_APP_SECRET", default="") or ""),
    "threads": (env.str("THREADS_APP_ID", default=""), env_secret("THREADS_APP_SECRET", default="") or ""),
}
LINKEDIN_API_VERSION = env.str("LINKEDIN_API_VERSION", default="202611")
META_GRAPH_VERSION = env.str("META_GRAPH_VERSION", default="v24.0")
BLUESKY_DEFAULT_PDS = env.str("BLUESKY_DEFAULT_PDS", default="https://bsky.social")
BLUESKY_APPVIEW_URL = env.str("BLUESKY_APPVIEW_URL", default="https://public.api.bsky.app")

# ---------------------------------------------------------------------------
# AI generation: any OpenAI-compatible endpoint (OpenAI, Mistral, Groq, Ollama, vLLM)
# ---------------------------------------------------------------------------
# Empty LLM_BASE_URL: no model is configured and generation works offline from
# templates and domain samples (labelled as such). A workspace may bring its own
# endpoint and key (content.AISettings, encrypted). The fallback is tried on a
# timeout, 429, 5xx or unparseable output of the primary.
LLM_BASE_URL = env.str("LLM_BASE_URL", default="")
LLM_MODEL = env.str("LLM_MODEL", default="gpt-4o-mini")
LLM_API_KEY = env_secret("LLM_API_KEY", default="") or ""
LLM_FALLBACK_BASE_URL = env.str("LLM_FALLBACK_BASE_URL", default="")
LLM_FALLBACK_MODEL = env.str("LLM_FALLBACK_MODEL", default="")
LLM_FALLBACK_API_KEY = env_secret("LLM_FALLBACK_API_KEY", default="") or ""
LLM_TIMEOUT_SECONDS = env.float("LLM_TIMEOUT_SECONDS", default=30.0)
# How many LLM calls one content plan makes at once.
LLM_MAX_CONCURRENCY = env.int("LLM_MAX_CONCURRENCY", default=16)
# A workspace's own AI endpoint must be a public address (no calls into our network), unless allowed.
LLM_ALLOW_PRIVATE_BASE_URLS = env.bool("LLM_ALLOW_PRIVATE_BASE_URLS", default=False)
# Media imported from a URL: the longest wait and the largest download (the plan's file limit also applies).
MEDIA_IMPORT_MAX_SECONDS = env.float("MEDIA_IMPORT_MAX_SECONDS", default=20.0)
MEDIA_IMPORT_MAX_BYTES = env.int("MEDIA_IMPORT_MAX_BYTES", default=100 * 1024 * 1024)
# Only tests turn this on (their media server is on 127.0.0.1): imports never reach loopback otherwise.
MEDIA_IMPORT_ALLOW_LOOPBACK = False
# Reading one uploaded document gives up after this long.
DOCUMENT_EXTRACT_MAX_SECONDS = env.float("DOCUMENT_EXTRACT_MAX_SECONDS", default=60.0)

# ---------------------------------------------------------------------------
# Publishing engine (publishing/delivery.py, sweep.py, scheduling.py)
# ---------------------------------------------------------------------------
PUBLISH_MAX_ATTEMPTS = env.int("PUBLISH_MAX_ATTEMPTS", default=5)
# A worker owns a "publishing" target this long past its last renewal; the sweep recovers it
# afterwards. A live worker renews its targets' leases every PUBLISH_LEASE_RENEW_SECONDS
# (publishing/leases.py), so this is how long a dead worker's targets wait, not the longest
# a publish call may take; a publish call starts only with PUBLISH_LEASE_MARGIN_SECONDS left.
PUBLISH_LEASE_SECONDS = env.int("PUBLISH_LEASE_SECONDS", default=45)
PUBLISH_LEASE_RENEW_SECONDS = env.float("PUBLISH_LEASE_RENEW_SECONDS", default=5.0)
PUBLISH_LEASE_MARGIN_SECONDS = env.float("PUBLISH_LEASE_MARGIN_SECONDS", default=30.0)
# A target later than this is marked missed instead of going out at a surprising time.
PUBLISH_MISSED_CUTOFF_SECONDS = env.int("PUBLISH_MISSED_CUTOFF_SECONDS", default=2 * 3600)
PUBLISH_BACKOFF_BASE_SECONDS = env.int("PUBLISH_BACKOFF_BASE_SECONDS", default=10)
PUBLISH_BACKOFF_MAX_SECONDS = env.int("PUBLISH_BACKOFF_MAX_SECONDS", default=3600)
PUBLISH_STOP_RECHECK_SECONDS = env.int("PUBLISH_STOP_RECHECK_SECONDS", default=60)
PUBLISH_RECONCILE_MAX_CHECKS = env.int("PUBLISH_RECONCILE_MAX_CHECKS", default=6)
# Platforms looked up by listing recent posts may lag: "not found" counts only after this.
PUBLISH_RECONCILE_SETTLE_SECONDS = env.int("PUBLISH_RECONCILE_SETTLE_SECONDS", default=30)
PUBLISH_SWEEP_BATCH = env.int("PUBLISH_SWEEP_BATCH", default=500)
PUBLISH_SWEEP_REDISPATCH_SECONDS = env.int("PUBLISH_SWEEP_REDISPATCH_SECONDS", default=60)
# The dispatcher (publishing/dispatch.py): the most targets one drain claims at a time (small
# bursts are spread thinner), the drains one trigger fans out, how long a drain runs before
# handing over, and how far ahead the sweep sends per-second ETA triggers (later schedules
# wait in the database, not in the broker). Set PUBLISH_MAX_DRAINS to the workers' total threads.
PUBLISH_BATCH_SIZE = env.int("PUBLISH_BATCH_SIZE", default=50)
PUBLISH_MAX_DRAINS = env.int("PUBLISH_MAX_DRAINS", default=16)
PUBLISH_DRAIN_SECONDS = env.int("PUBLISH_DRAIN_SECONDS", default=60)
PUBLISH_DISPATCH_HORIZON_SECONDS = env.int("PUBLISH_DISPATCH_HORIZON_SECONDS", default=300)
# How long before a due second its trigger fires: drains claim and check the targets, and
# prepare their requests, during that lead, then send each one at its time.
PUBLISH_PREPARE_SECONDS = env.float("PUBLISH_PREPARE_SECONDS", default=3.0)
# While sending a batch, the emergency stops are re-read at least this often.
PUBLISH_STOP_RECHECK_MS = env.int("PUBLISH_STOP_RECHECK_MS", default=250)
# Task modules outside `tasks.py`, which autodiscovery does not find.
CELERY_IMPORTS = ["publishing.scheduling_tasks", "letsgrow.planner.tasks"]

# ---------------------------------------------------------------------------
# Django REST framework  https://www.django-rest-framework.org/api-guide/settings/
# ---------------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "accounts.api.authentication.ApiKeyAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_PAGINATION_CLASS": "rest_framework.pagination.PageNumberPagination",
    "PAGE_SIZE": 50,
    "EXCEPTION_HANDLER": "letsgrow.lib.api.exception_handler",
    # Per user for sessions, per key for API keys (a key has no user id of its own).
    "DEFAULT_THROTTLE_CLASSES": ["accounts.api.throttling.ApiKeyRateThrottle"],
    "DEFAULT_THROTTLE_RATES": {"user": env.str("API_RATE_LIMIT", default="600/minute")},
}

# ---------------------------------------------------------------------------
# Logging: plain lines to stderr; no secrets are ever logged.
# ---------------------------------------------------------------------------
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env.str("DJANGO_LOG_LEVEL", default="INFO")},
    "loggers": {"django.db.backends": {"level": "WARNING"}},
}

# ---------------------------------------------------------------------------
# Feature toggles for risky automation  https://waffle.readthedocs.io/
# ---------------------------------------------------------------------------
# Switches are off unless staff turn them on in admin; an unknown switch is off.
WAFFLE_SWITCH_DEFAULT = False
WAFFLE_FLAG_DEFAULT = False
WAFFLE_CREATE_MISSING_SWITCHES = False
