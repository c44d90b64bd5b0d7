"""Development settings: `make run` uses these."""

from config.env import env_bool, env_str

from .base import *  # noqa: F403

DEBUG = env_bool("DEBUG", True)
# A fixed development key, never used in production (production.py requires SECRET_KEY).
SECRET_KEY = env_str("SECRET_KEY", "insecure-development-key-do-not-use-in-production")
# `make run` prints invitation emails to the console; a test of the embedded default
# sends them to files instead.
EMAIL_BACKEND = env_str("EMAIL_BACKEND", "django.core.mail.backends.console.EmailBackend")
EMAIL_FILE_PATH = env_str("EMAIL_FILE_PATH", "")
