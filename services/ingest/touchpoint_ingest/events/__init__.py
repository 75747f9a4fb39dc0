"""Events: validation, identity resolution, idempotency and producing to Kafka."""
