"""Run the gateway: `python -m precis_gateway` (settings from PRECIS_* variables).

uvicorn handles SIGTERM/SIGINT: it stops accepting connections, lets in-flight requests finish
(up to the grace period), then runs the app's shutdown, which closes the gRPC channels.
"""

from __future__ import annotations

import uvicorn

from precis_gateway.app import create_app
from precis_gateway.settings import GatewaySettings

GRACEFUL_SHUTDOWN_SECONDS = 10


def main() -> None:
    settings = GatewaySettings()
    app = create_app(settings)
    config = uvicorn.Config(
        app,
        host=settings.gateway_host,
        port=settings.gateway_port,
        workers=1,  # one process: more workers only add contention on a small machine (STACK.md)
        log_config=None,  # keep the root handler configure_telemetry installed (trace ids)
        timeout_graceful_shutdown=GRACEFUL_SHUTDOWN_SECONDS,
        proxy_headers=False,
    )
    uvicorn.Server(config).run()


if __name__ == "__main__":
    main()
