"""Registry comparison and the checks before enabling: features that only read both systems."""
