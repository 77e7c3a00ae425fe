"""`python -m precis_measurement`: run the measurement service until SIGTERM."""

from __future__ import annotations

from precis_measurement.app import build, start
from precis_measurement.settings import MeasurementSettings


def main() -> None:
    app = start(build(MeasurementSettings()))
    app.server.install_signal_handlers(grace=10.0)
    app.server.wait()
    app.stop_workers()
    app.database.dispose()
    app.telemetry.shutdown()


if __name__ == "__main__":
    main()
