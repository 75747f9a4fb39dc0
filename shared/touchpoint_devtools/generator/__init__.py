"""Traffic generator: realistic mixed touchpoints posted to the ingest API."""
