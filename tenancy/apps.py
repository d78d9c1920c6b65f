from django.apps import AppConfig
from django.db.models.signals import post_migrate


class TenancyConfig(AppConfig):
    name = "tenancy"
    verbose_name = "Tenancy"

    def ready(self) -> None:
        from tenancy.join_constraints import create_join_constraints

        # Once per migrate (sender: this app), after every app's migrations have run; the
        # receiver adds the composite (organization_id, …) keys PostgreSQL lacks.
        post_migrate.connect(
            create_join_constraints, sender=self, dispatch_uid="tenancy.join_constraints"
        )
