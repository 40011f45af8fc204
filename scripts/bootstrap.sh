#!/bin/sh
# Install ndaa-scanner on a fresh Debian/Ubuntu machine into ./.venv (run as root: the lab needs it).
#   sh scripts/bootstrap.sh          the scanner and the lab (iproute2)
#   sh scripts/bootstrap.sh --test   also what the test suite uses: chromium (HTML report test), nmap, avahi-daemon,
#                                    minidlna and snmpd (third-party mDNS/UPnP/SNMP peers, run only inside test namespaces),
#                                    dnsmasq, isc-dhcp-server, kea-dhcp4-server, isc-dhcp-client (lease files made
#                                    inside test namespaces), lldpd (LLDP/CDP sender) and tcpdump (lab captures),
#                                    postgresql (tests/server start a throwaway cluster on a Unix socket)
#   sh scripts/bootstrap.sh --bench  also nmap and arp-scan, to compare against in benchmarks/
set -eu
cd "$(dirname "$0")/.."
want_test=0; want_bench=0
for arg in "$@"; do
  case "$arg" in
    --test) want_test=1 ;;
    --bench) want_bench=1 ;;
    *) echo "usage: sh scripts/bootstrap.sh [--test] [--bench]" >&2; exit 2 ;;
  esac
done

pkgs=""
command -v ip >/dev/null 2>&1 || pkgs="$pkgs iproute2"
python3 -c 'import venv, ensurepip' >/dev/null 2>&1 || pkgs="$pkgs python3-venv"
if [ "$want_test" = 1 ]; then
  command -v chromium >/dev/null 2>&1 || pkgs="$pkgs chromium"
  command -v avahi-daemon >/dev/null 2>&1 || pkgs="$pkgs avahi-daemon"
  command -v minidlnad >/dev/null 2>&1 || pkgs="$pkgs minidlna"
  command -v nmap >/dev/null 2>&1 || pkgs="$pkgs nmap"  # the --with-nmap probe's tests run the real nmap
  [ -x /usr/sbin/snmpd ] || command -v snmpd >/dev/null 2>&1 || pkgs="$pkgs snmpd"  # collect snmp's lab agent (net-snmp)
  # import dhcp-leases / import pcap / listen tests: real DHCP servers and client, and lldpd (LLDP/CDP),
  # started only inside test namespaces with a temporary config and lease file; tcpdump captures lab traffic
  for tool in dnsmasq:dnsmasq-base dhcpd:isc-dhcp-server kea-dhcp4:kea-dhcp4-server dhclient:isc-dhcp-client tcpdump:tcpdump lldpd:lldpd; do
    PATH="$PATH:/usr/sbin:/sbin" command -v "${tool%%:*}" >/dev/null 2>&1 || pkgs="$pkgs ${tool#*:}"
  done
  # tests/server start their own throwaway cluster (Unix socket only) from these binaries; the package's
  # own cluster never starts (service starts are forbidden below)
  ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || pkgs="$pkgs postgresql"
fi
[ "$want_bench" = 1 ] && { command -v nmap >/dev/null 2>&1 || pkgs="$pkgs nmap"; command -v arp-scan >/dev/null 2>&1 || pkgs="$pkgs arp-scan"; }
if [ -n "$pkgs" ]; then
  if command -v apt-get >/dev/null 2>&1; then
    export DEBIAN_FRONTEND=noninteractive
    # The test peers (avahi-daemon, minidlna, snmpd, DHCP servers, lldpd, postgresql) must never start on this host's real interfaces:
    # forbid service starts while installing (policy-rc.d exit 101), unless a policy already exists.
    own_policy=0
    if [ ! -e /usr/sbin/policy-rc.d ]; then
      printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d && own_policy=1
    fi
    apt-get update -qq
    # shellcheck disable=SC2086
    apt-get install -y -qq --no-install-recommends $pkgs >/dev/null
    if command -v systemctl >/dev/null 2>&1 && [ -d /run/systemd/system ]; then
      systemctl disable --now avahi-daemon.service avahi-daemon.socket minidlna.service snmpd.service \
        isc-dhcp-server.service kea-dhcp4-server.service lldpd.service postgresql.service >/dev/null 2>&1 || true
    fi
    [ "$own_policy" = 1 ] && rm -f /usr/sbin/policy-rc.d
  else
    echo "bootstrap: please install:$pkgs" >&2
    exit 1
  fi
fi

python3 -c 'import sys; sys.exit(sys.version_info < (3, 11))' || { echo "bootstrap: Python >= 3.11 needed" >&2; exit 1; }
[ -x .venv/bin/python ] || python3 -m venv .venv
extras="all"
[ "$want_test" = 1 ] && extras="$extras,test"
[ "$want_bench" = 1 ] && extras="$extras,bench"
.venv/bin/python -m pip install -q --disable-pip-version-check -e ".[$extras]"
echo "bootstrap: installed into .venv (run .venv/bin/ndaa-scan --help)" >&2
