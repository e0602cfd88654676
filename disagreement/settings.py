"""Settings for the disagreement platform.

Every knob comes from the environment (django-environ); `.env.example` lists them all.
Nothing set = development: DEBUG on, a random secret key kept in a git-ignored `.secret_key`,
SQLite in the project folder, Celery on an embedded broker (files under `var/broker`, served by the
worker and beat that `make demo` starts), e-mail to the console. Tasks run eagerly only in the
tests (`tests/settings.py`).
`DJANGO_ENV=production` turns DEBUG off and refuses to start without a real secret key and
allowed hosts.
"""

import secrets
from pathlib import Path

import environ
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
if (BASE_DIR / ".env").is_file():
    # A local .env is a convenience for development; real deployments set the environment.
    environ.Env.read_env(BASE_DIR / ".env")

# --- Mode ---------------------------------------------------------------------------------------
DJANGO_ENV = env.str("DJANGO_ENV", default="development")
if DJANGO_ENV not in {"development", "production"}:
    raise ImproperlyConfigured(f"DJANGO_ENV must be 'development' or 'production', not {DJANGO_ENV!r}")
PRODUCTION = DJANGO_ENV == "production"
DEBUG = env.bool("DJANGO_DEBUG", default=not PRODUCTION)


# --- Secret key and hosts -------------------------------------------------------------------------
def _looks_real(key: str) -> bool:
    # The same test Django's security.W009 applies: long, varied, not the startproject default.
    return len(key) >= 50 and len(set(key)) >= 5 and not key.startswith("django-insecure-")


def _development_secret_key() -> str:
    path = BASE_DIR / ".secret_key"
    if not path.exists():
        try:
            with path.open("x") as handle:
                handle.write(secrets.token_urlsafe(64))
        except FileExistsError:  # another process wrote it first
            pass
    return path.read_text().strip()


if PRODUCTION:
    SECRET_KEY = env.str("DJANGO_SECRET_KEY", default="")
    if not _looks_real(SECRET_KEY):
        raise ImproperlyConfigured(
            "DJANGO_ENV=production needs DJANGO_SECRET_KEY: at least 50 random characters "
            "(for example: python -c 'import secrets; print(secrets.token_urlsafe(64))')."
        )
    ALLOWED_HOSTS = env.list("DJANGO_ALLOWED_HOSTS", default=[])
    if not ALLOWED_HOSTS:
        raise ImproperlyConfigured(
            "DJANGO_ENV=production needs DJANGO_ALLOWED_HOSTS, e.g. DJANGO_ALLOWED_HOSTS=survey.example.org"
        )
else:
    SECRET_KEY = env.str("DJANGO_SECRET_KEY", default="") or _development_secret_key()
    ALLOWED_HOSTS = env.list("DJANGO_ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]"])

CSRF_TRUSTED_ORIGINS = env.list("DJANGO_CSRF_TRUSTED_ORIGINS", default=[])

# --- Applications ---------------------------------------------------------------------------------
INSTALLED_APPS = [
    "django.contrib.admin",
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
    "axes",
    "surveys.apps.SurveysConfig",
    "analysis.apps.AnalysisConfig",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "common.errors.RejectBadInputMiddleware",  # NUL bytes in path or query: 400 (docs/security.md)
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "csp.middleware.CSPMiddleware",
    "axes.middleware.AxesMiddleware",  # last: answers a locked-out login (docs/security.md)
]

ROOT_URLCONF = "disagreement.urls"
WSGI_APPLICATION = "disagreement.wsgi.application"

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
                "django.template.context_processors.i18n",
            ],
        },
    },
]

