"""Precision marketing over portraits and models: propensity, audiences, uplift, campaigns."""
