"""Persistence of recommend: a small interface and its PostgreSQL adapter."""
