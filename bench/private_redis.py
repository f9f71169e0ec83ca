"""private_redis.py: a throw-away redis-server for the Python benchmarks in
bench/ (loopback, a free port, a temp dir, no persistence), stopped when the
`with` block ends."""
import contextlib
import socket
import subprocess
import tempfile
import time
from typing import Iterator, Tuple


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def private_redis() -> Iterator[Tuple[int, str]]:
    """Yields (port, the temp dir) once the server answers PING."""
    port = free_port()
    with tempfile.TemporaryDirectory() as d:
        server = subprocess.Popen(["redis-server", "--bind", "127.0.0.1", "--port", str(port),
                                   "--save", "", "--appendonly", "no", "--dir", d],
                                  stdout=subprocess.DEVNULL)
        try:
            for _ in range(100):
                if subprocess.run(["redis-cli", "-p", str(port), "ping"],
                                  capture_output=True).returncode == 0:
                    break
                time.sleep(0.05)
            yield port, d
        finally:
            server.terminate()
            server.wait()
