"""gunicorn settings, read from the environment: `gunicorn -c config/gunicorn.py config.wsgi`.

The defaults are what `make bench-load` measured best on a 2-core machine that also runs
PostgreSQL, Redis and the workers (README, "Figures"): a few sync workers, no access log.
"""

from config.env import env_int, env_str

bind = env_str("GUNICORN_BIND", "127.0.0.1:8000")
worker_class = env_str("GUNICORN_WORKER_CLASS", "sync")
workers = env_int("GUNICORN_WORKERS", 4)
# Used by the gthread worker only: requests one worker process serves at once.
threads = env_int("GUNICORN_THREADS", 1)
# Connections waiting for a worker; a burst of candidates queues here instead of failing.
backlog = env_int("GUNICORN_BACKLOG", 2048)
keepalive = env_int("GUNICORN_KEEPALIVE", 5)
timeout = env_int("GUNICORN_TIMEOUT", 30)
accesslog = env_str("GUNICORN_ACCESS_LOG") or None
errorlog = "-"
loglevel = env_str("GUNICORN_LOG_LEVEL", "warning")
