"""Policy: which findings fail a scan (``fail_on``) and which devices are accepted for a time (``waivers``).

Nothing is imported here, so ``scanner.policy.fail_on`` stays cheap for the CLI to import.
"""
