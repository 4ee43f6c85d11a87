"""Backends of `artrepo.storage.backend.Backend`, each imported only when a URL needs it."""
