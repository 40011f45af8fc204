"""The namespaced lab: a simulated office network in Linux network namespaces.

One bridge in its own namespace, one namespace per simulated device, one for the scanner;
no interface ever exists in the root namespace. Used by ``ndaa-scan lab``/``demo``, the tests
and the benchmarks.
"""
