"""Running the portal: ``serve(platform)`` binds uvicorn to the app until stopped.

``medflow serve`` starts the platform (runner, inbox watcher, retries) and then calls
:func:`serve`, so one process runs the portal, the runner and the inbox watcher together.
"""

from __future__ import annotations

import logging
import threading
import time

from medflow.platform import Platform

log = logging.getLogger(__name__)

ADMIN_EMAIL_ENV = "MEDFLOW_ADMIN_EMAIL"
ADMIN_PASSWORD_ENV = "MEDFLOW_ADMIN_PASSWORD"
"""The first admin's environment names; read by the settings as ``web.admin_email`` and
``web.admin_password`` (``MEDFLOW_WEB__ADMIN_EMAIL`` works too)."""


def serve(
    platform: Platform,
    host: str | None = None,
    port: int | None = None,
    *,
    stop: threading.Event | None = None,
    started: threading.Event | None = None,
) -> None:
    """Serve the portal and API on ``host``:``port`` until Ctrl-C, SIGTERM or ``stop``.

    The caller starts and closes ``platform``; this only runs the web server.

    Args:
        platform: a started platform.
        host: interface; default ``settings.web.host``.
        port: port; default ``settings.web.port`` (0: any free port).
        stop: set it to shut the server down from another thread.
        started: set once the server accepts connections.
    """
    import uvicorn

    from medflow.web.app import create_app

    app = create_app(platform)
    web = platform.settings.web
    config = uvicorn.Config(
        app,
        host=host or web.host,
        port=web.port if port is None else port,
        log_level="warning",
        access_log=False,
        proxy_headers=False,
    )
    server = uvicorn.Server(config)

    def watch() -> None:
        while not server.started and not server.should_exit:
            time.sleep(0.05)
        if started is not None and server.started:
            started.set()
        if stop is not None:
            stop.wait()
            server.should_exit = True

    threading.Thread(target=watch, name="medflow-web-watch", daemon=True).start()
    log.info("portal at %s", web.link_base)
    server.run()
