"""`make bench`: speed and memory figures, printed as tables (see bench/__main__.py)."""
