"""What the engine does to protect shoppers' data: forgetting (``forgetting``)."""
