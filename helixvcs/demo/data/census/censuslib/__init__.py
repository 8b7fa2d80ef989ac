"""Helpers for the census income workflow.

They live outside ``workflow.py`` on purpose: the operators call into this package, so
an edit here (a bucket bound, a region table) must change the identity of exactly the
operators that use it, and helix has to follow references across the repo's modules to
see that.
"""
