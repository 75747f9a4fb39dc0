"""Next-offer decisions: the IDMR response at the till, on the phone, on the web."""
