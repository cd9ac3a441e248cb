"""One router per resource, joined in ``shelfwise.api.app``."""
