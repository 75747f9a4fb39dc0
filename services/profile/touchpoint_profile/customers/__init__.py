"""The profile's customer API: models, service functions and router (masked identifiers shown)."""
