from django.apps import AppConfig
from django.db.models.signals import post_migrate


class OutcomesConfig(AppConfig):
    name = "outcomes"

    def ready(self) -> None:
        from outcomes import signals
        from outcomes.partitions import make_snapshot_weeks
        from outcomes.snapshot_keys import create_snapshot_keys

        signals.connect()
        # After every migrate: SQLite loses a table's triggers when a migration rebuilds it.
        post_migrate.connect(create_snapshot_keys, sender=self, dispatch_uid="outcomes.keys")
        post_migrate.connect(
            make_snapshot_weeks, sender=self, dispatch_uid="outcomes.snapshot_weeks"
        )
