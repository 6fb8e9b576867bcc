"""One machine, for development and the demo: `make run`."""

from handoff.settings.base import *  # noqa: F403
from handoff.settings.base import env

DEBUG = env.bool("DJANGO_DEBUG", default=True)
