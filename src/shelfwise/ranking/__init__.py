"""The ranking pipeline: candidates, exclusion, business rules, diversity, exploration.

Each module works on dense item / user indices (``shelfwise.data.interactions``) and is
batch-first where the work allows it.
"""
