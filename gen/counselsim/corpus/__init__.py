"""A corpus on disk: storage, shards, manifest, dataset card, and the finalize step that writes them."""
