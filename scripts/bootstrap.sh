#!/bin/sh
# Install ndaa-scanner on a fresh Debian/Ubuntu machine into ./.venv (run as root: the lab needs it).
#   sh scripts/bootstrap.sh          the scanner and the lab (iproute2)
#   sh scripts/bootstrap.sh --test   also what the test suite uses (chromium for the HTML report test)
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
[ "$want_test" = 1 ] && { command -v chromium >/dev/null 2>&1 || pkgs="$pkgs chromium"; }
[ "$want_bench" = 1 ] && { command -v nmap >/dev/null 2>&1 || pkgs="$pkgs nmap"; command -v arp-scan >/dev/null 2>&1 || pkgs="$pkgs arp-scan"; }
if [ -n "$pkgs" ]; then
  if command -v apt-get >/dev/null 2>&1; then
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    # shellcheck disable=SC2086
    apt-get install -y -qq --no-install-recommends $pkgs >/dev/null
  else
    echo "bootstrap: please install:$pkgs" >&2
    exit 1
  fi
fi

python3 -c 'import sys; sys.exit(sys.version_info < (3, 11))' || { echo "bootstrap: Python >= 3.11 needed" >&2; exit 1; }
[ -x .venv/bin/python ] || python3 -m venv .venv
extras="all"
[ "$want_test" = 1 ] && extras="all,test"
.venv/bin/python -m pip install -q --disable-pip-version-check -e ".[$extras]"
echo "bootstrap: installed into .venv (run .venv/bin/ndaa-scan --help)" >&2
