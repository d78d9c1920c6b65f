"""Settings for the drills' worker processes: the local settings a worker runs with, plus what a
drill needs to see inside a worker — nothing here changes what the worker does with a task.

- ``DRILL_QUEUE`` becomes the default queue, so a drill's worker consumes (and publishes
  follow-up tasks to) a queue of its own on a shared broker.
- On Redis, the visibility timeout (how long a message taken but not acknowledged stays
  invisible before the broker hands it out again) is ``DRILL_VISIBILITY_TIMEOUT`` seconds instead
  of an hour, and workers look for such messages every second: the same redelivery production
  gets, an hour sooner.
- On SQLite, ``drill_pause(member_id)`` is an SQL function that a drill's trigger calls: the
  first call in the whole drill (the flag file ``DRILL_PAUSE_FLAG`` does not exist yet) creates
  the flag and sleeps, so the drill can kill the worker while its transaction is half written.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

from django.db.backends.signals import connection_created

from config.settings.local import *  # noqa: F403
from config.settings.local import CELERY_BROKER_URL

CELERY_TASK_DEFAULT_QUEUE = os.environ.get("DRILL_QUEUE", "celery")
if CELERY_BROKER_URL.startswith("redis://"):
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "visibility_timeout": int(os.environ.get("DRILL_VISIBILITY_TIMEOUT", "3600")),
        "unacked_restore_interval": 1,
        "unacked_restore_throttle": 1,
    }


def _drill_pause(member_id: int) -> int:
    flag = os.environ.get("DRILL_PAUSE_FLAG")
    if flag and not Path(flag).exists():
        Path(flag).write_text(f"{os.getpid()} {member_id}\n")
        time.sleep(float(os.environ.get("DRILL_PAUSE_SECONDS", "60")))
    return 0


def _add_pause_function(sender, connection, **kwargs) -> None:
    if connection.vendor == "sqlite":
        connection.connection.create_function("drill_pause", 1, _drill_pause)


connection_created.connect(_add_pause_function)
