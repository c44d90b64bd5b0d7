"""Settings shared by every environment; each value comes from the environment here.

With no variables set the project runs on an embedded default: SQLite, a
filesystem Celery broker and the database cache. DATABASE_URL and REDIS_URL switch
to PostgreSQL and Redis.
"""

from __future__ import annotations

from pathlib import Path

import dj_database_url
from kombu import Queue

from config.env import BASE_DIR, env_bool, env_float, env_int, env_list, env_str

DEBUG = env_bool("DEBUG", False)
SECRET_KEY = env_str("SECRET_KEY")
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["127.0.0.1", "localhost"])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])

# Where the embedded default keeps its files (SQLite database, broker queue, scratch).
VAR_DIR = Path(env_str("VAR_DIR", str(BASE_DIR / "var")))

INSTALLED_APPS = [
    "accounts.apps.AuthoringAdminConfig",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "accounts",
    "assessments",
    "grading",
]

MIDDLEWARE = [
    # First: every answer under /api/ and /greenhouse/, an error outside a view included, is JSON.
    "assessments.hr.api.middleware.JsonErrorsMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    # Before CSRF, the first to read a form: an oversized or overfull candidate post is
    # answered in the candidate pages' words, not Django's bare 400 page.
    "assessments.taking.middleware.CandidateBodyLimitsMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "accounts.middleware.ActiveOrganizationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"

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
                "accounts.context_processors.active_organization",
            ],
        },
    },
]

DATABASE_URL = env_str("DATABASE_URL", f"sqlite:///{VAR_DIR / 'db.sqlite3'}")
DATABASES = {
    "default": dj_database_url.parse(DATABASE_URL, conn_max_age=env_int("DB_CONN_MAX_AGE", 60))
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    VAR_DIR.mkdir(exist_ok=True)
    # Web server and worker share the file: wait for locks instead of failing at once.
    DATABASES["default"]["OPTIONS"] = {"timeout": 20, "transaction_mode": "IMMEDIATE"}
    DATABASES["default"]["CONN_MAX_AGE"] = 0

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
AUTH_USER_MODEL = "accounts.User"
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "/accounts/login/"
LOGIN_REDIRECT_URL = "/admin/"

REDIS_URL = env_str("REDIS_URL")
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
        }
    }
else:
    # Shared by the web server and the worker processes, unlike the local-memory cache.
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.db.DatabaseCache",
            "LOCATION": "cache_entries",
        }
    }

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
# collectstatic writes here in production (see production.py); dev and tests serve from finders.
STATIC_ROOT = None
WHITENOISE_USE_FINDERS = True
STATICFILES_DIRS = [BASE_DIR / "static"]

EMAIL_BACKEND = env_str("EMAIL_BACKEND", "django.core.mail.backends.console.EmailBackend")
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "ML Assess <no-reply@localhost>")
# Absolute links in emails (invitations) point here.
SITE_URL = env_str("SITE_URL", "http://127.0.0.1:8000").rstrip("/")
# Seals the organizations' badge signing keys at rest; empty: a key derived from SECRET_KEY
# (docs/badges.md). Setting it later is safe: keys sealed before still open.
BADGE_SIGNING_SECRET = env_str("BADGE_SIGNING_SECRET")

# --- Celery -------------------------------------------------------------------------------
# Two queues: "grading" runs sandboxed work and scales on its own; "default" carries email,
# webhooks and housekeeping.
CELERY_BROKER_URL = env_str("CELERY_BROKER_URL", REDIS_URL or "filesystem://")
if CELERY_BROKER_URL == "filesystem://":
    _BROKER_DIR = VAR_DIR / "broker"
    for _folder in ("queue", "control", "processed"):
        (_BROKER_DIR / _folder).mkdir(parents=True, exist_ok=True)
    # kombu's own transport lets a worker take a message before it is written (config/broker.py).
    CELERY_BROKER_TRANSPORT = "config.broker:WholeMessageTransport"
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_BROKER_DIR / "queue"),
        "data_folder_out": str(_BROKER_DIR / "queue"),
        "control_folder": str(_BROKER_DIR / "control"),
        "processed_folder": str(_BROKER_DIR / "processed"),
        "store_processed": False,
    }
else:
    # Redelivered after this long if a worker took a message and died without acking.
    CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": env_int("CELERY_VISIBILITY", 300)}
