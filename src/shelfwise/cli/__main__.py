"""``python -m shelfwise.cli``: the ``shelfwise`` command (background training runs and
tests start it this way)."""

from shelfwise.cli.main import main

main()
