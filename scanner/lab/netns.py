"""Thin helpers over iproute2 and setns(2) for the lab's namespaces."""

from __future__ import annotations

import ctypes
import os
import platform
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from scanner.errors import PrivilegeError, ScanFailed

CLONE_NEWNET = 0x40000000
NETNS_DIR = Path("/run/netns")


def require_root_linux(what: str = "the lab") -> None:
    if platform.system() != "Linux":
        raise PrivilegeError(f"{what} needs Linux network namespaces; this is {platform.system()}")
    if os.geteuid() != 0:
        raise PrivilegeError(f"{what} needs root (network namespaces): run it with sudo")
    if not _which("ip"):
        raise PrivilegeError(f"{what} needs iproute2's `ip` command (apt-get install iproute2)")


def _which(cmd: str) -> bool:
    return any(os.access(os.path.join(p, cmd), os.X_OK) for p in os.environ.get("PATH", "").split(":"))


def ip(*args: str, netns: str | None = None, batch: list[str] | None = None, check: bool = True) -> str:
    """Run ``ip [-n NS] ARGS`` (or ``ip [-n NS] -b -`` with ``batch`` lines); raise ScanFailed on error."""
    cmd = ["ip"]
    if netns:
        cmd += ["-n", netns]
    if batch is not None:
        cmd += ["-b", "-"]
    cmd += list(args)
    proc = subprocess.run(
        cmd,
        input="\n".join(batch) + "\n" if batch is not None else None,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    if check and proc.returncode != 0:
        raise ScanFailed(f"`{' '.join(cmd)}` failed: {proc.stderr.strip() or proc.stdout.strip()}")
    return proc.stdout


def list_netns(prefix: str) -> list[str]:
    if not NETNS_DIR.is_dir():
        return []
    return sorted(p.name for p in NETNS_DIR.iterdir() if p.name.startswith(prefix))


def delete_netns(names: list[str]) -> None:
    if names:
        ip(batch=[f"netns del {n}" for n in names], check=False)


_libc = None


def _setns(fd: int) -> None:
    global _libc
    if _libc is None:
        _libc = ctypes.CDLL(None, use_errno=True)
    if _libc.setns(fd, CLONE_NEWNET) != 0:
        err = ctypes.get_errno()
        raise OSError(err, os.strerror(err))


def enter_netns(name: str) -> None:
    """Move the calling thread into network namespace ``name`` for good."""
    path = NETNS_DIR / name
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except FileNotFoundError:
        raise ScanFailed(f"network namespace {name!r} does not exist") from None
    except PermissionError:
        raise PrivilegeError(f"entering network namespace {name!r} needs root") from None
    try:
        _setns(fd)
    except PermissionError:
        raise PrivilegeError(f"entering network namespace {name!r} needs root") from None
    finally:
        os.close(fd)


@contextmanager
def in_netns(name: str) -> Iterator[None]:
    """Run the body with the calling thread inside namespace ``name``; sockets made there stay there."""
    home = os.open("/proc/thread-self/ns/net", os.O_RDONLY | os.O_CLOEXEC)
    try:
        enter_netns(name)
        try:
            yield
        finally:
            _setns(home)
    finally:
        os.close(home)


def run_in_netns(name: str, fn, *args, **kwargs):  # type: ignore[no-untyped-def]
    """Call ``fn(*args, **kwargs)`` on a fresh thread inside namespace ``name`` and return its result.

    setns(2) is per thread, so this leaves the caller's namespace untouched; ``fn`` may call
    ``asyncio.run`` for async work.
    """
    import threading

    box: dict[str, object] = {}

    def target() -> None:
        try:
            enter_netns(name)
            box["result"] = fn(*args, **kwargs)
        except BaseException as exc:  # re-raised in the caller
            box["error"] = exc

    t = threading.Thread(target=target, name=f"netns-{name}", daemon=True)
    t.start()
    t.join()
    if "error" in box:
        raise box["error"]  # type: ignore[misc]
    return box.get("result")


SIOCETHTOOL = 0x8946
# legacy ethtool set-commands (linux/ethtool.h): transmit checksum, scatter-gather, TSO, GSO
_ETHTOOL_OFFLOADS = (0x17, 0x19, 0x1F, 0x24)


def disable_offloads(netns: str, ifname: str) -> None:
    """Turn off ``ifname``'s transmit checksum and segmentation offloads in namespace ``netns``
    (``ethtool -K IF tx off sg off tso off gso off`` without needing ethtool).

    A veth otherwise hands on frames whose checksum is left for hardware to fill, and 64 KiB TCP super-frames;
    a frame read from an AF_PACKET socket (the lab's userspace switch) and written to another veth would then
    arrive with a wrong checksum or too big to send.
    """
    import fcntl
    import socket
    import struct

    with in_netns(netns), socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        for cmd in _ETHTOOL_OFFLOADS:
            value = ctypes.create_string_buffer(struct.pack("II", cmd, 0))
            ifreq = struct.pack("16sP", ifname.encode(), ctypes.addressof(value)).ljust(40, b"\0")
            try:
                fcntl.ioctl(s.fileno(), SIOCETHTOOL, ifreq)
            except OSError as exc:
                raise ScanFailed(f"cannot turn off offload {cmd:#x} on {ifname} in {netns}: {exc}") from None
