"""The learner: offer responses on Kafka folded into posteriors and contact history."""
