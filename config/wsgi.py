"""WSGI entry point for gunicorn."""

import os

from django.core.wsgi import get_wsgi_application

from config.env import env_bool

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")

application = get_wsgi_application()

if env_bool("SERVER_TIMING_CPU", False):
    # Benchmarks only (`make bench-load`): each response says the CPU it cost.
    from config.cpu_timing import cpu_timed

    application = cpu_timed(application)
