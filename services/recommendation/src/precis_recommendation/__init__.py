"""Recommendation: interactions -> implicit-feedback models -> top-N, with offline metrics."""
