#!/usr/bin/env python3
"""Draws a simulator timeline (Chrome/Perfetto trace JSON from --trace or a
shrunk failure) as an SVG picture: a row per track, spans as bars, instants as
marks, request flows as arrows. Usage: trace_to_svg.py TRACE.json OUT.svg"""
import html
import json
import sys

events = json.load(open(sys.argv[1]))["traceEvents"]
names = {e["tid"]: e["args"]["name"] for e in events if e.get("name") == "thread_name"}
rows = sorted(names)
timed = [e for e in events if e["ph"] in ("X", "i", "s", "f")]
end_us = max(e["ts"] + e.get("dur", 0) for e in timed) or 1
left, width, row_h, top = 120, 860, 46, 40
height = top + row_h * len(rows) + 40
y_of = {tid: top + i * row_h for i, tid in enumerate(rows)}
x = lambda us: left + width * us / end_us
out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{left + width + 40}" height="{height}" font-family="monospace" font-size="11">',
       '<rect width="100%" height="100%" fill="white"/>',
       f'<text x="{left}" y="20" font-size="13">simulated time 0 .. {end_us / 1000:.0f} ms</text>']
for tid in rows:
    y = y_of[tid]
    out.append(f'<text x="8" y="{y + 24}">{html.escape(names[tid])}</text>')
    out.append(f'<line x1="{left}" y1="{y + row_h - 4}" x2="{left + width}" y2="{y + row_h - 4}" stroke="#ddd"/>')
starts = {}
failure = ""
for e in timed:
    y = y_of.get(e.get("tid"))
    if y is None:
        continue
    label = html.escape(e.get("name", ""))
    detail = html.escape(e.get("args", {}).get("detail", ""))
    if e["ph"] == "X" and not e["name"].startswith("served "):
        x0, x1 = x(e["ts"]), max(x(e["ts"] + e["dur"]), x(e["ts"]) + 3)
        color = "#f4a261" if names[e["tid"]] == "faults" else "#e76f51" if "down" in e["name"] else "#8ecae6"
        out.append(f'<rect x="{x0:.1f}" y="{y + 8}" width="{x1 - x0:.1f}" height="22" fill="{color}" stroke="#555"><title>{label}: {detail}</title></rect>')
        anchor = "end" if x1 > left + width * 0.7 else "start"
        out.append(f'<text x="{(x1 if anchor == "end" else x0 + 2):.1f}" y="{y + 42}" font-size="9" text-anchor="{anchor}">{label[:70]}</text>')
    elif e["ph"] == "i":
        xi = x(e["ts"])
        color = "#d00000" if e["name"].startswith("FAIL") else "#2a9d8f"
        out.append(f'<path d="M{xi:.1f},{y + 6} l7,13 l-7,13 l-7,-13 z" fill="{color}"><title>{label}: {detail}</title></path>')
        near_end = xi > left + width * 0.7
        out.append(f'<text x="{(xi - 9 if near_end else xi + 9):.1f}" y="{y + 24}" fill="{color}" text-anchor="{"end" if near_end else "start"}">{label}</text>')
        if e["name"].startswith("FAIL"):
            failure = detail
    elif e["ph"] == "s":
        starts[e["id"]] = (x(e["ts"]), y + 30)
    elif e["ph"] == "f" and e["id"] in starts:
        (sx, sy), fx = starts[e["id"]], x(e["ts"])
        out.append(f'<line x1="{sx:.1f}" y1="{sy}" x2="{fx:.1f}" y2="{y + 8}" stroke="#888" stroke-dasharray="3,2"/>')
words, line, lines = failure.split(" "), "", []
for word in words:
    if len(line) + len(word) > 140:
        lines.append(line)
        line = ""
    line += word + " "
lines.append(line)
for i, text in enumerate(l for l in lines if l.strip()):
    out.append(f'<text x="8" y="{top + row_h * len(rows) + 20 + 14 * i}" fill="#d00000" font-size="10">{text}</text>')
out[0] = out[0].replace(f'height="{height}"', f'height="{height + 14 * len(lines)}"')
out.append("</svg>")
open(sys.argv[2], "w").write("\n".join(out) + "\n")
