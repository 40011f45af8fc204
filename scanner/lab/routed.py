"""A lab seen across a router: a client namespace one hop away from the lab's segment.

The lab's scanner namespace becomes the router: it forwards between the lab segment and a point-to-point
link to a new namespace, ``nd-<lab>-client`` (``CLIENT_IP``), and answers ARP on the segment for the
client's address (proxy ARP), so devices need only their ``default`` route. A scan from the client
reaches every device through the router and cannot use ARP on the segment: what a scan of a remote
subnet sees. The router keeps Linux's defaults, as a Linux router has them: an absent address is asked
for with ``mcast_solicit`` (3) ARP requests ``retrans_time_ms`` (1 s) apart, then the packets queued for
it are dropped and answered with ICMP host-unreachable, rate-limited per destination
(``icmp_ratelimit``, 1 s), so a scanner hears of only a few absent hosts. (The neighbour-table limits,
gc_thresh*, can be set only in the host's own namespace; benchmarks/bench_routed.py raises them.)
"""

from __future__ import annotations

import ipaddress
import subprocess

from scanner.lab.netns import ip, list_netns
from scanner.lab.spec import ROUTED_LINK, LabSpec

ROUTER_LINK_IP, CLIENT_IP = (str(a) for a in ipaddress.IPv4Network(ROUTED_LINK).hosts())
# What the router does for absent addresses: the settings a benchmark prints beside its figures.
ROUTER_SETTINGS_READ = (
    "net/ipv4/neigh/eth0/mcast_solicit",
    "net/ipv4/neigh/eth0/retrans_time_ms",
    "net/ipv4/neigh/eth0/unres_qlen_bytes",
    "net/ipv4/icmp_ratelimit",
    "net/ipv4/icmp_msgs_per_sec",
)


def client_ns(spec: LabSpec) -> str:
    return spec.client_ns


def add_routed_client(spec: LabSpec) -> str:
    """Create the client namespace behind the lab's scanner namespace (now a router); its name."""
    client, router = client_ns(spec), spec.scanner_ns
    ip("netns", "add", client)
    ip(netns=router, batch=[f"link add uplink type veth peer name eth0 netns {client}"])
    ip(netns=router, batch=[f"addr add {ROUTER_LINK_IP}/30 dev uplink", "link set uplink up"])
    ip(
        netns=client,
        batch=[
            f"addr add {CLIENT_IP}/30 dev eth0",
            "link set eth0 up",
            "link set lo up",
            f"route add default via {ROUTER_LINK_IP}",
        ],
    )
    for key, value in (
        ("net.ipv4.ip_forward", 1),
        ("net.ipv4.conf.eth0.proxy_arp", 1),
    ):
        subprocess.run(
            ["ip", "netns", "exec", router, "sysctl", "-qw", f"{key}={value}"],
            check=True,
            capture_output=True,
            timeout=30,
        )
    return client


def remove_routed_client(spec: LabSpec) -> None:
    """Delete the client namespace (only the one this module made); its veth goes with it."""
    client = client_ns(spec)
    if client in list_netns(client):
        ip("netns", "del", client, check=False)


def router_settings(spec: LabSpec) -> dict[str, str]:
    """The router's settings that decide what happens to packets for absent addresses (as read now)."""
    keys = " ".join(f"/proc/sys/{k}" for k in ROUTER_SETTINGS_READ)
    out = subprocess.run(
        ["ip", "netns", "exec", spec.scanner_ns, "sh", "-c", f"for f in {keys}; do cat $f; done"],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    values = out.stdout.split()
    return {k.rsplit("/", 1)[1]: v for k, v in zip(ROUTER_SETTINGS_READ, values, strict=False)}


def set_router_solicit(spec: LabSpec, requests: int) -> None:
    """How many ARP requests the router sends for an address before it gives up (Linux: 3, 1 s apart)."""
    subprocess.run(
        [
            "ip",
            "netns",
            "exec",
            spec.scanner_ns,
            "sysctl",
            "-qw",
            f"net.ipv4.neigh.eth0.mcast_solicit={requests}",
        ],
        check=True,
        capture_output=True,
        timeout=30,
    )
