"""The Celery application: configured from Django settings (``CELERY_*``), tasks autodiscovered."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")

app = Celery("tandem")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@app.task(name="tandem.ping", max_retries=0)
def ping() -> str:
    """Answer "pong": lets a test (and an operator) prove a worker consumes the broker."""
    return "pong"
