"""`python -m precis_ingestion`: run the ingestion service until SIGTERM."""

from __future__ import annotations

from precis_ingestion.app import build, start
from precis_ingestion.settings import IngestionSettings


def main() -> None:
    app = start(build(IngestionSettings()))
    app.server.install_signal_handlers(grace=10.0)
    app.server.wait()
    app.database.dispose()
    app.telemetry.shutdown()


if __name__ == "__main__":
    main()
