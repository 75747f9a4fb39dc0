"""Access control: scoped API keys (stored hashed), the request dependency, rate limits, audit."""
