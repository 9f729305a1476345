"""The reporting phase."""
