"""Models of the members app (the domain issue fills this in)."""
