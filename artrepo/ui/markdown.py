"""A small, safe Markdown renderer for Markdown visualizations.

Everything is escaped first; only a fixed set of constructs becomes markup:
headings, paragraphs, bullet and numbered lists, fenced code, pipe tables,
`code`, **bold**, *emphasis* and links to http(s) or relative URLs. Raw HTML
in the source stays visible text, so an artifact cannot inject markup.

    render("# Results\\n\\n| a | b |\\n|---|---|\\n| 1 | 2 |")
"""
from __future__ import annotations

import html
import re

_HEADING = re.compile(r"(#{1,6})\s+(.*)")
_BULLET = re.compile(r"\s*[-*+]\s+(.*)")
_NUMBERED = re.compile(r"\s*\d+[.)]\s+(.*)")
_TABLE_RULE = re.compile(r"\s*\|?\s*:?-{2,}:?\s*(\|\s*:?-{2,}:?\s*)*\|?\s*")
_LINK = re.compile(r"\[([^\]]+)\]\(((?:https?://|/|\./|#)[^\s)\"']*)\)")


def inline(text: str) -> str:
    out = html.escape(text, quote=True)
    out = re.sub(r"`([^`]+)`", r"<code>\1</code>", out)
    out = re.sub(r"\*\*([^*]+)\*\*", r"<strong>\1</strong>", out)
    out = re.sub(r"(?<![*\w])\*([^*]+)\*(?!\w)", r"<em>\1</em>", out)
    return _LINK.sub(r'<a href="\2" rel="noopener noreferrer">\1</a>', out)


def _cells(line: str) -> list[str]:
    return [c.strip() for c in line.strip().strip("|").split("|")]


def render(source: str) -> str:
    lines = source.splitlines()
    out, para, i = [], [], 0

    def flush():
        if para:
            out.append("<p>" + inline(" ".join(para)) + "</p>")
            para.clear()

    while i < len(lines):
        line = lines[i]
        if line.strip().startswith("```"):
            flush()
            end = next((j for j in range(i + 1, len(lines)) if lines[j].strip().startswith("```")), len(lines))
            out.append("<pre><code>" + html.escape("\n".join(lines[i + 1:end])) + "</code></pre>")
            i = end + 1
        elif "|" in line and i + 1 < len(lines) and _TABLE_RULE.fullmatch(lines[i + 1]):
            flush()
            head = "".join(f"<th>{inline(c)}</th>" for c in _cells(line))
            i += 2
            body = []
            while i < len(lines) and "|" in lines[i]:
                body.append("<tr>" + "".join(f"<td>{inline(c)}</td>" for c in _cells(lines[i])) + "</tr>")
                i += 1
            out.append(f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>")
        elif m := _HEADING.fullmatch(line):
            flush()
            level = len(m.group(1))
            out.append(f"<h{level}>{inline(m.group(2))}</h{level}>")
            i += 1
        elif _BULLET.fullmatch(line) or _NUMBERED.fullmatch(line):
            flush()
            pattern, tag = (_BULLET, "ul") if _BULLET.fullmatch(line) else (_NUMBERED, "ol")
            items = []
            while i < len(lines) and (m := pattern.fullmatch(lines[i])):
                items.append(f"<li>{inline(m.group(1))}</li>")
                i += 1
            out.append(f"<{tag}>{''.join(items)}</{tag}>")
        elif not line.strip():
            flush()
            i += 1
        else:
            para.append(line.strip())
            i += 1
    flush()
    return "\n".join(out)
