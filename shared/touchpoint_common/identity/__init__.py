"""Identity (the I of IDIC): `pii` (normalise, key, seal), `store` (the only writer of the
identity tables), `lookup` (the read API for other packages), `merges` (following merges)."""
