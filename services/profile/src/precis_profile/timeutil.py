"""Times as the profile service stores and compares them (shared with the other services)."""

from precis_common.timeutil import aware, iso

__all__ = ["aware", "iso"]
