"""Bytes in, ids out: content-defined chunks in packs, with an index.

This package knows nothing of artifacts, names or git.
"""
