"""The fallback: cloudpickle, with a warning and the versions it depends on.

A pickle runs code when loaded. artrepo records the Python and cloudpickle
versions at save time, refuses to load under another Python minor version,
and (see artifacts.py) never loads one from an untrusted remote.
"""
from __future__ import annotations

import contextlib
import sys
import warnings
from contextvars import ContextVar
from typing import Any

from artrepo.errors import MaterializerError, UntrustedPickleError
from artrepo.materializers.base import BaseMaterializer
from artrepo.records.artifact import ArtifactType

FILE = "artifact.pkl"
# Set while a version from an untrusted source loads: the refusal to raise instead of unpickling.
# Checked at the one place that unpickles, so a record that hides its pickles (no `cloudpickle` in
# its environment, or a pickle nested in a container) cannot get one past the check in load_value.
_REFUSAL: ContextVar[str | None] = ContextVar("artrepo_pickle_refusal", default=None)


@contextlib.contextmanager
def refuse_unpickling(message: str | None):
    """Within the block, loading a pickle raises UntrustedPickleError(message) (None: allowed)."""
    token = _REFUSAL.set(message)
    try:
        yield
    finally:
        _REFUSAL.reset(token)


def may_run_code() -> bool:
    """Whether the version being loaded may run code: pickles, and `py:` materializers nested in it.

    The same trust rule (written here, from a trusted remote, or allow_pickle=True).
    """
    return _REFUSAL.get() is None


def environment() -> dict[str, str]:
    import cloudpickle

    return {"python": "%d.%d.%d" % sys.version_info[:3], "cloudpickle": cloudpickle.__version__}


class CloudpickleMaterializer(BaseMaterializer):
    ASSOCIATED_TYPES = (object,)
    ASSOCIATED_ARTIFACT_TYPE = ArtifactType.DATA
    STREAMS = True
    ID = "cloudpickle/v1"

    def save(self, data: Any) -> None:
        import cloudpickle

        if type(self) is CloudpickleMaterializer:  # chosen because nothing else fits (as in ZenML)
            warnings.warn(
                f"no materializer for {type(data).__module__}.{type(data).__qualname__}: saving it with "
                "cloudpickle, which loads only under the same Python version and runs code when loaded; "
                "write a materializer for this type to avoid it",
                UserWarning, stacklevel=4,
            )
        try:
            payload = cloudpickle.dumps(data, protocol=5)
        except Exception as exc:
            raise MaterializerError(
                f"cannot save {type(data).__qualname__}: it has no materializer and cannot be pickled ({exc})"
            ) from None
        with self.open(FILE, "wb") as f:
            f.write(payload)

    def load(self, data_type: type) -> Any:
        import cloudpickle

        refusal = _REFUSAL.get()
        if refusal is not None:
            raise UntrustedPickleError(refusal)
        with self.open(FILE, "rb") as f:
            return cloudpickle.loads(f.read())


class CloudpickleModelMaterializer(CloudpickleMaterializer):
    """A well-known model class (model_classes.py): the same pickle, typed MODEL, no warning."""

    ASSOCIATED_ARTIFACT_TYPE = ArtifactType.MODEL
    ID = CloudpickleMaterializer.ID  # loads as any pickle


def check_environment(recorded: dict) -> None:
    """Refuse to unpickle under another Python minor version than the one that pickled."""
    saved = recorded.get("python", "")
    here = "%d.%d" % sys.version_info[:2]
    if saved and ".".join(saved.split(".")[:2]) != here:
        raise MaterializerError(
            f"this artifact was pickled under Python {saved} and cannot be loaded safely under "
            f"Python {here}; load it with Python {'.'.join(saved.split('.')[:2])}"
        )
