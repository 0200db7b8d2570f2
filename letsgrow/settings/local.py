"""The embedded default for a laptop: `make run`. SQLite, a file broker, mail to files."""

from __future__ import annotations

from .base import *  # noqa: F403
from .base import BROKER_DIR, MEDIA_ROOT, REDIS_URL, VAR_DIR, env

DEBUG = env.bool("DJANGO_DEBUG", default=True)
# Only for this laptop default; production refuses to start without its own.
SECRET_KEY = env.str("DJANGO_SECRET_KEY", default="local-dev-only-secret-key-not-for-production")
ALLOWED_HOSTS = env.list("DJANGO_ALLOWED_HOSTS", default=["127.0.0.1", "localhost", "[::1]"])
# A fixed development key (Fernet, urlsafe base64 of 32 bytes); production must set its own.
FIELD_ENCRYPTION_KEY = env.list("FIELD_ENCRYPTION_KEY", default=["vXQ4Y3xJ8l2m7Bq0sWc9Jd3uFh6TnR1aKe5Pz8LgMoU="])
# Mail lands as files in var/mail, where a person (or a test) can open the links.
EMAIL_BACKEND = env.str("DJANGO_EMAIL_BACKEND", default="django.core.mail.backends.filebased.EmailBackend")
EMAIL_FILE_PATH = VAR_DIR / "mail"
# runserver serves static files from the finders; `collectstatic` is for production.
STATIC_ROOT = None
WHITENOISE_USE_FINDERS = True

# The embedded default keeps its state in var/: make sure its folders exist,
# so web, worker and beat can start in any order on a fresh checkout.
for _folder in (VAR_DIR / "mail", MEDIA_ROOT, *(() if REDIS_URL else (BROKER_DIR / "queue", BROKER_DIR / "control"))):
    _folder.mkdir(parents=True, exist_ok=True)
# Links in mails point at the local server.
ACCOUNT_DEFAULT_HTTP_PROTOCOL = "http"
# Development: a workspace may point its own AI endpoint at a local Ollama or the stub (make run's `llm`).
LLM_ALLOW_PRIVATE_BASE_URLS = env.bool("LLM_ALLOW_PRIVATE_BASE_URLS", default=True)
