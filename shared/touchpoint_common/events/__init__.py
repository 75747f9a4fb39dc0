"""The event contract: what clients post, and what is written to Kafka."""
