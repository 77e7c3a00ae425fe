"""Precis."""
