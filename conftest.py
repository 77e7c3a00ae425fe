"""Shared pytest fixtures live in libs/common (precis_common.testing) so every suite uses them."""

pytest_plugins = ["precis_common.testing"]
