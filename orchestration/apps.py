from django.apps import AppConfig


class OrchestrationConfig(AppConfig):
    name = "orchestration"

    def ready(self) -> None:
        from orchestration import coverage

        coverage.connect_signals()
