"""What every service process opens first: telemetry, its migrated database, the PII hasher."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from opentelemetry.sdk.trace import TracerProvider

from precis_common.db import Database, upgrade_database
from precis_common.identifiers import PiiHasher
from precis_common.settings import CommonSettings
from precis_common.telemetry import Telemetry, configure_telemetry


@dataclass
class ServiceRuntime:
    telemetry: Telemetry
    database: Database
    hasher: PiiHasher

    def close(self) -> None:
        self.database.dispose()
        self.telemetry.shutdown()


def open_runtime(
    service_name: str,
    settings: CommonSettings,
    *,
    database_url: str,
    migrations: Path,
    tracer_provider: TracerProvider | None = None,
    configure_logs: bool = True,
) -> ServiceRuntime:
    telemetry = configure_telemetry(
        service_name, settings, tracer_provider=tracer_provider, configure_logs=configure_logs
    )
    database = Database(database_url)
    upgrade_database(database, migrations)
    for engine in database.engines:
        telemetry.instrument_engine(engine)
    hasher = PiiHasher(
        settings.pii_secret.get_secret_value(), default_phone_region=settings.default_phone_region
    )
    return ServiceRuntime(telemetry, database, hasher)