CELERY_TASK_DEFAULT_QUEUE = "default"
CELERY_TASK_QUEUES = (
    Queue("default", routing_key="default"),
    Queue("grading", routing_key="grading"),
)
CELERY_TASK_DEFAULT_ROUTING_KEY = "default"
# Each task names its queue in its decorator (grading work: "grading"; the rest: "default").
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = env_int("CELERY_PREFETCH_MULTIPLIER", 1)
# Celery's Django fix-up closes the database connection around every task unless told to
# reuse it; reconnecting to PostgreSQL cost more than a whole sandboxed job.
CELERY_DB_REUSE_MAX = env_int("CELERY_DB_REUSE_MAX", 1000)
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_RESULT_BACKEND = None
CELERY_TASK_IGNORE_RESULT = True
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# A worker writes a heartbeat to the cache this often; /healthz calls a queue's workers
# unreachable once no heartbeat is younger than WORKER_HEARTBEAT_STALE_SECONDS.
WORKER_HEARTBEAT_SECONDS = env_int("WORKER_HEARTBEAT_SECONDS", 5)
WORKER_HEARTBEAT_STALE_SECONDS = env_int("WORKER_HEARTBEAT_STALE_SECONDS", 30)

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["assessments.hr.api.parsers.BoundedJSONParser"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "assessments.hr.api.errors.exception_handler",
    "UNAUTHENTICATED_USER": None,
}
# Requests per API key ("N/second", "N/minute", "N/hour"); over it: 429 with Retry-After.
API_RATE_LIMIT = env_str("API_RATE_LIMIT", "1200/minute")
# Failed authentications (no, malformed, unknown or revoked key) per client address; over it,
# the address gets 429 on /api/ and /greenhouse/ until the window ends.
API_AUTH_FAILURE_LIMIT = env_str("API_AUTH_FAILURE_LIMIT", "60/minute")
SPECTACULAR_SETTINGS = {
    "TITLE": "ML Assess API",
    "DESCRIPTION": (
        "Invite candidates to timed machine-learning assessments and fetch their results. "
        "Authenticate with an organization's API key: `Authorization: Bearer mla_...`. "
        'Every error has the same JSON shape: `{"error": {"status", "code", '
        '"message", "fields"}}`.'
    ),
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SCHEMA_PATH_PREFIX": r"/api/v1",
    "COMPONENT_SPLIT_REQUEST": True,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    # An assessment's status and an invitation's are both "status": name them apart.
    "ENUM_NAME_OVERRIDES": {
        "AssessmentStatusEnum": "assessments.hr.api.serializers.ASSESSMENT_STATUSES",
        "InvitationStatusEnum": "assessments.invitations.models.Invitation.Status",
    },
}

# The grading sandbox server listens here (unix socket shared with the workers only).
SANDBOX_SOCKET = env_str("SANDBOX_SOCKET", str(VAR_DIR / "sandbox.sock"))
SANDBOX_TIMEOUT_SECONDS = env_int("SANDBOX_TIMEOUT_SECONDS", 60)
# A grading job still unfinished this long after it was requested is sent again.
GRADING_JOB_STUCK_SECONDS = env_int("GRADING_JOB_STUCK_SECONDS", 120)
# A job is run at most this many times (retries after our failures included), and given up
# this long after it was requested; either way it ends failed and the candidate keeps the
# attempt.
GRADING_JOB_MAX_DELIVERIES = env_int("GRADING_JOB_MAX_DELIVERIES", 10)
GRADING_JOB_GIVE_UP_SECONDS = env_int("GRADING_JOB_GIVE_UP_SECONDS", 3600)
CELERY_BEAT_SCHEDULE = {
    "sweep-stuck-grading-jobs": {
        "task": "grading.tasks.sweep_stuck_jobs",
        "schedule": env_int("GRADING_SWEEP_SECONDS", 30),
    },
    "sweep-candidate-sessions": {
        "task": "assessments.tasks.sweep_sessions",
        "schedule": env_int("SESSION_SWEEP_SECONDS", 30),
    },
    "sweep-webhook-deliveries": {
        "task": "assessments.tasks.sweep_webhook_deliveries",
        "schedule": env_int("WEBHOOK_SWEEP_SECONDS", 30),
    },
    "sweep-greenhouse-callbacks": {
        "task": "assessments.tasks.sweep_greenhouse_callbacks",
        "schedule": env_int("WEBHOOK_SWEEP_SECONDS", 30),
    },
}

