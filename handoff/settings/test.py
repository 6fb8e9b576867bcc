"""Settings for pytest. The database and broker still come from DATABASE_URL and REDIS_URL,
so CI runs the same tests against PostgreSQL and Redis."""

from handoff.settings.base import *  # noqa: F403

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
# Tasks run inline in unit tests; the end-to-end tests start real workers instead.
CELERY_TASK_ALWAYS_EAGER = True
CELERY_TASK_EAGER_PROPAGATES = True
