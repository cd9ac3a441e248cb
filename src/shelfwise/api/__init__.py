"""The HTTP service (the ``serve`` extra): FastAPI routers over the Engine.

``create_app(settings)`` builds the app; ``shelfwise serve`` runs it under uvicorn. Importing
this package needs no extra: ``keys`` uses only SQLAlchemy, so the CLI can manage keys on a
core install.
"""
