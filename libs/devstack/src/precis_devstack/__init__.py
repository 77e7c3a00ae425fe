"""Runs the Precis suite on one machine (SQLite, no other infrastructure) and its CDNOW demo."""

from precis_devstack.cdnow import Transaction, load_cdnow
from precis_devstack.suite import (
    DevstackError,
    ManagedProcess,
    PortInUseError,
    StartupError,
    Suite,
    start_suite,
    stop_suite,
    suite_status,
)

__all__ = [
    "DevstackError",
    "ManagedProcess",
    "PortInUseError",
    "StartupError",
    "Suite",
    "Transaction",
    "load_cdnow",
    "start_suite",
    "stop_suite",
    "suite_status",
]
