"""``manage.py check --deploy`` is clean with production settings and a real environment."""

from __future__ import annotations

import json

import pytest

from tests.ops.conftest import run_python

pytestmark = pytest.mark.filterwarnings("ignore")


def check_deploy(env: dict[str, str]):
    return run_python(["manage.py", "check", "--deploy", "--fail-level", "WARNING"], env)


def test_check_deploy_has_no_warnings_with_the_production_defaults(prod_env):
    result = check_deploy(prod_env())
    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues" in result.stdout
    assert "WARNING" not in result.stderr and "?: (security" not in result.stderr


@pytest.mark.parametrize(
    ("overrides", "warning"),
    [
        ({"DJANGO_SECURE_SSL_REDIRECT": "false"}, "security.W008"),
        ({"DJANGO_SECURE_HSTS_SECONDS": "0"}, "security.W004"),
        ({"DJANGO_SECURE_HSTS_INCLUDE_SUBDOMAINS": "false"}, "security.W005"),
        ({"DJANGO_SECURE_HSTS_PRELOAD": "false"}, "security.W021"),
        ({"DJANGO_SECRET_KEY": "short-and-guessable"}, "security.W009"),
    ],
)
def test_check_deploy_fails_when_a_protection_is_switched_off(prod_env, overrides, warning):
    """The check above can fail: each environment switch is honoured and caught."""
    result = check_deploy(prod_env(**overrides))
    assert result.returncode != 0
    assert warning in result.stderr


FACTS = """
import json
import django
django.setup()
from django.conf import settings
from django.template import engines
def chain(loaders):
    return [
        [f"{type(l).__module__}.{type(l).__name__}", chain(getattr(l, "loaders", []))]
        for l in loaders
    ]
print(json.dumps({
    "loaders": chain(engines["django"].engine.template_loaders),
    "staticfiles": settings.STORAGES["staticfiles"]["BACKEND"],
    "middleware": settings.MIDDLEWARE,
    "conn_max_age": settings.DATABASES["default"]["CONN_MAX_AGE"],
    "conn_health_checks": settings.DATABASES["default"]["CONN_HEALTH_CHECKS"],
    "proxy_header": settings.SECURE_PROXY_SSL_HEADER,
    "ssl_redirect": settings.SECURE_SSL_REDIRECT,
    "session_cookie": [settings.SESSION_COOKIE_SECURE, settings.SESSION_COOKIE_HTTPONLY],
    "csrf_cookie_secure": settings.CSRF_COOKIE_SECURE,
    "hsts": [settings.SECURE_HSTS_SECONDS, settings.SECURE_HSTS_INCLUDE_SUBDOMAINS,
             settings.SECURE_HSTS_PRELOAD],
    "x_frame_options": settings.X_FRAME_OPTIONS,
    "referrer_policy": settings.SECURE_REFERRER_POLICY,
    "coop": settings.SECURE_CROSS_ORIGIN_OPENER_POLICY,
    "nosniff": settings.SECURE_CONTENT_TYPE_NOSNIFF,
    "log_formatter": settings.LOGGING["handlers"]["console"]["formatter"],
}))
"""


def production_facts(env: dict[str, str]) -> dict:
    result = run_python(["-c", FACTS], env)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_production_settings(prod_env):
    facts = production_facts(prod_env())
    # Partials (django-template-partials) over the cached loader over the usual two.
    assert facts["loaders"] == [
        [
            "template_partials.loader.Loader",
            [
                [
                    "django.template.loaders.cached.Loader",
                    [
                        ["django.template.loaders.filesystem.Loader", []],
                        ["django.template.loaders.app_directories.Loader", []],
                    ],
                ]
            ],
        ]
    ]
    assert facts["staticfiles"] == "whitenoise.storage.CompressedManifestStaticFilesStorage"
    middleware = facts["middleware"]
    assert middleware[0] == "ops.middleware.RequestIdMiddleware"
    security = middleware.index("django.middleware.security.SecurityMiddleware")
    assert middleware[security + 1] == "whitenoise.middleware.WhiteNoiseMiddleware"
    assert facts["conn_max_age"] == 60 and facts["conn_health_checks"] is True
    assert facts["proxy_header"] == ["HTTP_X_FORWARDED_PROTO", "https"]
    assert facts["ssl_redirect"] is True
    assert facts["session_cookie"] == [True, True] and facts["csrf_cookie_secure"] is True
    assert facts["hsts"] == [31536000, True, True]
    assert facts["x_frame_options"] == "DENY"
    assert facts["referrer_policy"] == "same-origin"
    assert facts["coop"] == "same-origin"
    assert facts["nosniff"] is True
    assert facts["log_formatter"] == "json"


def test_production_settings_follow_the_environment(prod_env):
    facts = production_facts(
        prod_env(
            DJANGO_SECURE_SSL_REDIRECT="false",  # docker-compose's local trials
            DJANGO_SECURE_PROXY_SSL_HEADER="X-Scheme,https",
            DATABASE_CONN_MAX_AGE="300",
            LOG_FORMAT="text",
        )
    )
    assert facts["ssl_redirect"] is False
    assert facts["proxy_header"] == ["HTTP_X_SCHEME", "https"]
    assert facts["conn_max_age"] == 300
    assert facts["log_formatter"] == "text"
    assert production_facts(prod_env(DJANGO_SECURE_PROXY_SSL_HEADER=""))["proxy_header"] is None


def test_a_malformed_proxy_header_stops_start_up(prod_env):
    result = run_python(["-c", FACTS], prod_env(DJANGO_SECURE_PROXY_SSL_HEADER="X-Scheme"))
    assert result.returncode != 0
    assert "DJANGO_SECURE_PROXY_SSL_HEADER" in result.stderr
