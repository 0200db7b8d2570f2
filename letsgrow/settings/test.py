"""pytest: `--ds=letsgrow.settings.test`. DATABASE_URL / REDIS_URL pick real servers."""

from __future__ import annotations

from .base import *  # noqa: F403
from .base import CACHES, REDIS_URL

DEBUG = False
SECRET_KEY = "test-secret-key-not-for-production"  # noqa: S105
ALLOWED_HOSTS = ["testserver", "127.0.0.1", "localhost"]
FIELD_ENCRYPTION_KEY = ["c2FtcGxlLXRlc3Qta2V5LWZvci1sZXRzZ3Jvdy0xMjM="]
# Providers in tests talk to the emulator that the `emulator` fixture starts.
PLATFORM_EMULATOR_ENABLED = True
PLATFORM_TIMEOUT_SECONDS = 3.0
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"

# Without REDIS_URL each test process keeps its cache in memory; with it, the
# tests share the real Redis server, under their own key prefix.
if not REDIS_URL:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
else:
    CACHES["default"]["KEY_PREFIX"] = "letsgrow-test"
# Static files come from the finders (node_modules, static/); nothing is collected.
STATIC_ROOT = None
WHITENOISE_USE_FINDERS = True
ACCOUNT_DEFAULT_HTTP_PROTOCOL = "http"
SITE_DOMAIN = "letsgrow.test"
