"""Experiments and learning from feedback: A/B tests, interleaving, off-policy evaluation, RL."""
