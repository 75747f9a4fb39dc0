"""The base-wide ranking job: cut points, ABC thresholds and CLV fit over `customer_value`."""
