"""`make chaos`: faults under load, then every customer's view checked against the client."""
