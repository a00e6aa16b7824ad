"""Linked applications drawn as a small graph (SVG text, escaped: ids are untrusted).

The case sits in the middle; every application that shared an identifier with it within
the window is a node on a circle around it, coloured by its outcome (confirmed fraud in
red), and the edge says which identifiers they share.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from html import escape

COLOURS = {"FRAUD": "#c0392b", "DECLINE": "#e67e22", "REVIEW": "#f1c40f", "APPROVE": "#27ae60"}


@dataclass(frozen=True, slots=True)
class Link:
    application_id: str
    shared: tuple[str, ...]  # identifier kinds: id, device, phone, email, ip, address
    decision: str | None
    fraud_confirmed: bool
    event_time_ms: int


def _colour(link: Link) -> str:
    return COLOURS["FRAUD"] if link.fraud_confirmed else COLOURS.get(link.decision or "", "#999")


def svg(center_id: str, links: Sequence[Link], size: int = 420, limit: int = 24) -> str:
    c = size / 2
    radius = size / 2 - 60
    shown = list(links)[:limit]
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {size} {size}" '
             f'width="{size}" height="{size}" role="img" aria-label="linked applications">']
    nodes = []
    for i, link in enumerate(shown):
        angle = 2 * math.pi * i / max(1, len(shown)) - math.pi / 2
        x, y = c + radius * math.cos(angle), c + radius * math.sin(angle)
        parts.append(f'<line x1="{c:.0f}" y1="{c:.0f}" x2="{x:.0f}" y2="{y:.0f}" '
                     'stroke="#888" stroke-width="1.5"/>')
        mx, my = (c + x) / 2, (c + y) / 2
        parts.append(f'<text x="{mx:.0f}" y="{my:.0f}" font-size="10" fill="#444">'
                     f'{escape(",".join(link.shared))}</text>')
        title = (f"{link.application_id}: {link.decision or '?'}"
                 + (" · fraud confirmed" if link.fraud_confirmed else ""))
        nodes.append(f'<circle cx="{x:.0f}" cy="{y:.0f}" r="12" fill="{_colour(link)}">'
                     f'<title>{escape(title)}</title></circle>'
                     f'<text x="{x:.0f}" y="{y + 26:.0f}" font-size="9" text-anchor="middle">'
                     f'{escape(link.application_id[-10:])}</text>')
    parts += nodes
    parts.append(f'<circle cx="{c:.0f}" cy="{c:.0f}" r="16" fill="#2c3e50"><title>'
                 f'{escape(center_id)}</title></circle>')
    if len(links) > len(shown):
        parts.append(f'<text x="4" y="{size - 6}" font-size="11">+{len(links) - len(shown)} '
                     'more not drawn</text>')
    if not links:
        parts.append(f'<text x="{c:.0f}" y="{c + 40:.0f}" text-anchor="middle" font-size="12">'
                     'no linked applications in the window</text>')
    parts.append("</svg>")
    return "".join(parts)
