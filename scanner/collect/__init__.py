"""Sources that ask the network's own records instead of probing hosts: routers' ARP tables, switches'
forwarding tables and LLDP neighbours over SNMP (``snmp_tables`` parses, ``snmp_walk`` walks).

Same layer as ``scanner.discovery``: it yields observations (and host notes) and imports nothing from
identification, reports or the CLI."""
