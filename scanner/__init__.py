"""ndaa-scanner: find NDAA FY2019 §889 covered network equipment, with evidence."""

__version__ = "0.1.0"
