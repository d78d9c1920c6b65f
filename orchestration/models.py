"""Models of the orchestration app (the domain issue fills this in)."""
