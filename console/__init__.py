"""The operations console: transfer log, failures with what to do, ID map, history and metrics, in a browser."""
