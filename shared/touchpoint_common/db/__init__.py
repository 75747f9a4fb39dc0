"""Database plumbing: async engine and sessions, tables, migrations."""
