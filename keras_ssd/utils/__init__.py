"""Small helpers that several rooms share: atomic file writes, output-path checks, XLA detection."""
