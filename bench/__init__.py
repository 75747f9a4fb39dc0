"""`make bench`: speed and memory figures of Touchpoint on real servers (reported, not asserted)."""
