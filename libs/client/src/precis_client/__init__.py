"""Python SDK for the Precis REST gateway: send events, read unified customer profiles."""

from precis_client.client import PrecisClient
from precis_client.errors import ErrorDetail, PrecisError
from precis_client.models import (
    BatchEvent,
    BatchItemResult,
    BatchResult,
    HealthStatus,
    Identifier,
    IdentifyEvent,
    IngestResult,
    Profile,
    ProfilePage,
    TrackEvent,
    format_timestamp,
)

__all__ = [
    "BatchEvent",
    "BatchItemResult",
    "BatchResult",
    "ErrorDetail",
    "HealthStatus",
    "Identifier",
    "IdentifyEvent",
    "IngestResult",
    "PrecisClient",
    "PrecisError",
    "Profile",
    "ProfilePage",
    "TrackEvent",
    "format_timestamp",
]
