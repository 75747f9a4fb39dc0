"""The live feed: a customer's new interactions as server-sent events, read from the topic."""
