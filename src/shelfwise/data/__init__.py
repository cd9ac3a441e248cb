"""Data layer: schemas, the Interactions training view, loaders, preprocessing, splits."""
