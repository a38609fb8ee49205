"""Near-real-time collection: follow /new and /comments, land micro-batches, record gaps."""
