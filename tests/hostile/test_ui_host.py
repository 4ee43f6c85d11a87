"""Issue 14 item 16: `ui --host 0.0.0.0` answers requests for the machine's own addresses and names,
and keeps refusing other Host headers (DNS rebinding)."""
from __future__ import annotations

import http.client
import re
import socket
import subprocess
import sys

import pytest


@pytest.fixture
def served(project):
    """`artrepo ui --host 0.0.0.0 --port 0` in a fresh project: its port."""
    proc = subprocess.Popen([sys.executable, "-m", "artrepo", "ui", "--host", "0.0.0.0", "--port", "0"],
                            cwd=project, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        found = re.search(r"at http://[^:]+:(\d+)/", proc.stderr.readline())
        assert found, proc.stderr.read()
        yield int(found.group(1))
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        proc.stderr.close()


def status(address: str, port: int, host: str) -> int:
    conn = http.client.HTTPConnection(address, port, timeout=30)
    try:
        conn.request("GET", "/", headers={"Host": host})
        return conn.getresponse().status
    finally:
        conn.close()


def test_a_server_bound_to_every_address_answers_for_the_address_it_was_reached_on(served):
    port = served
    assert status("127.0.0.1", port, f"127.0.0.1:{port}") == 200
    assert status("127.0.0.2", port, f"127.0.0.2:{port}") == 200  # another address of this machine
    assert status("127.0.0.1", port, f"{socket.gethostname()}:{port}") == 200
    own = socket.gethostbyname(socket.gethostname())
    assert status(own, port, f"{own}:{port}") == 200


def test_it_still_refuses_a_host_header_that_is_not_this_machine(served):
    port = served
    assert status("127.0.0.1", port, f"rebound.attacker.example:{port}") == 421
    assert status("127.0.0.2", port, f"127.0.0.1.attacker.example:{port}") == 421
    assert status("127.0.0.2", port, f"127.0.0.1:{port + 1}") == 421  # right address, another port
