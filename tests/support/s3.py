"""A moto S3 server in its own process, for the test folders that read data over HTTP.

moto's backends are process-wide: a ThreadedMotoServer inside the test process shares them with
every `mock_aws` (which empties them when it exits) and with the local cloud (which resets them when
it starts), so a bucket made by one folder's fixture vanished whenever such a test ran in between.
A server in a child process holds its own backends, and nothing a test does in this process reaches
them."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager

# The child starts moto's threaded server on a free port, says which, and stops when its stdin
# closes, so it cannot outlive the test process even if that is killed.
_CHILD = """
import sys
from moto.server import ThreadedMotoServer
server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
server.start()
print(server.get_host_and_port()[1], flush=True)
sys.stdin.read()
server.stop()
"""


@contextmanager
def s3_server(timeout_s: float = 60) -> Iterator[str]:
    """Yields the URL of a moto server running in a child process; stops it on exit."""
    child = subprocess.Popen(
        [sys.executable, "-c", _CHILD],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert child.stdout is not None
        port = child.stdout.readline().strip()
        if not port.isdigit():
            raise RuntimeError(f"the moto S3 server did not start (exit status {child.poll()})")
        yield f"http://127.0.0.1:{port}"
    finally:
        if child.stdin is not None:
            child.stdin.close()
        try:
            child.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()
