"""Evaluation: full-ranking accuracy metrics, beyond-accuracy metrics, cost, reports."""
