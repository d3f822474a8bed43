"""Socket-layer stand-ins for the outbound-policy tests: a resolver stub and a guard on connects.

Both sit at the socket layer, below the code under test: `names` answers `socket.getaddrinfo` for the
test's own host names (as a hosts entry would), and `guard` refuses and records any connect to an
address off this machine, so a test that would reach 10.x or 169.254.169.254 on code without the policy
fails on the record instead of sending a packet there.
"""

from __future__ import annotations

import ipaddress
import socket

import pytest


class Names:
    """Host name -> list of addresses, answered in turn (the last answer repeats): a rebinding resolver
    gives ["127.0.0.2", "127.0.0.1"]. Every question is recorded."""

    def __init__(self):
        self.answers: dict[str, list[list[str]]] = {}
        self.asked: list[str] = []

    def set(self, name: str, *answers: list[str] | str) -> None:
        self.answers[name.lower()] = [[a] if isinstance(a, str) else list(a) for a in answers]


@pytest.fixture
def names(monkeypatch):
    stub = Names()
    real = socket.getaddrinfo

    def getaddrinfo(host, port, family=0, type=0, proto=0, flags=0):
        key = str(host).lower().rstrip(".") if host else ""
        if key not in stub.answers:
            return real(host, port, family, type, proto, flags)
        stub.asked.append(key)
        queue = stub.answers[key]
        answer = queue.pop(0) if len(queue) > 1 else queue[0]
        out = []
        for address in answer:
            ip = ipaddress.ip_address(address)
            fam = socket.AF_INET6 if ip.version == 6 else socket.AF_INET
            sockaddr = (address, int(port or 0)) if ip.version == 4 else (address, int(port or 0), 0, 0)
            out.append((fam, socket.SOCK_STREAM, 6, "", sockaddr))
        return out

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    return stub


@pytest.fixture(autouse=True)
def guard(monkeypatch):
    """Connects to anything but loopback are refused and recorded (the list is the fixture's value)."""
    attempts: list[str] = []
    real_connect, real_connect_ex = socket.socket.connect, socket.socket.connect_ex

    def off_machine(address) -> bool:
        if not isinstance(address, tuple):
            return False  # a unix socket
        try:
            return not ipaddress.ip_address(address[0]).is_loopback
        except ValueError:
            return True

    def connect(self, address):
        if off_machine(address):
            attempts.append(str(address[0]))
            raise ConnectionRefusedError(f"test guard: no connection to {address[0]}")
        return real_connect(self, address)

    def connect_ex(self, address):
        if off_machine(address):
            attempts.append(str(address[0]))
            return 111
        return real_connect_ex(self, address)

    monkeypatch.setattr(socket.socket, "connect", connect)
    monkeypatch.setattr(socket.socket, "connect_ex", connect_ex)
    return attempts
