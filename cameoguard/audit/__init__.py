"""The append-only, hash-chained audit log that every decision and admin action writes to."""
