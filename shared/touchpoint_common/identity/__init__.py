"""Identity: normalising, hashing and sealing customer identifiers (the I of IDIC)."""
