"""Settings shared by every environment. Everything that differs between machines is read
from the environment; see README.md for the variables."""

from datetime import timedelta
from pathlib import Path

import environ
from celery.schedules import crontab

BASE_DIR = Path(__file__).resolve().parent.parent.parent
VAR_DIR = BASE_DIR / "var"

env = environ.Env()

SECRET_KEY = env("DJANGO_SECRET_KEY", default="insecure-local-key-change-me")
DEBUG = env.bool("DJANGO_DEBUG", default=False)
ALLOWED_HOSTS = env.list("DJANGO_ALLOWED_HOSTS", default=["localhost", "127.0.0.1"])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "crispy_forms",
    "crispy_bootstrap5",
    "import_export",
    "django_filters",
    "django_htmx",
    "handoff",
    "leads",
    "reps",
    "feedback",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "handoff.middleware.MethodNotAllowedPageMiddleware",
    "handoff.middleware.HtmxLoginRedirectMiddleware",
]
# A form sent with a stale security token (the session ended, or changed in another tab).
CSRF_FAILURE_VIEW = "handoff.views.errors.csrf_failure"

ROOT_URLCONF = "handoff.urls"
WSGI_APPLICATION = "handoff.wsgi.application"

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
                "handoff.context_processors.navigation",
            ],
        },
    },
]

# SQLite on one machine by default; DATABASE_URL points the same code at PostgreSQL.
DATABASES = {"default": env.db("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}")}
DATABASES["default"]["ATOMIC_REQUESTS"] = False
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # Web, worker and beat share one SQLite file; wait for a lock instead of failing at once.
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {"timeout": 20, "init_command": "PRAGMA journal_mode=WAL;", "transaction_mode": "IMMEDIATE"}
    )

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]

LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = BASE_DIR / "staticfiles"

CRISPY_ALLOWED_TEMPLATE_PACKS = "bootstrap5"
CRISPY_TEMPLATE_PACK = "bootstrap5"

EMAIL_BACKEND = env("EMAIL_BACKEND", default="django.core.mail.backends.filebased.EmailBackend")
EMAIL_FILE_PATH = env("EMAIL_FILE_PATH", default=str(VAR_DIR / "mail"))
DEFAULT_FROM_EMAIL = env("DEFAULT_FROM_EMAIL", default="handoff@localhost")
SITE_URL = env("SITE_URL", default="http://127.0.0.1:8000")

# Celery: Redis when REDIS_URL is set, otherwise a broker made of folders on disk so that a
# single machine needs no server at all.
REDIS_URL = env("REDIS_URL", default="")
if REDIS_URL:
    CELERY_BROKER_URL = REDIS_URL
    CELERY_BROKER_TRANSPORT_OPTIONS: dict = {"visibility_timeout": 3600}
else:
    CELERY_BROKER_URL = "filesystem://"
    _broker_dir = VAR_DIR / "broker"
    # The transport expects its folders to exist: a command run straight from manage.py,
    # without `make`, would otherwise fail to queue anything.
    for _folder in ("out", "processed", "control"):
        (_broker_dir / _folder).mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_broker_dir / "out"),
        "data_folder_out": str(_broker_dir / "out"),
        "processed_folder": str(_broker_dir / "processed"),
        "control_folder": str(_broker_dir / "control"),
        "store_processed": False,
    }
CELERY_TASK_IGNORE_RESULT = True
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_SERIALIZER = "json"
CELERY_TIMEZONE = "UTC"
CELERY_ENABLE_UTC = True
# A task is acknowledged only once it has run, so a worker killed mid-task leaves it queued;
# every task is idempotent, which makes the redelivery harmless.
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_TIME_LIMIT = 300
CELERY_TASK_SOFT_TIME_LIMIT = 240
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_BEAT_SCHEDULE_FILENAME = str(VAR_DIR / "celerybeat-schedule")

# How often beat sweeps for handoffs past their deadline. A minute in production; tests that
# run a real beat shorten it.
SLA_SWEEP_SECONDS = env.float("HANDOFF_SLA_SWEEP_SECONDS", default=60.0)
# A handoff handed out for a check is not handed out again for this long: a check lost with
# its worker or its queued message comes due once more when the lease ends. It must outlast
# a check chunk's wait in the queue plus its run; the fault tests shorten it.
SLA_CHECK_LEASE_SECONDS = env.float("HANDOFF_SLA_CHECK_LEASE_SECONDS", default=300.0)
CELERY_BEAT_SCHEDULE = {
    # MQLs that found nobody (all away or full) are offered again as reps free up.
    "assign-waiting-leads": {
        "task": "handoff.assign_waiting_leads",
        "schedule": timedelta(minutes=5),
        "options": {"expires": 300},
    },
    # Decay and rule changes reach every open lead once a night, at a quiet hour.
    "nightly-rescore": {
        "task": "leads.rescore_open_leads",
        "schedule": crontab(hour=2, minute=15),
        "options": {"expires": 3600},
    },
    # RevOps are reminded, once per quarter each, while the quarter's protocol review is due.
    "quarterly-review-reminder": {
        "task": "feedback.remind_quarterly_review",
        "schedule": crontab(hour=7, minute=0),
        "options": {"expires": 3600},
    },
    # Notification deliveries whose retry has come, or whose worker died mid-send, go out again.
    "notification-delivery-sweep": {
        "task": "handoff.sweep_notification_deliveries",
        "schedule": timedelta(minutes=1),
        "options": {"expires": 60},
    },
    "sla-sweep": {
        "task": "handoff.sweep_overdue_handoffs",
        "schedule": timedelta(seconds=SLA_SWEEP_SECONDS),
        "options": {"expires": SLA_SWEEP_SECONDS},
    },
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "verbose": {"format": "%(asctime)s %(levelname)s %(name)s %(process)d %(message)s"},
    },
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "verbose"}},
    "root": {"handlers": ["console"], "level": env("LOG_LEVEL", default="INFO")},
    "loggers": {"django.db.backends": {"level": "WARNING"}},
}
