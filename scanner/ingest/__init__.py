"""Offline inputs: identify devices from saved observations instead of scanning.

* ``jsonl``     — JSON Lines, one observation a line (schema: docs/OBSERVATIONS.md).
* ``nmap_xml``  — ``nmap -oX`` output, read host by host with defusedxml.
* ``stream``    — group a stream of observations by host with bounded state and identify each host;
  ``identify_file`` (a whole ScanReport) is what the CLI calls; ``device_reports`` yields host by host.

No module here sends a packet.
"""
