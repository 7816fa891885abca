"""brook.testing.fault_network and socket_owner: proxies that tell their peers apart and freeze cut links."""

import logging
import os
import socket
import subprocess
import sys
import threading
import time

import pytest

from brook.testing.fault_network import CLIENT, FaultNetwork
from brook.testing.socket_owner import connection_owner, encode_proc_address


def test_proc_addresses_are_little_endian_ipv4_and_big_endian_port():
    assert encode_proc_address("127.0.0.1", 9092) == "0100007F:2384"
    assert encode_proc_address("10.1.2.3", 80) == "0302010A:0050"
    assert encode_proc_address("::1", 1) == "00000000000000000000000001000000:0001"


def test_the_owner_of_an_accepted_connection_is_the_process_that_opened_it():
    with socket.create_server(("127.0.0.1", 0)) as server:
        here = server.getsockname()
        client = socket.create_connection(here)
        accepted, peer = server.accept()
        try:
            assert connection_owner(peer, here, [os.getpid()]) == os.getpid()
            assert connection_owner(peer, here, [1]) is None
        finally:
            accepted.close()
            client.close()


class Echo:
    """A TCP echo server on a thread."""

    def __init__(self) -> None:
        self.server = socket.create_server(("127.0.0.1", 0))
        self.address = self.server.getsockname()
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.server.accept()
            except OSError:
                return
            threading.Thread(target=self._echo, args=(conn,), daemon=True).start()

    @staticmethod
    def _echo(conn: socket.socket) -> None:
        with conn:
            while data := conn.recv(4096):
                conn.sendall(data)


def roundtrip(sock: socket.socket, payload: bytes, timeout_s: float) -> bytes | None:
    sock.settimeout(timeout_s)
    sock.sendall(payload)
    try:
        return sock.recv(4096)
    except TimeoutError:
        return None


@pytest.fixture
def echo_net():
    echo = Echo()
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    net = FaultNetwork(sources=lambda: {os.getpid(): "tester", child.pid: "other"})
    port = net.add_proxy("echo", upstream=echo.address)
    yield net, port
    net.close()
    child.kill()
    child.wait()
    echo.server.close()


def test_a_cut_link_freezes_its_connections_until_healed(echo_net):
    net, port = echo_net
    with socket.create_connection(("127.0.0.1", port)) as sock:
        assert roundtrip(sock, b"one", 5) == b"one"
        net.cut("tester", "echo")
        assert net.connections() == [("tester", "echo", False)]
        assert roundtrip(sock, b"two", 0.5) is None  # silence, not a reset
        net.heal()
        sock.settimeout(5)
        assert sock.recv(4096) == b"two"  # held in the proxy, delivered after the heal


def test_a_connection_opened_across_a_cut_link_is_held_until_healed(echo_net):
    net, port = echo_net
    net.cut("tester", "echo")
    with socket.create_connection(("127.0.0.1", port)) as sock:
        assert roundtrip(sock, b"early", 0.5) is None
        net.heal("tester", "echo")
        sock.settimeout(5)
        assert sock.recv(4096) == b"early"


def test_cutting_another_source_leaves_this_one_flowing(echo_net):
    net, port = echo_net
    net.cut("other", "echo")
    with socket.create_connection(("127.0.0.1", port)) as sock:
        assert roundtrip(sock, b"free", 5) == b"free"
    assert net.cut_links() == {frozenset(("other", "echo"))}


def test_an_unknown_process_is_a_client_and_a_fixed_source_needs_no_lookup():
    echo = Echo()
    net = FaultNetwork(sources=dict)
    try:
        open_port = net.add_proxy("echo", upstream=echo.address)
        fixed_port = net.add_proxy("echo", upstream=echo.address, source="broker-1")
        net.cut("broker-1", "echo")
        with socket.create_connection(("127.0.0.1", open_port)) as sock:
            assert roundtrip(sock, b"x", 5) == b"x"
        with socket.create_connection(("127.0.0.1", fixed_port)) as sock:
            assert roundtrip(sock, b"y", 0.5) is None
            deadline = time.monotonic() + 5
            while ("broker-1", "echo", False) not in net.connections() and time.monotonic() < deadline:
                time.sleep(0.05)
            assert ("broker-1", "echo", False) in net.connections()
        net.cut(CLIENT, "echo")
        with socket.create_connection(("127.0.0.1", open_port)) as sock:
            assert roundtrip(sock, b"z", 0.5) is None
    finally:
        net.close()
        echo.server.close()


def test_a_proxy_in_front_of_nothing_closes_the_client_connection():
    with socket.create_server(("127.0.0.1", 0)) as placeholder:
        dead = placeholder.getsockname()
    net = FaultNetwork()
    try:
        port = net.add_proxy("gone", upstream=dead)
        with socket.create_connection(("127.0.0.1", port)) as sock:
            sock.settimeout(5)
            assert sock.recv(10) == b""
    finally:
        net.close()


def test_closing_with_connections_open_logs_no_traceback(echo_net, caplog):
    """close() cancels the proxy's connection tasks: Python 3.11's stream server logged each cancelled one as an
    "Exception in callback" traceback (a cluster test's output at teardown)."""
    net, port = echo_net
    with (
        caplog.at_level(logging.ERROR, logger="asyncio"),
        socket.create_connection(("127.0.0.1", port)) as flowing,
        socket.create_connection(("127.0.0.1", port)) as held,
    ):
        assert roundtrip(flowing, b"one", 5) == b"one"
        net.cut("tester", "echo")
        assert roundtrip(held, b"two", 0.2) is None
        net.close()
    assert [r.getMessage() for r in caplog.records if r.name == "asyncio"] == []
