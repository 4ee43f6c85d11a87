"""One Repository: versions, aliases, annotations and runs (see core.py)."""
from artrepo.repository.core import _OPEN, DIR_NAME, Repository, active, find_root
from artrepo.repository.versions import VersionInfo, label_key, next_number

__all__ = ["_OPEN", "DIR_NAME", "Repository", "VersionInfo", "active", "find_root", "label_key", "next_number"]
