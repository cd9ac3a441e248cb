"""Serving-side state: model versions (``versions``); the real-time online state joins it."""
