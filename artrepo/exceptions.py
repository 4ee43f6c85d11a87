"""ZenML's module path for its exceptions: `from artrepo.exceptions import StepInterfaceError`.

artrepo has one error tree (`artrepo.errors`); these are its classes under
ZenML's names. `EntityExistsError` is a `ConflictError` (a custom version that
exists), and every class is an `ArtrepoError` with an exit code.
"""
from artrepo.errors import ArtrepoError, ConflictError, NotFoundError, StepContextError, StepInterfaceError

EntityExistsError = ConflictError
ZenMLBaseException = ArtrepoError

__all__ = ["EntityExistsError", "NotFoundError", "StepContextError", "StepInterfaceError", "ZenMLBaseException"]
