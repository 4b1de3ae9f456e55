"""Starting a server subprocess for a benchmark: a free port, and waiting
until the server answers its probe."""

from __future__ import annotations

import socket
import subprocess
import time

import httpx


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_until_up(
    proc: subprocess.Popen[bytes], base: str, probe: str, *, log: str = "", seconds: float = 60
) -> None:
    """Return once ``GET base+probe`` answers 200; stop the bench (killing
    the server) when it exits or has not answered within ``seconds``."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"the server exited{'; see ' + log if log else ''}")
        try:
            if httpx.get(f"{base}{probe}", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    proc.kill()
    raise SystemExit(f"the server did not answer {probe} within {seconds:.0f} s")
