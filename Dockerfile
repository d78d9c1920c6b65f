# The production image for web, worker and beat (docker-compose.yml runs all three from it).
FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 DJANGO_SETTINGS_MODULE=config.settings.production
WORKDIR /app
COPY pyproject.toml README.md ./
COPY config ./config
COPY tenancy ./tenancy
COPY members ./members
COPY outcomes ./outcomes
COPY engagement ./engagement
COPY milestones ./milestones
COPY orchestration ./orchestration
RUN pip install --no-cache-dir .
COPY . .
RUN DJANGO_SECRET_KEY=build-only DJANGO_ALLOWED_HOSTS=localhost python manage.py collectstatic --noinput
RUN useradd --create-home tandem && mkdir -p /app/var && chown tandem /app/var
USER tandem
EXPOSE 8000
CMD ["gunicorn", "config.wsgi:application", "--bind", "0.0.0.0:8000", "--workers", "3"]
