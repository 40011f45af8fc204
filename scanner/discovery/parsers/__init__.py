"""Pure parsers: bytes in, fields out. No sockets. Hostile input never raises out of a ``parse_*`` function."""
