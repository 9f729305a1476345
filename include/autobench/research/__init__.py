"""The research phase."""
