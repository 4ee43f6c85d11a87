"""The one exception tree of artrepo.

Every class carries the exit code the CLI uses: 1 for user errors, 3 for
integrity errors (2 is click's usage error). Messages are one line and name
the object concerned.
"""
from __future__ import annotations

import errno

# this process out of files or memory: not damage to what it was reading, whatever read it
STARVED = (errno.EMFILE, errno.ENFILE, errno.ENOMEM)


def starved(exc: BaseException) -> bool:
    """Whether `exc` is the process running out of open files or memory (re-raise it, never report damage)."""
    return isinstance(exc, OSError) and exc.errno in STARVED


class ArtrepoError(Exception):
    """Base of every error artrepo raises on purpose."""

    exit_code = 1  # a class attribute: the CLI's exit status


class UserError(ArtrepoError):
    """The user asked for something that cannot be done as asked."""


class InvalidNameError(UserError):
    """A name, version, alias or reference is not well formed."""


class NotFoundError(UserError):
    """No artifact, version, alias or run matches the reference."""


class AmbiguousReferenceError(UserError):
    """An id prefix matches several objects."""


class ConflictError(UserError):
    """A version that must be new already exists, or a race was lost for good."""


class NotARepositoryError(UserError):
    """No `.artrepo/` was found in the working directory or its parents."""


class StepInterfaceError(UserError):
    """A step returned something other than what it declares (ZenML's name)."""


class StepContextError(UserError):
    """The step context was asked for something the running step does not have (ZenML's name)."""


class MaterializerError(UserError):
    """A value cannot be saved or loaded by any materializer."""


class UntrustedPickleError(UserError):
    """A pickled artifact came from a source that is not trusted."""


class FormatError(ArtrepoError):
    """A repository or record uses a format this version does not understand."""

    exit_code = 3


class IntegrityError(ArtrepoError):
    """A stored object is missing, truncated or does not match its hash."""

    exit_code = 3


class RefLockedError(ArtrepoError):
    """A ref stayed locked by another writer past every retry."""
