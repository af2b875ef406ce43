"""medflow.web: the portal and REST API (needs the ``web`` extra: fastapi, uvicorn, jinja2,
argon2-cffi, python-multipart).

``create_app(platform)`` builds the ASGI app; ``serve(platform, host, port)`` runs it with
uvicorn until stopped (what ``medflow serve`` calls).
"""

from medflow.web.app import create_app
from medflow.web.server import serve

__all__ = ["create_app", "serve"]
