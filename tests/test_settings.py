"""Settings (README, Configuration): development by default, production refuses to start without a
real secret key and allowed hosts, and then passes `manage.py check --deploy`."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings

ROOT = Path(__file__).resolve().parent.parent
REAL_KEY = "k3Y-" + "x7Qp2Lm9Zr" * 6


def manage(*args: str, **env: str) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "DATABASE_", "CELERY_"))}
    clean.update(env)
    return subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, env=clean,
                          capture_output=True, text=True, timeout=120)


def test_development_is_the_default_with_an_embedded_broker_and_console_mail():
    # Like production, no request computes an analysis: tasks go to a broker (kombu's filesystem
    # transport, nothing to install) and a worker computes them. Eager is for the tests only.
    result = manage("shell", "-c", "from django.conf import settings as s; "
                    "print(s.DEBUG, s.CELERY_TASK_ALWAYS_EAGER, s.CELERY_BROKER_URL, s.EMAIL_BACKEND, "
                    "s.DATABASES['default']['ENGINE'], s.DATABASES['default']['CONN_HEALTH_CHECKS'], "
                    "sorted(s.ALLOWED_HOSTS))")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == (
        "True False filesystem:// django.core.mail.backends.console.EmailBackend django.db.backends.sqlite3 True "
        "['127.0.0.1', '[::1]', 'localhost']"
    )


def test_development_keeps_a_generated_secret_key_out_of_git():
    assert (ROOT / ".secret_key").read_text().strip() == settings.SECRET_KEY or os.environ.get("DJANGO_SECRET_KEY")
    assert ".secret_key" in (ROOT / ".gitignore").read_text().split()
    assert len(settings.SECRET_KEY) >= 50


def test_urls_switch_to_postgres_and_redis():
    result = manage("shell", "-c", "from django.conf import settings as s; "
                    "print(s.DATABASES['default']['ENGINE'], s.CELERY_TASK_ALWAYS_EAGER, s.CELERY_BROKER_URL)",
                    DATABASE_URL="postgres://postgres@127.0.0.1:5432/postgres",
                    CELERY_BROKER_URL="redis://127.0.0.1:6379/0")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == "django.db.backends.postgresql False redis://127.0.0.1:6379/0"


@pytest.mark.parametrize(("env", "message"), [
    ({}, "DJANGO_SECRET_KEY"),
    ({"DJANGO_SECRET_KEY": "too-short"}, "DJANGO_SECRET_KEY"),
    ({"DJANGO_SECRET_KEY": "django-insecure-" + "a1b2c3d4e5" * 5}, "DJANGO_SECRET_KEY"),
    ({"DJANGO_SECRET_KEY": REAL_KEY}, "DJANGO_ALLOWED_HOSTS"),
])
def test_production_refuses_to_start_without_real_key_and_hosts(env, message):
    result = manage("check", DJANGO_ENV="production", **env)
    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr and message in result.stderr


def test_production_passes_the_deployment_checklist():
    result = manage("check", "--deploy", "--fail-level", "WARNING", DJANGO_ENV="production",
                    DJANGO_SECRET_KEY=REAL_KEY, DJANGO_ALLOWED_HOSTS="survey.example.org")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_an_unknown_environment_name_is_refused():
    result = manage("check", DJANGO_ENV="staging")
    assert result.returncode != 0 and "DJANGO_ENV" in result.stderr


def test_every_setting_read_from_the_environment_is_in_env_example():
    import re

    read = set(re.findall(r'env\.\w+\("([A-Z_]+)"', (ROOT / "disagreement/settings.py").read_text()))
    listed = set(re.findall(r"^([A-Z_]+)=", (ROOT / ".env.example").read_text(), flags=re.M))
    assert read, "no env reads found"
    assert read - listed == set()


def test_whitenoise_serves_static_files():
    assert "whitenoise.middleware.WhiteNoiseMiddleware" in settings.MIDDLEWARE
    assert settings.MIDDLEWARE.index("whitenoise.middleware.WhiteNoiseMiddleware") == 1
