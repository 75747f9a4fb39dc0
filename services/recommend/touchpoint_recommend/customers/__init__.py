"""Who the decision is about: identity resolution and the live view from the profile."""
