"""`python -m precis_profile`: run the profile service (and its events consumer) until SIGTERM."""

from __future__ import annotations

from precis_profile.app import build, start
from precis_profile.settings import ProfileSettings


def main() -> None:
    app = start(build(ProfileSettings()))
    app.server.install_signal_handlers(on_stop=app.consumer.stop, grace=10.0)
    app.server.wait()
    app.database.dispose()
    app.telemetry.shutdown()


if __name__ == "__main__":
    main()
