"""Who to contact today and why: at-risk A customers first, from customer_value and the ranking."""
