"""Production settings: everything that matters must come from the environment."""

from django.core.exceptions import ImproperlyConfigured

from .base import *  # noqa: F403
from .base import SMTP_EMAIL_BACKEND, email_from_env, env, logging_config

DEBUG = False
SECRET_KEY = env.str("DJANGO_SECRET_KEY")
ALLOWED_HOSTS = env.list("DJANGO_ALLOWED_HOSTS")
CSRF_TRUSTED_ORIGINS = env.list("DJANGO_CSRF_TRUSTED_ORIGINS", default=[])


def proxy_ssl_header_from_env(variable: str = "DJANGO_SECURE_PROXY_SSL_HEADER") -> tuple | None:
    """``HEADER,value`` (default ``X-Forwarded-Proto,https``); empty when no proxy sets it.

    Trust it only behind a proxy that always overwrites the header: otherwise a client could
    claim HTTPS and skip the redirect.
    """
    raw = env.str(variable, default="X-Forwarded-Proto,https").strip()
    if not raw:
        return None
    header, _, value = (part.strip() for part in raw.partition(","))
    if not header or not value:
        raise ImproperlyConfigured(f"{variable} must be HEADER,value (got {raw!r}).")
    meta_name = header.upper().replace("-", "_")
    if not meta_name.startswith("HTTP_"):
        meta_name = f"HTTP_{meta_name}"
    return (meta_name, value)


SECURE_PROXY_SSL_HEADER = proxy_ssl_header_from_env()
# On by default; docker-compose turns it off for trials on plain http://localhost.
SECURE_SSL_REDIRECT = env.bool("DJANGO_SECURE_SSL_REDIRECT", default=True)
SESSION_COOKIE_SECURE = True
SESSION_COOKIE_HTTPONLY = True
CSRF_COOKIE_SECURE = True
SECURE_HSTS_SECONDS = env.int("DJANGO_SECURE_HSTS_SECONDS", default=60 * 60 * 24 * 365)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("DJANGO_SECURE_HSTS_INCLUDE_SUBDOMAINS", default=True)
SECURE_HSTS_PRELOAD = env.bool("DJANGO_SECURE_HSTS_PRELOAD", default=True)

# whitenoise serves the collected static files, hashed and compressed, straight from gunicorn;
# right after SecurityMiddleware so static responses skip sessions and the rest.
_security = MIDDLEWARE.index("django.middleware.security.SecurityMiddleware")  # noqa: F405
MIDDLEWARE = [
    *MIDDLEWARE[: _security + 1],  # noqa: F405
    "whitenoise.middleware.WhiteNoiseMiddleware",
    *MIDDLEWARE[_security + 1 :],  # noqa: F405
]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}

# Templates are parsed once per process: the cached loader, stated here rather than left to
# django-template-partials (which would otherwise install its own wrapping of it) or to DEBUG.
# APP_DIRS must be off when loaders are given.
TEMPLATES[0]["APP_DIRS"] = False  # noqa: F405
TEMPLATES[0]["OPTIONS"]["loaders"] = [  # noqa: F405
    (
        "template_partials.loader.Loader",  # {% partialdef %} templates, see INSTALLED_APPS
        [
            (
                "django.template.loaders.cached.Loader",
                [
                    "django.template.loaders.filesystem.Loader",
                    "django.template.loaders.app_directories.Loader",
                ],
            )
        ],
    )
]

# Persistent connections, checked before reuse so a restarted database costs no failed request.
DATABASES["default"]["CONN_MAX_AGE"] = env.int("DATABASE_CONN_MAX_AGE", default=60)  # noqa: F405
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True  # noqa: F405

# JSON lines, one per request too (gunicorn's own access log is off in docker-compose).
LOG_FORMAT = env.str("LOG_FORMAT", default="json")
TANDEM_LOG_REQUESTS = env.bool("TANDEM_LOG_REQUESTS", default=True)
LOGGING = logging_config(LOG_FORMAT)

# Real email: SMTP from EMAIL_URL or EMAIL_HOST/EMAIL_PORT/... unless EMAIL_BACKEND says otherwise.
EMAIL_BACKEND = email_from_env(default_backend=SMTP_EMAIL_BACKEND)["EMAIL_BACKEND"]
