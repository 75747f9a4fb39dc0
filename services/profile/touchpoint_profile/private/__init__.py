"""The private customer read: unmasked identifiers and the sealed texts, opened and audited."""
