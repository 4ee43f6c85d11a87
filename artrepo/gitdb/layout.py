"""Where everything lives: every ref name, `.artrepo/` path and lock path (docs/format.md §2, §8, §11a).

No other module spells a ref prefix, builds a ref name or a lock path: they
ask here. Pure functions over strings and paths; importing this module
costs nothing (no pygit2).

    layout.version_ref("iris", "3")                       -> "refs/artrepo/v/iris/3"
    layout.ref_stripe_lock(git_dir, layout.ref_stripe(ref))  -> git_dir/locks/ref-<stripe>
"""
from __future__ import annotations

from pathlib import Path

from artrepo import names

try:  # the interpreter's own SHA code: importing hashlib (OpenSSL) costs milliseconds
    from _sha256 import sha256
except ImportError:  # pragma: no cover - other interpreters
    from hashlib import sha256

DIR_NAME = ".artrepo"
# who writes commits and reflog lines; also written into every repository's config at init
IDENTITY_NAME, IDENTITY_EMAIL = "artrepo", "artrepo@localhost"
IDENTITY = f"{IDENTITY_NAME} <{IDENTITY_EMAIL}>"

# -- refs ----------------------------------------------------------------------------
PREFIX = "refs/artrepo/"
VERSIONS = PREFIX + "v"            # v/<name>/<label>: publishes a version (create-only)
HEADS = PREFIX + "heads"           # heads/<name>: latest version (derived)
ALIASES = PREFIX + "aliases"       # aliases/<name>/<alias>: movable, history in its reflog
ANNOTATIONS = PREFIX + "annotations"  # append-only chain of tags and metadata added later
RUNS = PREFIX + "runs"             # runs/<run id>: publishes a run (create-only)
PIPELINES = PREFIX + "pipelines"   # pipelines/<pipeline>: newest run of a pipeline (derived)
CACHE = PREFIX + "cache"           # cache/<key[:2]>/<key[2:]>: run holding a cache key (derived)
RUNS_HEAD = "refs/heads/runs"      # HEAD names it: `git log` shows runs (derived)
DERIVED = (HEADS + "/", PIPELINES + "/", CACHE + "/")


def version_prefix(name: str) -> str:
    """The folder of a name's version refs (`list_prefix` of it gives {encoded label: id})."""
    return f"{VERSIONS}/{names.encode(name)}"


def version_ref(name: str, label: str) -> str:
    return f"{VERSIONS}/{names.encode(name)}/{names.encode(label)}"


def head_ref(name: str) -> str:
    return f"{HEADS}/{names.encode(name)}"


def alias_prefix(name: str) -> str:
    return f"{ALIASES}/{names.encode(name)}"


def alias_ref(name: str, alias: str) -> str:
    return f"{ALIASES}/{names.encode(name)}/{names.encode(alias)}"


def run_ref(run_id: str) -> str:
    return f"{RUNS}/{run_id}"


def pipeline_ref(pipeline: str) -> str:
    return f"{PIPELINES}/{names.encode(pipeline)}"


def cache_ref(key: str) -> str:
    return f"{CACHE}/{key[:2]}/{key[2:]}"


def ref_kind(ref: str) -> str:
    """What a ref under refs/artrepo/ is: `version`, `alias`, `annotations`, `run`, `derived` or `other`.

    Transfers treat `version`, `run` and `other` as create-only (docs/format.md §11b).
    """
    if ref.startswith(VERSIONS + "/"):
        return "version"
    if ref.startswith(ALIASES + "/"):
        return "alias"
    if ref == ANNOTATIONS:
        return "annotations"
    if ref.startswith(RUNS + "/"):
        return "run"
    if ref.startswith(DERIVED):
        return "derived"
    return "other"


def split_version_ref(ref: str) -> tuple[str, str]:
    """(name, label) of `refs/artrepo/v/<name>/<label>`."""
    enc_name, _, enc_label = ref[len(VERSIONS) + 1:].rpartition("/")
    return names.decode(enc_name), names.decode(enc_label)


def split_alias_ref(ref: str) -> tuple[str, str]:
    """(name, alias) of `refs/artrepo/aliases/<name>/<alias>`."""
    enc_name, _, enc_alias = ref[len(ALIASES) + 1:].rpartition("/")
    return names.decode(enc_name), names.decode(enc_alias)


# -- paths inside a run's tree ---------------------------------------------------------
RUN_RECORD = "run.msgpack"
STEPS_TREE = "steps"
KEYS_TREE = "keys"


