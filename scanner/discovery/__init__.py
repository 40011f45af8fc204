"""Discovery layer: one module per protocol behind one async interface (``base.Probe``).

Modules here produce ``scanner.observations.Observation`` and know nothing of
identification, reports or history.
"""
