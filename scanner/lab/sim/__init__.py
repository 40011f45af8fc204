"""Simulated devices: one process serves every device of a lab, each from sockets opened inside the
device's own network namespace. One responder module per service (``RESPONDERS``)."""
