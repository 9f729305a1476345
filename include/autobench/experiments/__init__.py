"""The experiments phase."""
