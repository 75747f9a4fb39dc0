"""Kafka plumbing in one place: configuration, producer, consumer, admin."""
