# The production image for web, worker and beat (docker-compose.yml runs all three from it).
FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 DJANGO_SETTINGS_MODULE=config.settings.production
# Static files live in the image, not under /app/var: that is a volume, which would keep serving
# the first image's files after an upgrade.
ENV DJANGO_STATIC_ROOT=/app/staticfiles
WORKDIR /app
COPY pyproject.toml README.md ./
COPY config ./config
COPY tenancy ./tenancy
COPY members ./members
COPY outcomes ./outcomes
COPY engagement ./engagement
COPY milestones ./milestones
COPY orchestration ./orchestration
COPY webhooks ./webhooks
COPY ops ./ops
RUN pip install --no-cache-dir .
COPY . .
# Hashed, compressed copies (and their manifest) for whitenoise; tests/ops/test_static.py runs
# the same command with the same environment.
RUN DJANGO_SECRET_KEY=build-only DJANGO_ALLOWED_HOSTS=localhost TANDEM_VAR_DIR=/tmp/build-var \
    python manage.py collectstatic --noinput
RUN useradd --create-home tandem && mkdir -p /app/var && chown tandem /app/var
USER tandem
EXPOSE 8000
CMD ["gunicorn", "config.wsgi:application", "--bind", "0.0.0.0:8000", "--workers", "3"]
