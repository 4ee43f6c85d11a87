"""Issue 14 item 12: tags, metadata and records with escape sequences never reach a terminal raw.

A teammate's record may hold OSC 0 (window title), CSI 2J (clear screen), OSC 8
(hyperlinks), OSC 52 (clipboard writes), C1 controls and bidi overrides
(recipes.forge_escapes). Every human-readable output is checked with its stdout
piped, as a script would see it.
"""
from __future__ import annotations

import textwrap

from harness import TERMINAL_CONTROL


def test_no_control_sequence_from_a_remote_reaches_the_terminal(world):
    victim = world.victim
    outputs = {}
    for args in (["show", "esc"], ["show", "esc", "--json"], ["log", "esc"], ["list"], ["log"],
                 ["show", world.run_id], ["lineage", "total"], ["du"], ["tag", "esc", "mine"], ["fsck"],
                 ["artifact", "version", "describe", "esc"], ["artifact", "version", "list"]):
        proc = victim.cli(*args)
        # fsck may exit 3 on the world's other forgeries once it checks manifests
        assert proc.returncode in ((0, 3) if args == ["fsck"] else (0,)), (args, proc)
        outputs[" ".join(args)] = proc.stdout + proc.stderr
    for command, text in outputs.items():
        assert not TERMINAL_CONTROL.search(text), (command, text)
    shown = outputs["show esc"]
    assert "\\x1b]0;pwned\\x07" in shown and "\\x9b31mred" in shown and "rtl\\u202eexe.txt" in shown, shown
    assert "\nForged: line" not in shown  # a value cannot fake a line of its own
    assert "\\x1b]52;c;" in outputs[f"show {world.run_id}"]
    assert "run " in outputs["log"]


PARSES_NOTE = textwrap.dedent("""
    from artrepo import Client, pipeline, step

    @step
    def parse(note: str) -> int:
        raise ValueError(f"cannot parse {note}")

    @pipeline
    def parses_note():
        parse(Client().get_artifact_version("esc-text"))
""")


def test_error_messages_carrying_repository_text_are_escaped_and_one_line(world, tmp_path):
    """A step failing on a teammate's text, and a path refused in a manifest: both quote what they saw."""
    victim = world.victim
    (victim.root / "parses_note.py").write_text(PARSES_NOTE)
    run = victim.cli("run", "parses_note.py")
    assert run.refused(1) and "cannot parse a teammate's note\\x1b]0;pwned" in run.stderr, run
    assert not TERMINAL_CONTROL.search(run.stdout + run.stderr), run
    proc = victim.cli("export", "esc-path", str(tmp_path / "out"))
    assert proc.refused(3) and not TERMINAL_CONTROL.search(proc.stderr), proc