# --- Database -------------------------------------------------------------------------------------
DATABASES = {
    "default": env.db_url("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}"),
}
DATABASES["default"]["CONN_MAX_AGE"] = env.int("DATABASE_CONN_MAX_AGE", default=60 if PRODUCTION else 0)
DATABASES["default"]["ATOMIC_REQUESTS"] = False
# A persistent connection is checked before reuse: a database restart costs no request a 500.
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
# The participant path's statements (common/fastsql.py) as prepared statements on PostgreSQL:
# parsed and planned once per connection. Turn off behind a PgBouncer in transaction mode older
# than 1.21 or with max_prepared_statements = 0 (docs/deploy.md).
DATABASE_PREPARED_STATEMENTS = env.bool("DATABASE_PREPARED_STATEMENTS", default=True)
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # Web server, worker and beat share the file: WAL lets readers run beside the one writer, a
    # writer takes its lock when its transaction begins and waits up to 20 s for another one.
    DATABASES["default"].setdefault("OPTIONS", {}).update({
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
    })
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Celery ---------------------------------------------------------------------------------------
# No broker configured = kombu's filesystem transport in var/broker: the same path as production
# (requests enqueue, a worker computes) with no server to install. `make demo` starts the worker
# and beat (`disagreement/devserver.py`). CELERY_TASK_ALWAYS_EAGER (tasks inside the caller) is for the tests only.
_BROKER = env.str("CELERY_BROKER_URL", default="")
CELERY_BROKER_URL = _BROKER or "filesystem://"
# The embedded broker's message files and beat's schedule file.
CELERY_STATE_DIR = Path(env.str("CELERY_STATE_DIR", default=str(BASE_DIR / "var")))
EMBEDDED_BROKER_DIR = CELERY_STATE_DIR / "broker"
CELERY_TASK_ALWAYS_EAGER = env.bool("CELERY_TASK_ALWAYS_EAGER", default=False)
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_TASK_IGNORE_RESULT = True  # results live in our own tables, never in a result backend
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_ACKS_LATE = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
# Every computation's limits (`common.celery.COMPUTE_LIMITS`); the sweeps have shorter ones.
CELERY_TASK_SOFT_TIME_LIMIT = env.int("CELERY_TASK_SOFT_TIME_LIMIT", default=600)
CELERY_TASK_TIME_LIMIT = env.int("CELERY_TASK_TIME_LIMIT", default=660)
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# A request that enqueues while the broker is down gives up sending within half a second (the run
# stays queued, never sent; the resend sweep sends it once the broker is back).
CELERY_TASK_PUBLISH_RETRY_POLICY = {"max_retries": 2, "interval_start": 0, "interval_step": 0.2, "interval_max": 0.3}
CELERY_TIMEZONE = "UTC"
# A running analysis stamps its run every ANALYSIS_HEARTBEAT_SECONDS; a run without a heartbeat
# for ANALYSIS_RUN_LOST_AFTER_SECONDS (its worker died), or queued that long after its message
# was sent (or never sent: broker down), is sent again by the resend sweep below, and /healthz
# reports it as overdue.
ANALYSIS_HEARTBEAT_SECONDS = env.int("ANALYSIS_HEARTBEAT_SECONDS", default=10)
ANALYSIS_RUN_LOST_AFTER_SECONDS = env.int("ANALYSIS_RUN_LOST_AFTER_SECONDS", default=40)
if ANALYSIS_RUN_LOST_AFTER_SECONDS < 3 * ANALYSIS_HEARTBEAT_SECONDS:
    raise ImproperlyConfigured("ANALYSIS_RUN_LOST_AFTER_SECONDS must be at least three heartbeats")
CELERY_BEAT_SCHEDULE = {
    # Runs a worker lost or a broker never received are sent again (within about a minute:
    # ANALYSIS_RUN_LOST_AFTER_SECONDS plus at most one interval).
    "resend-lost-runs": {
        "task": "analysis.resend_lost_runs",
        "schedule": env.int("ANALYSIS_RESEND_SECONDS", default=30),
    },
    # Waves whose answers changed since their last computation are recomputed by this sweep.
    "sweep-indices": {
        "task": "analysis.sweep_indices",
        "schedule": env.int("ANALYSIS_SWEEP_SECONDS", default=180),
    },
    # Waves open and close on time; invitations and reminders are planned and sent.
    "advance-schedule": {
        "task": "surveys.advance_schedule",
        "schedule": env.int("SCHEDULE_TICK_SECONDS", default=60),
    },
    # Identifying data whose retention period ended is deleted.
    "delete-expired-data": {
        "task": "surveys.delete_expired_data",
        "schedule": env.int("RETENTION_SWEEP_SECONDS", default=3600),
    },
}
# Redis redelivers an unacknowledged task after this many seconds. It must exceed every task's
# hard time limit, or a task still running would be delivered to a second worker; lost work is
# recovered within a minute by the heartbeat and the resend sweep, not by this timeout.
_VISIBILITY_TIMEOUT = env.int("CELERY_VISIBILITY_TIMEOUT", default=CELERY_TASK_TIME_LIMIT + 300)
if _VISIBILITY_TIMEOUT <= CELERY_TASK_TIME_LIMIT:
    raise ImproperlyConfigured("CELERY_VISIBILITY_TIMEOUT must exceed CELERY_TASK_TIME_LIMIT")
