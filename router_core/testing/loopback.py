"""Serve a fake venue on 127.0.0.1 for a test, as its own process.

A plugin's fake (any module runnable as ``python -m MODULE --port PORT``) is started on a free
loopback port and stopped afterwards::

    with serve_fake("router_mybroker.fake") as url:
        ...  # point the account's base_url at url
"""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager

START_TIMEOUT_SECONDS = 20.0


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def serve_fake(module: str, *args: str) -> Iterator[str]:
    """Run ``python -m module --port PORT *args``; yield its base URL once it accepts
    connections; kill it on exit. Raises RuntimeError when it does not start in time."""
    port = free_port()
    process = subprocess.Popen(  # noqa: S603 - the test's own module, not untrusted input
        [sys.executable, "-m", module, "--port", str(port), *args],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    try:
        _wait_listening(port, process, module)
        yield f"http://127.0.0.1:{port}"
    finally:
        process.kill()
        process.wait()


def _wait_listening(port: int, process: subprocess.Popen[bytes], module: str) -> None:
    deadline = time.monotonic() + START_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{module} exited with {process.returncode} before listening")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"{module} did not listen on port {port} within "
                       f"{START_TIMEOUT_SECONDS:.0f} s")
