"""A cache hit: the driver's decision whether an earlier run's outputs of a step may be reused.

The step's cache key must name a completed step of an earlier run, from this
repository or a trusted remote, whose outputs are still published (and, on a
stack, readable by the workers from its artifact store). `driver` is the
`runtime.driver.Driver` deciding.
"""
from __future__ import annotations

import time

from artrepo.runtime import cachekey


def cache_hit(driver, ps, base):
    """The record of `ps` served from cache, or None (a miss, explained with --explain)."""
    found = driver.repo.cached_step(base.cache_key)
    if found is None:
        if driver.options.explain:
            driver._explain(ps.name, "miss", _closest_difference(driver, ps.name, base.key_parts))
        return None
    commit, earlier = found
    if not driver.repo.trusts(commit):  # a claim that this code made those outputs, from a remote not trusted
        driver._explain(ps.name, "miss", f"same cache key as a run pulled from remote {driver.repo.origin(commit)}, "
                      "which is not trusted: its cache entries are not used (add it with --trusted to use them)")
        return None
    missing = [k for k, vid in earlier.outputs.items()
               if not _output_present(driver, vid, ps.artifact_names.get(k), earlier.output_labels.get(k))]
    run_id = driver.repo.read_run(commit).run_id
    if missing:
        driver._explain(ps.name, "miss", f"same cache key as run {run_id[:12]}, but its output "
                      f"{missing[0]!r} is no longer in the repository")
        return None
    if driver.stack is not None:  # workers read the outputs from the stack's store: their data must be there
        for key, vid in earlier.outputs.items():
            why = driver._stack_store().unavailable([vid])
            if why is not None:
                driver._explain(ps.name, "miss", f"same cache key as run {run_id[:12]}, but its output {key!r}: "
                              f"{why}")
                return None
    driver._explain(ps.name, "hit", f"same cache key as step {earlier.name!r} of run {run_id[:12]}")
    return base.replace(status="completed", cached=True, outputs=dict(earlier.outputs),
                        output_labels=dict(earlier.output_labels), cached_from=earlier.cached_from or run_id,
                        end_ns=time.time_ns())

def _output_present(driver, version_id: str, name: str | None, label: str | None) -> bool:
    """Whether a version a cache hit would reuse is still published.

    The cache key covers the output names, so the plan's `name` is the
    version's: its ref is checked without decoding the version record.
    """
    from artrepo.errors import ArtrepoError

    if name is not None and label is not None:
        if driver.repo.version_id(name, label) == version_id:
            driver.repo.hint_label(version_id, label)  # the next step's input: `by_id` checks it, no bisecting
            return True
    try:
        driver.repo.by_id(version_id)  # the label may have changed (renumbered on push)
        return True
    except ArtrepoError:
        return False

def _closest_difference(driver, step: str, parts: dict) -> str:
    for commit in driver.repo.pipeline_history(driver.plan.pipeline):
        earlier = driver.repo.read_step(commit, step)
        if earlier is None or not earlier.key_parts:
            continue
        what = cachekey.first_difference(earlier.key_parts, parts)
        run_id = driver.repo.read_run(commit).run_id[:12]
        if what is None:
            return f"same key as run {run_id}, which did not complete this step ({earlier.status})"
        return f"{what} since run {run_id}"
    return "no earlier run of this step"
