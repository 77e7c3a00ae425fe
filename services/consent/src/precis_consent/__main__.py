"""`python -m precis_consent`: run the consent service until SIGTERM."""

from __future__ import annotations

from precis_consent.app import build, start
from precis_consent.settings import ConsentSettings


def main() -> None:
    app = start(build(ConsentSettings()))
    app.server.install_signal_handlers(grace=10.0)
    app.server.wait()
    app.database.dispose()
    app.telemetry.shutdown()


if __name__ == "__main__":
    main()
