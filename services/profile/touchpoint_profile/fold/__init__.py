"""Pure domain of the profile: bounded state, the fold, and its evaluation at a `now`."""
