"""`python -m precis_recommendation`: run the recommendation service until SIGTERM."""

from __future__ import annotations

from precis_recommendation.app import build, start
from precis_recommendation.settings import RecommendationSettings


def main() -> None:
    app = start(build(RecommendationSettings()))
    app.server.install_signal_handlers(grace=10.0)
    app.server.wait()
    app.stop_workers()
    app.database.dispose()
    app.telemetry.shutdown()


if __name__ == "__main__":
    main()