# Workers look for such overdue messages every few seconds (kombu's default, a scan on every 10th
# 10-second tick, would leave a lost task waiting up to 100 s past its visibility timeout).
CELERY_BROKER_TRANSPORT_OPTIONS = {
    "visibility_timeout": _VISIBILITY_TIMEOUT,
    "unacked_restore_interval": max(1, min(10, _VISIBILITY_TIMEOUT // 5)),
    "unacked_restore_throttle": 1,
}
if not _BROKER:
    # The embedded broker: one folder of message files, shared by web server, worker and beat.
    for _folder in ("out", "processed"):
        (EMBEDDED_BROKER_DIR / _folder).mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(EMBEDDED_BROKER_DIR / "out"),
        "data_folder_out": str(EMBEDDED_BROKER_DIR / "out"),
        "processed_folder": str(EMBEDDED_BROKER_DIR / "processed"),
        "store_processed": False,
    }
CELERY_BEAT_SCHEDULE_FILENAME = str(CELERY_STATE_DIR / "celerybeat-schedule")

# --- Authentication -------------------------------------------------------------------------------
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
API_MAX_BODY_BYTES = env.int("API_MAX_BODY_BYTES", default=2_621_440)
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "/studies/"

# Failed logins are throttled by django-axes, per user name and per address separately: after
# AXES_FAILURE_LIMIT failures either is locked for AXES_COOLOFF_HOURS (the page says so, 429).
AUTHENTICATION_BACKENDS = ["axes.backends.AxesStandaloneBackend", "django.contrib.auth.backends.ModelBackend"]
AXES_FAILURE_LIMIT = env.int("AXES_FAILURE_LIMIT", default=5)
AXES_COOLOFF_TIME = env.float("AXES_COOLOFF_HOURS", default=0.25)
AXES_LOCKOUT_PARAMETERS = ["username", "ip_address"]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_TEMPLATE = "registration/locked_out.html"
AXES_VERBOSE = False
# Reverse proxies in front of the web server (their X-Forwarded-For entries are trusted).
TRUSTED_PROXY_COUNT = env.int("TRUSTED_PROXY_COUNT", default=0)
AXES_CLIENT_IP_CALLABLE = "common.addresses.client_address"
LOGOUT_REDIRECT_URL = "login"

# Personal API tokens come first: a request without credentials gets 401 with WWW-Authenticate.
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "surveys.authentication.ApiTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_RENDERER_CLASSES": [
        "rest_framework.renderers.JSONRenderer",
        "rest_framework.renderers.BrowsableAPIRenderer",
    ],
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    # Size, depth and NUL limits on JSON bodies (common/errors.py); forms as DRF's own.
    "DEFAULT_PARSER_CLASSES": ["common.errors.JsonParser", "rest_framework.parsers.FormParser",
                               "rest_framework.parsers.MultiPartParser"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
}
# OpenAPI 3 at /api/schema/, Swagger UI at /api/docs/ from drf-spectacular-sidecar (no CDN).
SPECTACULAR_SETTINGS = {
    "TITLE": "disagreement API",
    "DESCRIPTION": "Studies, answers, disagreement indices, intervention effects and research exports. "
                   "Authenticate with a personal token (Authorization: Bearer <token>) or a browser session.",
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    "SCHEMA_PATH_PREFIX": r"/api/v1",
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "common.api.error_responses_hook",
    ],
}

# --- Internationalisation -------------------------------------------------------------------------
LANGUAGE_CODE = "en"
LANGUAGES = [("en", "English"), ("de", "Deutsch")]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = env.str("DJANGO_TIME_ZONE", default="UTC")
USE_I18N = True
USE_TZ = True

