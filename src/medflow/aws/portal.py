"""The portal's container on AWS (``python -m medflow.aws.portal``): ``medflow serve`` with the
database URL and signing secret read from Secrets Manager first.

ECS can inject a secret's fields but cannot compose a database URL from them, so the secrets
are read here (:func:`medflow.aws.runtime.settings_from_environment`) and handed to ``serve``
through its own environment variables.
"""

from __future__ import annotations

import os
import sys


def main(argv: list[str] | None = None) -> None:
    """Resolve the secrets, then run ``medflow serve --host 0.0.0.0 --port 8000``."""
    from medflow.aws.runtime import settings_from_environment
    from medflow.cli import app

    settings = settings_from_environment()
    os.environ["MEDFLOW_DATABASE__URL"] = settings.database_url
    if settings.security.signing_secret is not None:
        os.environ["MEDFLOW_SECURITY__SIGNING_SECRET"] = (
            settings.security.signing_secret.get_secret_value()
        )
    app(argv if argv is not None else ["serve", "--host", "0.0.0.0", "--port", "8000"])


if __name__ == "__main__":
    main(sys.argv[1:] or None)
