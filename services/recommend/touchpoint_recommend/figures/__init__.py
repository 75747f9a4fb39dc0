"""Offer figures managers read: acceptance by offer, segment and channel, lift over holdout."""
