"""Shopper portraits and segmentation (see ``service``, ``portrait`` and ``segments``)."""

from shelfwise.profiles.service import NoConsent, Portraits

__all__ = ["NoConsent", "Portraits"]
