"""The fold consumer: interactions topic → profile projection, exactly once, in batches."""
