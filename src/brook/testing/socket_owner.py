"""Which local process opened a TCP connection: what lets one proxy tell its peers apart on one host.

Every broker of a test cluster connects to the same advertised address of another broker, from 127.0.0.1, so
the address a proxy accepts from says nothing about who connected. Linux says it in /proc: the connecting
socket is the row of /proc/net/tcp whose local address is the accepted peer's address, and that row's inode
appears as `socket:[inode]` among the connecting process's open files (/proc/<pid>/fd). Linux only; reading
another user's /proc/<pid>/fd needs the same user or root.
"""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Iterable

__all__ = ["connection_owner", "encode_proc_address"]


def encode_proc_address(host: str, port: int) -> str:
    """An address as /proc/net/tcp writes it: IPv4 as 4 bytes in host (little-endian) order, then the port,
    both in upper-case hex: 127.0.0.1:9092 is `0100007F:2384`. IPv6 (/proc/net/tcp6) is four such
    little-endian 32-bit words."""
    packed = ipaddress.ip_address(host).packed
    words = [packed[i : i + 4][::-1].hex().upper() for i in range(0, len(packed), 4)]
    return f"{''.join(words)}:{port:04X}"


def _socket_inode(local: tuple[str, int], remote: tuple[str, int]) -> str | None:
    """The inode of the socket bound to `local` and connected to `remote`, from /proc/net/tcp(6)."""
    table = "/proc/net/tcp6" if ":" in local[0] else "/proc/net/tcp"
    want_local = encode_proc_address(*local)
    want_remote = encode_proc_address(*remote)
    try:
        with open(table) as rows:
            next(rows, None)  # header: sl local_address rem_address st ... uid timeout inode
            for row in rows:
                fields = row.split()
                if len(fields) > 9 and fields[1] == want_local and fields[2] == want_remote:
                    return fields[9]
    except OSError:
        return None
    return None


def _holds_socket(pid: int, inode: str) -> bool:
    link = f"socket:[{inode}]"
    fd_dir = f"/proc/{pid}/fd"
    try:
        names = os.listdir(fd_dir)
    except OSError:
        return False  # gone, or not ours to read
    for name in names:
        try:
            if os.readlink(f"{fd_dir}/{name}") == link:
                return True
        except OSError:
            continue  # closed meanwhile
    return False


def connection_owner(
    peer: tuple[str, int], accepted_on: tuple[str, int], candidate_pids: Iterable[int]
) -> int | None:
    """The pid among `candidate_pids` whose socket `peer` is connected to `accepted_on` (a listening address
    of this host), or None when none of them holds it (another process, or the connection is gone)."""
    inode = _socket_inode(peer, accepted_on)
    if inode is None or inode == "0":
        return None
    for pid in candidate_pids:
        if _holds_socket(pid, inode):
            return pid
    return None
