"""Who the decision is about: the live view from the profile's public read API."""
