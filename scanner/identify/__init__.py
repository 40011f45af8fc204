"""Identification layer: observations + fingerprint data + policy -> verdicts with evidence."""
