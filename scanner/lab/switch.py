"""The lab's userspace switch: forwards Ethernet frames between the lab's veths in the bridge namespace,
and can lose, delay and jitter them (this kernel has no ``sch_netem``, so ``tc netem`` is no option).

Run as ``python -m scanner.lab.switch STATEFILE CONFIG_JSON``: enters the bridge namespace, opens one
AF_PACKET socket per port, writes ``ready`` to STATEFILE, then forwards until SIGTERM. CONFIG_JSON is
``{"netns": NS, "seed": N|null, "ports": [{"ifname", "loss", "delay", "jitter"}, …]}``.

Forwarding is a learning switch: a unicast frame to a MAC learnt on a port goes to that port only; broadcast,
multicast and unknown unicast go to every other port (so ARP, mDNS/SSDP/WS-Discovery multicast and the
SADP/DHIP broadcasts reach every device). Each copy crosses two links, its ingress port's and its egress
port's; each link drops the copy with its ``loss`` probability and delays it by ``delay`` ± ``jitter``
(uniform, drawn per frame), so a setting on a device's link applies once each way between it and the scanner. A copy is
never sent before the copy queued before it from the same ingress to the same egress port: jitter varies
delay without reordering a flow, as on a real path, and a slow link never holds up another's frames. So
frames of one flow closer together than the jitter range wait for the slowest before them (a FIFO link): a
dense flow sees delays skewed towards delay + jitter; frames further apart see exactly delay ± jitter.

One thread, one epoll loop and a heap of delayed frames; without impairment a frame is sent as soon as it
is read. The endpoints' transmit checksum and segmentation offloads must be off (scanner/lab/netns.py
``disable_offloads``): a frame read from a packet socket carries whatever the sender's offload left in it.
"""

from __future__ import annotations

import contextlib
import heapq
import json
import os
import random
import select
import signal
import socket
import sys
import time
from dataclasses import dataclass
from pathlib import Path

ETH_P_ALL = 0x0003
SOL_PACKET = 263
PACKET_IGNORE_OUTGOING = 23
PACKET_OUTGOING = 4
MAX_FRAME = 65536
BATCH = 256  # frames read from one port before looking at the others
BUFFER = 4 * 1024 * 1024
MAX_QUEUED = 200_000  # delayed frames held at most; beyond it new frames are dropped, as a full queue does


@dataclass(frozen=True)
class Port:
    ifname: str
    loss: float = 0.0
    delay: float = 0.0
    jitter: float = 0.0


@dataclass
class Counters:
    received: int = 0
    sent: int = 0
    lost: int = 0  # dropped by the loss setting
    failed: int = 0  # send errors, or queue full

    def render(self) -> str:
        return f"received {self.received} sent {self.sent} lost {self.lost} failed {self.failed}"


class Switch:
    def __init__(self, ports: list[Port], seed: int | None = None) -> None:
        self.ports = ports
        self.rng = random.Random(seed)
        self.socks: list[socket.socket] = []
        self.macs: dict[bytes, int] = {}
        self.queue: list[tuple[float, int, int, bytes]] = []  # (due, seq, egress, frame)
        self.last_due: dict[tuple[int, int], float] = {}  # (ingress, egress) -> due time of its last frame
        self.seq = 0
        self.counters = Counters()
        self.stopping = False
        self.impaired = any(p.loss or p.delay or p.jitter for p in ports)

    def open(self) -> None:
        for p in self.ports:
            s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
            with contextlib.suppress(OSError):  # kernel >= 4.20: our own sends are not read back
                s.setsockopt(SOL_PACKET, PACKET_IGNORE_OUTGOING, 1)
            s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, BUFFER)
            s.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, BUFFER)
            s.bind((p.ifname, 0))
            s.setblocking(False)
            self.socks.append(s)

    def close(self) -> None:
        for s in self.socks:
            s.close()

    def run(self) -> None:
        ep = select.epoll()
        by_fd = {s.fileno(): i for i, s in enumerate(self.socks)}
        for fd in by_fd:
            ep.register(fd, select.EPOLLIN)
        try:
            while not self.stopping:
                timeout = 0.5
                if self.queue:
                    timeout = min(timeout, max(0.0, self.queue[0][0] - time.monotonic()))
                for fd, _ in ep.poll(timeout):
                    self._drain(by_fd[fd])
                if self.queue:
                    self._release(time.monotonic())
        finally:
            ep.close()

    def _drain(self, port: int) -> None:
        sock = self.socks[port]
        for _ in range(BATCH):
            try:
                frame, addr = sock.recvfrom(MAX_FRAME)
            except (BlockingIOError, InterruptedError):
                return
            except OSError:
                self.counters.failed += 1
                return
            if addr[2] == PACKET_OUTGOING or len(frame) < 14:
                continue
            self.counters.received += 1
            self.forward(port, frame)

    def forward(self, ingress: int, frame: bytes) -> None:
        src = frame[6:12]
        if not src[0] & 1:
            self.macs[src] = ingress
        dst = frame[0:6]
        out = None if dst[0] & 1 else self.macs.get(dst)
        if out is not None:
            if out != ingress:
                self._copy(ingress, out, frame)
            return
        for egress in range(len(self.ports)):
            if egress != ingress:
                self._copy(ingress, egress, frame)

    def _copy(self, ingress: int, egress: int, frame: bytes) -> None:
        if not self.impaired:
            self._send(egress, frame)
            return
        a, b = self.ports[ingress], self.ports[egress]
        rng = self.rng
        if (a.loss and rng.random() < a.loss) or (b.loss and rng.random() < b.loss):
            self.counters.lost += 1
            return
        wait = self._delay(ingress) + self._delay(egress)
        if wait <= 0.0 and not self.queue:
            self._send(egress, frame)
            return
        if len(self.queue) >= MAX_QUEUED:
            self.counters.failed += 1
            return
        flow = (ingress, egress)
        due = max(time.monotonic() + wait, self.last_due.get(flow, 0.0))
        self.last_due[flow] = due
        self.seq += 1
        heapq.heappush(self.queue, (due, self.seq, egress, frame))

    def _delay(self, port: int) -> float:
        p = self.ports[port]
        if not p.jitter:
            return p.delay
        return max(0.0, p.delay + self.rng.uniform(-p.jitter, p.jitter))

    def _release(self, now: float) -> None:
        queue = self.queue
        while queue and queue[0][0] <= now:
            _, _, egress, frame = heapq.heappop(queue)
            self._send(egress, frame)

    def _send(self, egress: int, frame: bytes) -> None:
        try:
            self.socks[egress].send(frame)
            self.counters.sent += 1
        except OSError:  # ENOBUFS, EMSGSIZE, a port gone: the frame is lost, as on a switch
            self.counters.failed += 1


def main(argv: list[str]) -> int:
    from scanner.lab.netns import enter_netns

    state = Path(argv[0])
    config = json.loads(argv[1])
    enter_netns(config["netns"])
    switch = Switch([Port(**p) for p in config["ports"]], config.get("seed"))
    switch.open()

    def stop(signum: int, frame: object) -> None:
        switch.stopping = True

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGUSR1, lambda s, f: _report(state, switch))
    state.write_text("ready\n")
    try:
        switch.run()
    finally:
        _report(state, switch)
        switch.close()
    return 0


def _report(state: Path, switch: Switch) -> None:
    tmp = state.with_suffix(".tmp")
    tmp.write_text(f"ready\n{switch.counters.render()}\n")
    os.replace(tmp, state)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
