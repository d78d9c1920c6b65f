"""Models of the outcomes app (the domain issue fills this in)."""
