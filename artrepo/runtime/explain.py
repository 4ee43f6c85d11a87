"""Why a step was (or was not) served from cache, and the one-line step reports of `artrepo run`."""
from __future__ import annotations

from artrepo.plain import Frozen


class Decision(Frozen):
    """`outcome` is hit, miss, off (caching disabled) or skipped; `reason` says why."""

    __slots__ = ("step", "outcome", "reason")

    def __init__(self, step: str, outcome: str, reason: str):
        self._init(step=step, outcome=outcome, reason=reason)


def step_line(record, decision: Decision | None = None) -> str:
    """`step NAME: completed in 0.12s -> out=3f2a…` and friends."""
    if record.status == "completed" and record.cached:
        state = "cached"
    elif record.status == "completed" and record.start_ns and record.end_ns:
        state = f"completed in {(record.end_ns - record.start_ns) / 1e9:.2f}s"
    else:
        state = record.status
    line = f"step {record.name}: {state}"
    if record.executor.get("worker"):
        line += f" on {record.executor['worker']}"
    if record.outputs:
        line += " -> " + ", ".join(f"{k}={v[:12]}" for k, v in record.outputs.items())
    if record.error:
        line += f"\n  error: {(record.error.splitlines() or [''])[0]}"
    if decision is not None:
        line += f"\n  cache {decision.outcome}: {decision.reason}"
    return line
