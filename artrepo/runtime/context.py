"""Where the API learns whether it runs inside a step or a pipeline body."""
from __future__ import annotations

import contextvars

_STEP: contextvars.ContextVar = contextvars.ContextVar("artrepo_step", default=None)
_COMPOSING: contextvars.ContextVar = contextvars.ContextVar("artrepo_composing", default=None)


def current_step():
    """The running step's context, or None outside a step."""
    return _STEP.get()


def composing():
    """The pipeline being composed (inside a pipeline body), or None."""
    return _COMPOSING.get()
