"""Touchpoint package."""
