"""Experiments: A/B tests, interleaving, their statistics (and, beside them, off-policy evaluation and RL)."""
