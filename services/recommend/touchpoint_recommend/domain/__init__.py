"""The pure core of recommend: config, segmentation, eligibility, policy, ranking (no I/O)."""
