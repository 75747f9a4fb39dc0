"""Persistence of the profile projection: a small interface and its PostgreSQL adapter."""
