"""Rebuild the projection by replaying the topic from a point in time into a fresh table."""
