"""Test settings: real PostgreSQL and Redis, as production runs."""

import dj_database_url

from config.env import env_bool, env_float, env_int, env_list, env_str

from .base import *  # noqa: F403
from .base import CELERY_BEAT_SCHEDULE, CELERY_BROKER_TRANSPORT_OPTIONS

SECRET_KEY = "test-secret-key-not-for-production"  # noqa: S105
DATABASE_URL = env_str("TEST_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/ml_assess")
DATABASES = {"default": dj_database_url.parse(DATABASE_URL)}
REDIS_URL = env_str("TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
CACHES = {
    "default": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": REDIS_URL,
        "KEY_PREFIX": "test",
    }
}
# The lost-job tests give a worker a broker of its own, which they stop and restart.
CELERY_BROKER_URL = env_str("TEST_BROKER_URL", REDIS_URL)
# base.py chose its broker before this file named Redis: none of the embedded default's.
CELERY_BROKER_TRANSPORT = None
CELERY_BROKER_TRANSPORT_OPTIONS = {**CELERY_BROKER_TRANSPORT_OPTIONS, "visibility_timeout": 30}
GRADING_JOB_STUCK_SECONDS = env_int("GRADING_JOB_STUCK_SECONDS", 120)
CELERY_BEAT_SCHEDULE["sweep-stuck-grading-jobs"]["schedule"] = env_int("GRADING_SWEEP_SECONDS", 30)
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
# A worker process started by the tests writes emails to files the tests can read.
EMAIL_BACKEND = env_str("EMAIL_BACKEND", "django.core.mail.backends.locmem.EmailBackend")
EMAIL_FILE_PATH = env_str("EMAIL_FILE_PATH", "")
WORKER_HEARTBEAT_SECONDS = 1
# Webhook tests run a receiver on 127.0.0.1, and retry in fractions of a second.
WEBHOOK_ALLOW_PRIVATE_TARGETS = env_bool("WEBHOOK_ALLOW_PRIVATE_TARGETS", True)
WEBHOOK_TIMEOUT_SECONDS = env_float("WEBHOOK_TIMEOUT_SECONDS", 3)
WEBHOOK_MAX_ATTEMPTS = env_int("WEBHOOK_MAX_ATTEMPTS", 4)
WEBHOOK_RETRY_BASE_SECONDS = env_float("WEBHOOK_RETRY_BASE_SECONDS", 0.2)
WEBHOOK_RETRY_FACTOR = env_float("WEBHOOK_RETRY_FACTOR", 2)
WEBHOOK_RETRY_MAX_SECONDS = env_float("WEBHOOK_RETRY_MAX_SECONDS", 2)
WEBHOOK_RETRY_AFTER_MAX_SECONDS = env_float("WEBHOOK_RETRY_AFTER_MAX_SECONDS", 10)
WEBHOOK_LOST_AFTER_SECONDS = env_int("WEBHOOK_LOST_AFTER_SECONDS", 2)
WEBHOOK_DISABLE_AFTER_FAILURES = env_int("WEBHOOK_DISABLE_AFTER_FAILURES", 6)
WEBHOOK_DISABLE_AFTER_SECONDS = env_int("WEBHOOK_DISABLE_AFTER_SECONDS", 0)
# Greenhouse tests receive the completion PATCH on 127.0.0.1.
GREENHOUSE_CALLBACK_HOSTS = env_list("GREENHOUSE_CALLBACK_HOSTS", ["greenhouse.io", "127.0.0.1"])
# Tests make many unauthenticated requests from 127.0.0.1; the limit's own test lowers it.
API_AUTH_FAILURE_LIMIT = env_str("API_AUTH_FAILURE_LIMIT", "1000000/minute")