# Colleague invitations into an organization expire after this many days.
MEMBER_INVITATION_DAYS = env_int("MEMBER_INVITATION_DAYS", 7)
# Candidate invitations: how long a link can be used to start, unless the inviter says.
CANDIDATE_INVITATION_DAYS = env_int("CANDIDATE_INVITATION_DAYS", 14)
# An answer is accepted up to this many seconds after its deadline, for network delay
# between the candidate's Submit and the server (docs/candidates.md).
ANSWER_GRACE_SECONDS = env_int("ANSWER_GRACE_SECONDS", 2)
# Variants drawn and run per variable question before it can be published (issue 14).
VARIANT_PUBLISH_SAMPLE_SIZE = env_int("VARIANT_PUBLISH_SAMPLE_SIZE", 25)
# A started session ends this long after its start even if questions were never opened
# (a candidate who left between two questions).
SESSION_MAX_SECONDS = env_int("SESSION_MAX_SECONDS", 24 * 3600)
# A candidate report's share link (signed, nothing stored) works for this many days.
REPORT_LINK_DAYS = env_int("REPORT_LINK_DAYS", 14)

# --- Webhooks (docs/webhooks.md) ----------------------------------------------------------
# Subscribers' URLs that resolve to private, loopback or link-local addresses are refused,
# when subscribing and again at every delivery, unless this is on (a local receiver).
WEBHOOK_ALLOW_PRIVATE_TARGETS = env_bool("WEBHOOK_ALLOW_PRIVATE_TARGETS", False)
WEBHOOK_TIMEOUT_SECONDS = env_float("WEBHOOK_TIMEOUT_SECONDS", 10)
# Connecting may take at most this long (a host that drops packets fails fast).
WEBHOOK_CONNECT_TIMEOUT_SECONDS = env_float("WEBHOOK_CONNECT_TIMEOUT_SECONDS", 3)
# Attempts run on this many threads per worker process, at most this many at once per
# endpoint: a slow or failing endpoint holds its own slots, never another endpoint's.
WEBHOOK_DELIVERY_THREADS = env_int("WEBHOOK_DELIVERY_THREADS", 64)
WEBHOOK_ENDPOINT_CONCURRENCY = env_int("WEBHOOK_ENDPOINT_CONCURRENCY", 1)
# At most this much of an answer is read (and 1000 characters of it kept in the log).
WEBHOOK_RESPONSE_MAX_BYTES = env_int("WEBHOOK_RESPONSE_MAX_BYTES", 4096)
# Retries: base x factor^(n-1) seconds after the n-th failure, capped, +/- jitter; with the
# defaults 5 s, 20 s, 80 s, 5 min, 21 min, 85 min, 5.7 h, 22.8 h, 24 h, 24 h: eleven
# attempts over about 3.3 days. A Retry-After longer than that is honoured (up to a day).
WEBHOOK_MAX_ATTEMPTS = env_int("WEBHOOK_MAX_ATTEMPTS", 11)
WEBHOOK_RETRY_BASE_SECONDS = env_float("WEBHOOK_RETRY_BASE_SECONDS", 5)
WEBHOOK_RETRY_FACTOR = env_float("WEBHOOK_RETRY_FACTOR", 4)
WEBHOOK_RETRY_MAX_SECONDS = env_float("WEBHOOK_RETRY_MAX_SECONDS", 24 * 3600)
WEBHOOK_RETRY_JITTER = env_float("WEBHOOK_RETRY_JITTER", 0.2)
WEBHOOK_RETRY_AFTER_MAX_SECONDS = env_float("WEBHOOK_RETRY_AFTER_MAX_SECONDS", 24 * 3600)
# A retry this soon rides the broker as a countdown; a later one is sent by the sweeper
# (a message held that long by a worker would outlive the broker's visibility timeout).
WEBHOOK_COUNTDOWN_MAX_SECONDS = env_float("WEBHOOK_COUNTDOWN_MAX_SECONDS", 60)
# The sweeper re-sends a due delivery whose message should have run this long ago.
WEBHOOK_LOST_AFTER_SECONDS = env_int("WEBHOOK_LOST_AFTER_SECONDS", 60)
# An endpoint is disabled after this many failed attempts in a row spanning this long.
WEBHOOK_DISABLE_AFTER_FAILURES = env_int("WEBHOOK_DISABLE_AFTER_FAILURES", 10)
WEBHOOK_DISABLE_AFTER_SECONDS = env_int("WEBHOOK_DISABLE_AFTER_SECONDS", 2 * 24 * 3600)

# --- Greenhouse (docs/greenhouse.md) -------------------------------------------------------
# The completion PATCH carries the organization's API key, so it goes only to these hosts
# (and their subdomains), over https; the webhook settings above set its timeout, retries and
# SSRF rule (WEBHOOK_ALLOW_PRIVATE_TARGETS also lets it use http, for a local receiver).
GREENHOUSE_CALLBACK_HOSTS = env_list("GREENHOUSE_CALLBACK_HOSTS", ["greenhouse.io"])

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
}
