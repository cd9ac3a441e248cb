"""shelfwise: a self-hosted personalised recommendation engine for online shops."""

__version__ = "0.1.0"
