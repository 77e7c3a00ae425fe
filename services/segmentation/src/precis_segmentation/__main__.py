"""`python -m precis_segmentation`: run the segmentation service until SIGTERM."""

from __future__ import annotations

from precis_segmentation.app import build, start
from precis_segmentation.settings import SegmentationSettings


def main() -> None:
    app = start(build(SegmentationSettings()))
    app.server.install_signal_handlers(grace=10.0)
    app.server.wait()
    app.stop_workers()
    app.database.dispose()
    app.telemetry.shutdown()


if __name__ == "__main__":
    main()
