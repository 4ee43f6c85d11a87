"""ZenML's module path for the cloudpickle fallback."""
from artrepo.materializers.pickle import CloudpickleMaterializer

__all__ = ["CloudpickleMaterializer"]
