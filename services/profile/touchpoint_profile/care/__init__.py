"""Customer care figures of the profile service: the overdue-complaints gauge."""
