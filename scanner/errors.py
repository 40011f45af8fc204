"""Exceptions the CLI turns into one clear line and an exit code.

    NdaaError
    ├── UsageError        bad input from the user (exit 2)
    │   ├── TargetError   a malformed or oversized target
    │   └── UpdateRefused an update that would lose data a good input never loses (--force overrides)
    ├── PrivilegeError    needs root / CAP_NET_RAW / Linux (exit 3)
    ├── ScanFailed        the scan itself could not run (exit 3)
    └── DataError         a broken data file: file, entry and reason (exit 3)

A user's own input files (waivers, observations) are usage errors: exit 2.
"""


class NdaaError(Exception):
    """Base of every error the project raises on purpose."""

    exit_code = 3


class UsageError(NdaaError):
    """The user asked for something malformed or impossible."""

    exit_code = 2


class TargetError(UsageError):
    """A target (CIDR, range, address, interface) is malformed or too large."""


class UpdateRefused(UsageError):
    """An update whose input looks incomplete (e.g. a truncated IEEE CSV): nothing was written."""


class PrivilegeError(NdaaError):
    """The operation needs privileges or a platform this process does not have."""


class ScanFailed(NdaaError):
    """The scan could not run at all."""


class DataError(NdaaError):
    """A shipped or stored data file (fingerprints, OUI registry, lab, history database) is broken."""
