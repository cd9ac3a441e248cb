"""What the engine does to protect shoppers' data: forgetting (``forgetting``), the data key's
rotation (``rotation``; the encryption itself is the store's, ``store.fields``), pseudonyms in
logs and exports (``pseudonyms``), raw-event retention (``retention``)."""
