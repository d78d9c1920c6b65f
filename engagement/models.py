"""Models of the engagement app (the domain issue fills this in)."""
