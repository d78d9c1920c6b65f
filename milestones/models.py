"""Models of the milestones app (the domain issue fills this in)."""
