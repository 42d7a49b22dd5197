"""Processes the tests start (cachegate, php -S): free ports, waiting for them to answer,
stopping them."""

from __future__ import annotations

import socket
import subprocess
import time
from pathlib import Path

import pytest
import requests


def free_ports(count: int) -> list[int]:
    """count distinct ports of 127.0.0.1 that nothing listens on."""
    sockets = [socket.socket() for _ in range(count)]
    try:  # all bound at once so that the ports differ
        for sock in sockets:
            sock.bind(("127.0.0.1", 0))
        return [sock.getsockname()[1] for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


def log_tail(log: Path, since: int = 0, lines: int = 40) -> str:
    """The last lines of a process's log written after byte offset since."""
    if not log.exists():
        return "(no log file)"
    with open(log, "rb") as file:
        file.seek(since)
        text = file.read().decode(errors="replace")
    return "\n".join(text.splitlines()[-lines:]) or "(nothing logged)"


def wait_http(url: str, process: subprocess.Popen, log: Path, timeout: float = 30) -> requests.Response:
    """Poll url until it answers 200; fail the test, with the log's tail, if process exits first
    or timeout passes."""
    deadline = time.monotonic() + timeout
    last = "no answer"
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"{process.args[0]} exited with {process.returncode} before {url} answered:\n"
                        f"{log_tail(log)}", pytrace=False)
        try:
            response = requests.get(url, timeout=2)
            if response.status_code == 200:
                return response
            last = f"{response.status_code} {response.text[:200]}"
        except requests.RequestException as err:
            last = repr(err)
        time.sleep(0.1)
    pytest.fail(f"{url} not answering 200 after {timeout}s (last: {last}):\n{log_tail(log)}", pytrace=False)


def stop_process(process: subprocess.Popen) -> None:
    """SIGTERM, then SIGKILL after 10 s."""
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
