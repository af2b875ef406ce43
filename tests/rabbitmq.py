"""A RabbitMQ virtual host of its own for a test session (the broker on 127.0.0.1:5672).

Created and deleted with ``rabbitmqctl``, so tests never see another engineer's or CI's queues;
tests skip when the broker or ``rabbitmqctl`` is not there.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

HOST = os.environ.get("MEDFLOW_TEST_RABBITMQ", "guest:guest@127.0.0.1:5672")


def _ctl(*args: str) -> None:
    subprocess.run(["rabbitmqctl", *args], check=True, capture_output=True, timeout=60)


@contextmanager
def rabbitmq_vhost() -> Iterator[str]:
    """Yield a broker URL on a fresh virtual host; the vhost and its queues go afterwards."""
    if shutil.which("rabbitmqctl") is None:
        pytest.skip("rabbitmqctl is not installed")
    name = f"medflow-test-{uuid.uuid4().hex[:10]}"
    try:
        _ctl("add_vhost", name)
        _ctl("set_permissions", "-p", name, HOST.split(":", 1)[0], ".*", ".*", ".*")
    except (subprocess.CalledProcessError, subprocess.TimeoutExpired) as exc:
        pytest.skip(f"RabbitMQ not usable: {exc}")
    try:
        yield f"amqp://{HOST}/{name}"
    finally:
        subprocess.run(["rabbitmqctl", "delete_vhost", name], capture_output=True, timeout=60)
