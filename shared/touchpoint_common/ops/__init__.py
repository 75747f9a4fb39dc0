"""Operations: consumer lag (pure figures, broker collector, metrics, JSON, CLI)."""