# --- Static files ---------------------------------------------------------------------------------
STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATICFILES_FINDERS = [
    "django.contrib.staticfiles.finders.FileSystemFinder",
    "django.contrib.staticfiles.finders.AppDirectoriesFinder",
    # plotly.js from the installed plotly package (the dashboards' charts; never a CDN).
    "analysis.dashboards.static_finders.PlotlyFinder",
]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "whitenoise.storage.CompressedManifestStaticFilesStorage"
            if PRODUCTION
            else "django.contrib.staticfiles.storage.StaticFilesStorage"
        )
    },
}

# --- E-mail ---------------------------------------------------------------------------------------
EMAIL_CONFIG = env.email_url("EMAIL_URL", default="consolemail://")
vars().update(EMAIL_CONFIG)
# Any other Django backend by its dotted path (e.g. an Anymail provider, which reads ANYMAIL,
# or django.core.mail.backends.filebased.EmailBackend with EMAIL_FILE_PATH); overrides EMAIL_URL.
if env.str("EMAIL_BACKEND", default=""):
    EMAIL_BACKEND = env.str("EMAIL_BACKEND")
EMAIL_FILE_PATH = env.str("EMAIL_FILE_PATH", default=str(BASE_DIR / "sent-mail"))
ANYMAIL = env.json("ANYMAIL", default={})
EMAIL_TIMEOUT = env.int("EMAIL_TIMEOUT", default=30)
# Participant e-mail: messages per batch task, and retries of a failed send after
# MESSAGE_RETRY_SECONDS, doubling, at most MESSAGE_MAX_ATTEMPTS sends in all.
MESSAGE_BATCH_SIZE = env.int("MESSAGE_BATCH_SIZE", default=250)
MESSAGE_MAX_ATTEMPTS = env.int("MESSAGE_MAX_ATTEMPTS", default=5)
MESSAGE_RETRY_SECONDS = env.int("MESSAGE_RETRY_SECONDS", default=300)
# "E-mail me this link" on a participant's first page: at most this many sends per participant.
LINK_EMAILS_PER_PARTICIPANT = env.int("LINK_EMAILS_PER_PARTICIPANT", default=3)
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="disagreement <noreply@localhost>")
SERVER_EMAIL = DEFAULT_FROM_EMAIL

# --- Security (production) ------------------------------------------------------------------------
if PRODUCTION:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_SSL_REDIRECT = env.bool("DJANGO_SECURE_SSL_REDIRECT", default=True)
    SECURE_REDIRECT_EXEMPT = [r"^healthz$"]  # container health checks speak plain HTTP
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_HSTS_SECONDS = env.int("DJANGO_SECURE_HSTS_SECONDS", default=60 * 60 * 24 * 365)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("DJANGO_SECURE_HSTS_INCLUDE_SUBDOMAINS", default=True)
    SECURE_HSTS_PRELOAD = env.bool("DJANGO_SECURE_HSTS_PRELOAD", default=True)
SESSION_COOKIE_HTTPONLY = True
X_FRAME_OPTIONS = "DENY"

# Content-Security-Policy on every response (django-csp): scripts only from this site, no inline
# script and no CDN; Plotly sets inline styles, hence style-src 'unsafe-inline'. No form-action:
# finishing a wave redirects to the study's completion URL (e.g. Prolific), wherever it is.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'", "'unsafe-inline'"],
        "img-src": ["'self'", "data:", "blob:"],
        "font-src": ["'self'", "data:"],
        "connect-src": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'self'"],
        "frame-ancestors": ["'none'"],
    },
}

# --- Logging --------------------------------------------------------------------------------------
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env.str("DJANGO_LOG_LEVEL", default="INFO")},
}

# --- Platform -------------------------------------------------------------------------------------
# Sentiment lexicons of free-text answers per language, beyond English (VADER):
# "de=/srv/SentiWS_v2.0_Positive.txt+/srv/SentiWS_v2.0_Negative.txt;fr=/srv/fr.tsv" (docs/text.md).
TEXT_LEXICONS = env.str("TEXT_LEXICONS", default="")
# The demo researcher account that seed_demo creates (development only; never in production).
DEMO_RESEARCHER_USERNAME = env.str("DEMO_RESEARCHER_USERNAME", default="researcher")
DEMO_RESEARCHER_PASSWORD = env.str("DEMO_RESEARCHER_PASSWORD", default="disagree-demo")
# Base URL used in printed and e-mailed participant links.
SITE_URL = env.str("SITE_URL", default="http://127.0.0.1:8000")
