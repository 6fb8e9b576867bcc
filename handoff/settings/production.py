"""Production: a real secret, PostgreSQL and Redis are expected from the environment."""

from handoff.settings.base import *  # noqa: F403
from handoff.settings.base import env

SECRET_KEY = env("DJANGO_SECRET_KEY")
DEBUG = False
SESSION_COOKIE_SECURE = env.bool("DJANGO_SECURE_COOKIES", default=True)
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
