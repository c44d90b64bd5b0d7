# Two images from one file:
#   app     - Django web server and Celery workers (Python 3.12, no torch)
#   sandbox - the grading sandbox (Python 3.11 + CPU torch 2.13.0; no Django, no secrets)

FROM python:3.12-slim-bookworm AS app
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /app
RUN useradd --system --uid 10001 --home /app app
COPY pyproject.toml README.md ./
COPY config ./config
COPY accounts ./accounts
COPY assessments ./assessments
COPY grading ./grading
COPY templates ./templates
COPY static ./static
COPY manage.py ./
RUN pip install --no-cache-dir . gunicorn \
 && DJANGO_SETTINGS_MODULE=config.settings.production SECRET_KEY=collectstatic \
    DATABASE_URL=postgres://build@localhost/build python manage.py collectstatic --noinput
USER app
EXPOSE 8000

FROM debian:bookworm-slim AS sandbox
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_DISABLE_PIP_VERSION_CHECK=1
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3.11 python3.11-venv \
 && rm -rf /var/lib/apt/lists/*
RUN python3.11 -m venv /opt/sandbox \
 && /opt/sandbox/bin/pip install --no-cache-dir --index-url https://download.pytorch.org/whl/cpu \
      torch==2.13.0 \
 && /opt/sandbox/bin/pip install --no-cache-dir numpy==2.4.6
WORKDIR /srv
# Only the sandbox package: the server imports neither Django nor any app.
COPY grading/__init__.py ./grading/__init__.py
COPY grading/sandbox ./grading/sandbox
ENTRYPOINT ["/opt/sandbox/bin/python", "-m", "grading.sandbox.server"]