def step_path(step: str) -> str:
    return f"{STEPS_TREE}/{names.encode(step)}.msgpack"


# -- paths inside a version's tree -------------------------------------------------------
VERSION_RECORD = "record.msgpack"
MANIFEST = "manifest.msgpack"


# -- .artrepo/ -------------------------------------------------------------------------
def chunks_dir(git_dir: Path) -> Path:
    """The local content store: `packs/<xx>/<pack id>` and `index/<index hash>`."""
    return Path(git_dir) / "chunks"


def tmp_dir(git_dir: Path) -> Path:
    return Path(git_dir) / "tmp"


def locks_dir(git_dir: Path) -> Path:
    return Path(git_dir) / "locks"


def origins_dir(git_dir: Path) -> Path:
    """`origins/<version id>`: the remote a version was pulled from (never pushed)."""
    return Path(git_dir) / "origins"


def annotation_arrivals(git_dir: Path) -> Path:
    """`annotations-arrived`: lines `<blob id> <arrival ns> <remote>` of annotations merged from a remote."""
    return Path(git_dir) / "annotations-arrived"


def paths_cache(git_dir: Path) -> Path:
    """`cache/paths/<content hash>/`: read-only materialized copies of Path artifacts."""
    return Path(git_dir) / "cache" / "paths"


def visualizations_cache(git_dir: Path) -> Path:
    """`cache/visualizations/<version id>/`: visualization files written for `visualize()`."""
    return Path(git_dir) / "cache" / "visualizations"


def stored_on_dir(git_dir: Path) -> Path:
    """`stored-on/<version id>`: the remote holding the data of a version a run on a stack wrote there
    (never pushed; read on demand like a metadata-only pull, trusted like any version made here)."""
    return Path(git_dir) / "stored-on"


def remote_cache(git_dir: Path, remote: str) -> Path:
    """`remote-cache/<remote>/`: copies of a remote's index files and what was seen of it."""
    return Path(git_dir) / "remote-cache" / remote


INIT_FOLDERS = ("chunks/packs", "chunks/index", "locks", "tmp")


# -- locks (flock files under locks/) ----------------------------------------------------
# Locks are striped over a fixed set of files (no file per name or per ref: a repository
# with 100,000 refs keeps a few hundred lock files, and gc never holds more than one).
REF_STRIPES = 64
NAME_STRIPES = 256


def gc_lock(git_dir: Path) -> Path:
    """Held shared by every save, exclusively by gc."""
    return locks_dir(git_dir) / "gc"


def maintenance_lock(git_dir: Path) -> Path:
    """Held by whoever consolidates packs, index files or refs (one at a time; saves go on)."""
    return locks_dir(git_dir) / "maintenance"


def name_stripe(name: str) -> int:
    return int(sha256(name.encode()).hexdigest()[:4], 16) % NAME_STRIPES


def name_lock(git_dir: Path, name: str) -> Path:
    """Serializes the versions of one name (label allocation); holds the label counters of its stripe."""
    return name_stripe_lock(git_dir, name_stripe(name))


def name_stripe_lock(git_dir: Path, stripe: int) -> Path:
    return locks_dir(git_dir) / f"labels-{stripe:02x}"


def pipeline_lock(git_dir: Path, pipeline: str) -> Path:
    """Serializes the run chain of one pipeline."""
    return locks_dir(git_dir) / f"pipeline-{names.encode(pipeline)}"


def ref_stripe(ref: str) -> int:
    return int(sha256(ref.encode()).hexdigest()[:4], 16) % REF_STRIPES


def ref_stripe_lock(git_dir: Path, stripe: int) -> Path:
    """The flock every writer of a ref of this stripe (`ref_stripe(ref)`) takes."""
    return locks_dir(git_dir) / f"ref-{stripe:02x}"


def packed_refs_lock(git_dir: Path) -> Path:
    """Held by every artrepo writer of `packed-refs` (ref packing, deletions, bulk creations)."""
    return locks_dir(git_dir) / "packed-refs"


def keeps_reflog(ref: str) -> bool:
    """Whether updates of `ref` append to its reflog: aliases (their history), annotations and refs/heads/*.

    Version, run, head, pipeline and cache refs get none: a create-only ref's
    reflog would be one line in one more file per version.
    """
    return ref.startswith((ALIASES + "/", "refs/heads/")) or ref == ANNOTATIONS
