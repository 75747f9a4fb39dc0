"""Logging, metrics and health endpoints common to every service."""
