"""Shopper portraits and segmentation (see ``service``, ``portrait`` and ``segments``)."""

from shelfwise.profiles.service import NoConsent, Portraits, features_from_events

__all__ = ["NoConsent", "Portraits", "features_from_events"]
