#!/usr/bin/env python3
"""Draw SVG charts from the JSON results written by vz-bench.

Usage: python3 bench/charts.py RESULTS.json [OUTDIR]

Only the Python standard library is used; every chart is hand-written SVG.
The charts, written to OUTDIR (default: the directory of RESULTS.json):

  startup-<workload>.svg   Cumulative distribution (CDF) of start-to-exit
                           latency, one step line per mode, on a log-scale
                           millisecond axis; the p50 of each mode is marked
                           with a circle and quoted in the legend.
  concurrency.svg          Throughput (sandboxes/s, log) against concurrency
                           level (log): p50 of the rounds, with a min-max
                           whisker; a red ring marks a point with failures.
  concurrency-latency.svg  Per-sandbox latency p50 (solid) and p99 (dashed)
                           against concurrency level, both axes log scale.
  phases.svg               Horizontal stacked bars of the p50 of each phase
                           of a libvz sandbox's life, one panel per mode, each
                           with its own linear scale (VM phases can be 1000x
                           the container ones).

Modes marked "available": false and modes without samples are left out; a
chart with nothing to show is not written.  Each mode has one colour (from
the colour-blind-friendly Okabe-Ito palette, in sorted order of the names in
results["modes"]) across all charts, and each mode's curve or polyline
carries data-mode="<mode>" (on concurrency-latency.svg both the p50 and the
p99 line do, told apart by data-stat; on phases.svg each mode's panel does).

The paths of the SVGs written are printed one per line.  Bad input (missing
file, not JSON, missing keys "host", "workloads", "modes" or "latency")
gives a one-line error on stderr and exit status 1.  "concurrency" and
"phases" may be absent or null.
"""

import argparse
import json
import math
import os
import re
import sys
from xml.sax.saxutils import escape

WIDTH = 900
# Okabe-Ito (yellow last: weak on white), then Paul Tol's muted colours.
PALETTE = ["#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9",
           "#000000", "#F0E442", "#332288", "#882255", "#44AA99", "#999933"]
FAIL_RED = "#E41A1C"
EPS_MS = 1e-3  # floor for values on a log axis (avoid log(0))


class DataError(Exception):
    """The results file is unusable; the message names the problem."""


# ---------------------------------------------------------------- helpers

def esc(s):
    """Escape text for use in SVG element content or a quoted attribute."""
    return escape(str(s), {'"': "&quot;"})


def num(v):
    """v as a finite float, or None (null, strings, booleans, nan, inf)."""
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        return None
    v = float(v)
    return v if math.isfinite(v) else None


def pos(v):
    """v as a float >= EPS_MS for a log axis, or None unless a number > 0."""
    v = num(v)
    return None if v is None or v <= 0 else max(v, EPS_MS)


def fmt_ms(v):
    """A duration in ms as short text: '850 µs', '4.2 ms', '24.0 s'."""
    for scale, unit in ((1000.0, "s"), (1.0, "ms"), (0.001, "µs")):
        if v >= scale or unit == "µs":
            x = v / scale
            return ("%.0f %s" if x >= 100 else "%.1f %s") % (x, unit)


def decade_label_ms(k):
    """Label for the tick at 10**k ms: '100 µs', '1 ms', '10 s'."""
    for base, unit in ((3, "s"), (0, "ms"), (-3, "µs")):
        if k >= base:
            return "%d %s" % (10 ** (k - base), unit)
    return "%g ns" % 10.0 ** (k + 6)


def decade_label(k):
    """Label for the tick at 10**k: '0.1', '1', '1000'."""
    return str(10 ** k) if k >= 0 else "%g" % 10.0 ** k


def decades(lo, hi):
    """Exponents of the decades that cover lo..hi (at least two)."""
    d0 = math.floor(math.log10(lo) + 1e-9)
    d1 = math.ceil(math.log10(hi) - 1e-9)
    return list(range(d0, max(d1, d0 + 1) + 1))


class Scale:
    """Map data values in [lo, hi] onto pixels p0..p1, linear or log10."""

    def __init__(self, lo, hi, p0, p1, log=False):
        self.log = log
        self.lo, self.hi = (math.log10(lo), math.log10(hi)) if log else (lo, hi)
        if self.hi <= self.lo:  # degenerate range: widen it
            self.hi = self.lo + 1
        self.p0, self.p1 = p0, p1

    def __call__(self, v):
        v = math.log10(max(v, 1e-300)) if self.log else v
        t = min(max((v - self.lo) / (self.hi - self.lo), 0.0), 1.0)
        return round(self.p0 + t * (self.p1 - self.p0), 2)


class Svg:
    """Collects SVG elements; render() wraps them with a size and title."""

    def __init__(self, title, subtitle):
        self.title, self.body = title, []
        self.text(WIDTH / 2, 26, title, 17, "middle", ' font-weight="bold"')
        if len(subtitle) > 130:
            subtitle = subtitle[:129] + "…"
        self.text(WIDTH / 2, 46, subtitle, 11, "middle", ' fill="#444"')

    def add(self, s):
        self.body.append(s)

    def text(self, x, y, s, size=12, anchor="start", extra=""):
        self.add('<text x="%g" y="%g" font-size="%d" text-anchor="%s"%s>%s</text>'
                 % (x, y, size, anchor, extra, esc(s)))

    def line(self, x1, y1, x2, y2, stroke="#000", width=1, extra=""):
        self.add('<line x1="%g" y1="%g" x2="%g" y2="%g" stroke="%s" '
                 'stroke-width="%g"%s/>' % (x1, y1, x2, y2, stroke, width, extra))

    def render(self, height, desc=""):
        head = ('<?xml version="1.0" encoding="UTF-8"?>\n'
                '<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" '
                'viewBox="0 0 %d %d" font-family="sans-serif">\n<title>%s</title>\n'
                % (WIDTH, height, WIDTH, height, esc(self.title)))
        if desc:
            head += "<desc>%s</desc>\n" % esc(desc)
        head += '<rect x="0" y="0" width="%d" height="%d" fill="#fff"/>\n' % (WIDTH, height)
        return head + "\n".join(self.body) + "\n</svg>\n"


def log_frame(svg, box, xs, ys, xticks, yticks, xtitle, ytitle):
    """Plot frame with gridlines; ticks are (value, label-or-None) pairs."""
    left, top, right, bottom = box
    for v, label in xticks:
        x = xs(v)
        svg.line(x, top, x, bottom, "#ddd" if label else "#f0f0f0")
        if label:
            svg.text(x, bottom + 16, label, 11, "middle")
    for v, label in yticks:
        y = ys(v)
        svg.line(left, y, right, y, "#ddd" if label else "#f0f0f0")
        if label:
            svg.text(left - 6, y + 4, label, 11, "end")
    svg.add('<rect x="%g" y="%g" width="%g" height="%g" fill="none" stroke="#333"/>'
            % (left, top, right - left, bottom - top))
    svg.text((left + right) / 2, bottom + 36, xtitle, 12, "middle")
    cy = (top + bottom) / 2
    svg.text(18, cy, ytitle, 12, "middle", ' transform="rotate(-90 18 %g)"' % cy)


def decade_ticks(lo, hi, label):
    """Major decade ticks (labelled) plus unlabelled 2..9 minor ticks."""
    ks = decades(lo, hi)
    ticks = [(10.0 ** k, label(k)) for k in ks]
    ticks += [(m * 10.0 ** k, None) for k in ks[:-1] for m in range(2, 10)]
    return ks, ticks


def legend(svg, y, items):
    """Legend rows below the plot: items are (colour, dasharray, label,
    note); the notes line up in a second column."""
    col = 118 + 16 + 7 * max(len(label) for _, _, label, _ in items)
    for colour, dash, label, note in items:
        svg.line(80, y - 4, 110, y - 4, colour, 2.5,
                 ' stroke-dasharray="%s"' % dash if dash else "")
        svg.add('<text x="118" y="%g" font-size="12">%s%s</text>' % (
            y, esc(label), '<tspan x="%g">  %s</tspan>' % (col, esc(note)) if note else ""))
        y += 20
    return y


# ---------------------------------------------------------------- loading

# Lists in the results, and the keys each of their entries must have.
REQUIRED = {"workloads": ("name",), "modes": ("name",), "latency": ("mode", "workload")}
OPTIONAL = {"concurrency": ("mode", "level"), "phases": ("mode", "workload", "phases")}


def load(path):
    """Read and check the results; raise DataError naming what is wrong."""
    try:
        with open(path, encoding="utf-8") as f:
            res = json.load(f)
    except OSError as e:
        raise DataError("cannot read: %s" % (e.strerror or e))
    except (ValueError, UnicodeDecodeError) as e:
        raise DataError("not valid JSON: %s" % e)
    if not isinstance(res, dict):
        raise DataError("top level is not a JSON object")
    if "host" not in res:
        raise DataError("missing key 'host'")
    for key, subs in list(REQUIRED.items()) + list(OPTIONAL.items()):
        if key in OPTIONAL and res.get(key) is None:
            res[key] = []  # absent or null: no such chart
        if key not in res:
            raise DataError("missing key '%s'" % key)
        if not isinstance(res[key], list):
            raise DataError("'%s' is not a list" % key)
        for i, item in enumerate(res[key]):
            for sub in subs:
                if not isinstance(item, dict) or sub not in item:
                    raise DataError("missing key '%s[%d].%s'" % (key, i, sub))
    return res


class Context:
    """Per-results facts shared by the charts: colours, availability, host."""

    def __init__(self, res):
        self.res = res
        self.modes = {m["name"]: m for m in res["modes"]}
        names = sorted(self.modes, key=str)
        seen = {e["mode"] for k in ("latency", "concurrency", "phases") for e in res[k]}
        names += sorted(n for n in seen if n not in self.modes)
        self.colour = {n: PALETTE[i % len(PALETTE)] for i, n in enumerate(names)}
        host = res["host"] if isinstance(res["host"], dict) else {}
        parts = [host.get("cpu"), host.get("kernel")]
        parts += ["kvm: %s" % host["kvm"] if host.get("kvm") else None,
                  "cgroup: %s" % host["cgroup"] if host.get("cgroup") else None]
        self.subtitle = "host: " + (" · ".join(str(p) for p in parts if p) or "unknown")
        self.desc = "vz-bench %s, libvz %s: %s" % (
            res.get("date"), res.get("libvz_version"), res.get("command"))

    def usable(self, mode):
        """False only for modes explicitly marked unavailable."""
        return self.modes.get(mode, {}).get("available") is not False

    def entries(self, key):
        return sorted((e for e in self.res[key] if self.usable(e["mode"])),
                      key=lambda e: list(self.colour).index(e["mode"]))


# ---------------------------------------------------------------- charts

def chart_startup(ctx, wl):
    """CDF of start-to-exit latency for one workload; None if no data."""
    series = []
    for e in ctx.entries("latency"):
        if e["workload"] != wl["name"]:
            continue
        samples = sorted(s for s in map(pos, e.get("samples_ms") or []) if s is not None)
        if not samples:
            continue
        n = len(samples)
        p50 = pos((e.get("summary_ms") or {}).get("p50"))
        if p50 is None:
            p50 = (samples[(n - 1) // 2] + samples[n // 2]) / 2
        series.append((e["mode"], samples, p50))
    if not series:
        return None
    about = wl.get("about") or wl["name"]
    svg = Svg("Start-to-exit latency: %s" % about, ctx.subtitle)
    box = (80, 70, WIDTH - 30, 430)
    lo = min(min(s[0], p) for _, s, p in series)
    hi = max(max(s[-1], p) for _, s, p in series)
    ks, xticks = decade_ticks(lo, hi, decade_label_ms)
    xs = Scale(10.0 ** ks[0], 10.0 ** ks[-1], box[0], box[2], log=True)
    ys = Scale(0.0, 1.0, box[3], box[1])
    yticks = [(f, "%g" % f) for f in (0, 0.25, 0.5, 0.75, 1)]
    log_frame(svg, box, xs, ys, xticks, yticks,
              "start-to-exit latency (log scale)", "fraction of runs")
    items = []
    for mode, samples, p50 in series:
        colour = ctx.colour[mode]
        # Step line of the empirical CDF: up by 1/n at each sample.
        d = ["M%g,%g" % (xs(samples[0]), ys(0))]
        for i, s in enumerate(samples):
            d.append("H%g V%g" % (xs(s), ys((i + 1) / len(samples))))
        svg.add('<path d="%s" fill="none" stroke="%s" stroke-width="2" '
                'data-mode="%s"/>' % (" ".join(d), colour, esc(mode)))
        svg.add('<circle cx="%g" cy="%g" r="4.5" fill="%s" stroke="#fff">'
                '<title>%s p50 %s</title></circle>'
                % (xs(p50), ys(0.5), colour, esc(mode), esc(fmt_ms(p50))))
        items.append((colour, None, mode, "p50 %s  (n=%d)" % (fmt_ms(p50), len(samples))))
    y = legend(svg, box[3] + 66, items)
    return svg.render(y + 6, ctx.desc)


def concurrency_series(ctx, key, stats):
    """{mode: [(level, {stat: value}, failures)]} from results["concurrency"]."""
    out = {}
    for e in ctx.entries("concurrency"):
        level = num(e["level"])
        vals = {s: pos((e.get(key) or {}).get(s)) for s in stats}
        if level is None or level <= 0 or vals[stats[0]] is None:
            continue
        failures = num(e.get("failures")) or 0
        out.setdefault(e["mode"], []).append((level, vals, failures))
    for pts in out.values():
        pts.sort(key=lambda p: p[0])
    return out


def concurrency_axes(svg, series, stats, label, ytitle):
    """Frame for a concurrency chart; returns (box, x scale, y scale)."""
    box = (80, 70, WIDTH - 30, 430)
    levels = sorted({p[0] for pts in series.values() for p in pts})
    vals = [p[1][s] for pts in series.values() for p in pts for s in stats if p[1][s]]
    xlo, xhi = levels[0] / 1.4, levels[-1] * 1.4
    xs = Scale(xlo, xhi, box[0], box[2], log=True)
    ks, yticks = decade_ticks(min(vals), max(vals), label)
    ys = Scale(10.0 ** ks[0], 10.0 ** ks[-1], box[3], box[1], log=True)
    log_frame(svg, box, xs, ys, [(v, "%g" % v) for v in levels], yticks,
              "concurrent sandboxes (log scale)", ytitle)
    return box, xs, ys


def chart_concurrency(ctx):
    """Throughput (p50 with min-max whisker) against concurrency level."""
    series = concurrency_series(ctx, "throughput_per_s", ("p50", "min", "max"))
    if not series:
        return None
    svg = Svg("Throughput versus concurrency", ctx.subtitle)
    box, xs, ys = concurrency_axes(svg, series, ("p50", "min", "max"),
                                   decade_label, "sandboxes per second (log scale)")
    items, failed = [], False
    for i, (mode, pts) in enumerate(series.items()):
        colour = ctx.colour[mode]
        dx = (i - (len(series) - 1) / 2) * 3  # keep whiskers apart
        for level, v, _ in pts:
            if v["min"] and v["max"]:
                x = xs(level) + dx
                svg.line(x, ys(v["min"]), x, ys(v["max"]), colour, 1)
                for end in (v["min"], v["max"]):
                    svg.line(x - 3, ys(end), x + 3, ys(end), colour, 1)
        svg.add('<polyline points="%s" fill="none" stroke="%s" stroke-width="2" '
                'data-mode="%s"/>' % (" ".join("%g,%g" % (xs(p[0]) + dx, ys(p[1]["p50"]))
                                               for p in pts), colour, esc(mode)))
        for level, v, failures in pts:
            x, y = xs(level) + dx, ys(v["p50"])
            svg.add('<circle cx="%g" cy="%g" r="4" fill="%s" stroke="#fff">'
                    '<title>%s at %g: %.4g/s</title></circle>'
                    % (x, y, colour, esc(mode), level, v["p50"]))
            if failures > 0:
                failed = True
                svg.add('<circle cx="%g" cy="%g" r="8" fill="none" stroke="%s" '
                        'stroke-width="2"><title>%d failed</title></circle>'
                        % (x, y, FAIL_RED, failures))
        items.append((colour, None, mode, None))
    y = legend(svg, box[3] + 66, items)
    if failed:
        svg.add('<circle cx="95" cy="%g" r="6" fill="none" stroke="%s" stroke-width="2"/>'
                % (y - 4, FAIL_RED))
        svg.text(118, y, "red ring: some sandboxes failed", 12)
        y += 20
    return svg.render(y + 6, ctx.desc)


def chart_concurrency_latency(ctx):
    """Per-sandbox latency p50 (solid) and p99 (dashed) against concurrency."""
    series = concurrency_series(ctx, "latency_ms", ("p50", "p99"))
    if not series:
        return None
    svg = Svg("Per-sandbox latency versus concurrency", ctx.subtitle)
    box, xs, ys = concurrency_axes(svg, series, ("p50", "p99"),
                                   decade_label_ms, "latency per sandbox (log scale)")
    items = []
    for mode, pts in series.items():
        colour = ctx.colour[mode]
        for stat, dash in (("p50", None), ("p99", "6 4")):
            xy = [(xs(p[0]), ys(p[1][stat])) for p in pts if p[1][stat]]
            if not xy:
                continue
            svg.add('<polyline points="%s" fill="none" stroke="%s" stroke-width="2"%s '
                    'data-mode="%s" data-stat="%s"/>'
                    % (" ".join("%g,%g" % q for q in xy), colour,
                       ' stroke-dasharray="%s"' % dash if dash else "", esc(mode), stat))
            for x, y in xy:
                svg.add('<circle cx="%g" cy="%g" r="%g" fill="%s" stroke="#fff"/>'
                        % (x, y, 4 if stat == "p50" else 3, colour))
        items.append((colour, None, mode, None))
    items += [("#555", None, "p50 (solid)", None), ("#555", "6 4", "p99 (dashed)", None)]
    y = legend(svg, box[3] + 66, items)
    return svg.render(y + 6, ctx.desc)


def nice_step(span):
    """A 1/2/5 x 10^k step giving about five ticks over span."""
    raw = span / 5
    mag = 10 ** math.floor(math.log10(raw))
    return next(m * mag for m in (1, 2, 5, 10) if m * mag >= raw)


def chart_phases(ctx):
    """Stacked p50 phase bars, one panel (own linear scale) per mode."""
    panels = {}
    for e in ctx.entries("phases"):
        segs = [(str(p.get("name")), num(p.get("p50_ms")))
                for p in e["phases"] or [] if isinstance(p, dict)]
        segs = [(n, v) for n, v in segs if v is not None and v >= 0]
        if segs:
            panels.setdefault(e["mode"], []).append((str(e["workload"]), segs))
    if not panels:
        return None
    names = []  # phase names in order of first appearance
    for n, _ in (seg for bars in panels.values() for _, segs in bars for seg in segs):
        names += [] if n in names else [n]
    pcolour = {n: PALETTE[i % len(PALETTE)] for i, n in enumerate(names)}
    svg = Svg("Phases of a libvz sandbox (p50)", ctx.subtitle)
    left, right, y = 150, WIDTH - 90, 72
    for mode, bars in panels.items():
        xmax = max(sum(v for _, v in segs) for _, segs in bars)
        step = nice_step(xmax) if xmax > 0 else 0.2
        top = math.ceil(xmax / step - 1e-9) * step if xmax > 0 else 1.0
        xs = Scale(0.0, top, left, right)
        svg.add('<g data-mode="%s">' % esc(mode))
        svg.text(left, y + 12, mode, 13, "start",
                 ' font-weight="bold" fill="%s"' % ctx.colour[mode])
        y0, y1 = y + 22, y + 22 + 26 * len(bars)
        for i in range(int(round(top / step)) + 1):
            x = xs(i * step)
            svg.line(x, y0, x, y1, "#ddd")
            svg.text(x, y1 + 14, "%g" % (i * step), 11, "middle")
        for row, (wl, segs) in enumerate(bars):
            by, x = y0 + 26 * row + 4, float(left)
            svg.text(left - 8, by + 13, wl, 12, "end")
            acc = 0.0
            for name, v in segs:
                acc += v
                x2 = xs(acc)
                svg.add('<rect x="%g" y="%g" width="%g" height="18" fill="%s">'
                        '<title>%s %s: %s</title></rect>'
                        % (x, by, max(x2 - x, 0), pcolour[name], esc(wl),
                           esc(name), esc(fmt_ms(v))))
                x = x2
            svg.text(x + 5, by + 13, fmt_ms(acc), 11)
        svg.line(left, y1, right, y1, "#333")
        svg.text((left + right) / 2, y1 + 30, "milliseconds (p50 of each phase)", 11, "middle")
        svg.add("</g>")
        y = y1 + 46
    x = 80.0  # legend of phase names, flowing left to right
    for n in names:
        w = 34 + 7 * len(n)
        if x + w > WIDTH - 20:
            x, y = 80.0, y + 20
        svg.add('<rect x="%g" y="%g" width="14" height="12" fill="%s"/>' % (x, y, pcolour[n]))
        svg.text(x + 19, y + 11, n, 12)
        x += w
    return svg.render(y + 24, ctx.desc)


# ---------------------------------------------------------------- main

def main(argv=None):
    ap = argparse.ArgumentParser(
        description="Draw SVG charts (startup latency CDFs, throughput and "
                    "latency versus concurrency, phase breakdown) from the "
                    "JSON results of vz-bench, using only the standard library.",
        epilog="Prints the path of each SVG written; exits 1 on bad input.")
    ap.add_argument("results", metavar="RESULTS.json", help="vz-bench JSON output")
    ap.add_argument("outdir", metavar="OUTDIR", nargs="?",
                    help="where to write the SVGs (default: the directory of RESULTS.json)")
    args = ap.parse_args(argv)
    outdir = args.outdir or os.path.dirname(os.path.abspath(args.results))
    try:
        ctx = Context(load(args.results))
        charts = []
        for wl in ctx.res["workloads"]:
            safe = re.sub(r"[^A-Za-z0-9._-]", "_", str(wl["name"]))
            charts.append(("startup-%s.svg" % safe, chart_startup(ctx, wl)))
        charts += [("concurrency.svg", chart_concurrency(ctx)),
                   ("concurrency-latency.svg", chart_concurrency_latency(ctx)),
                   ("phases.svg", chart_phases(ctx))]
    except DataError as e:
        print("charts.py: %s: %s" % (args.results, e), file=sys.stderr)
        return 1
    except (TypeError, AttributeError, KeyError, ValueError) as e:
        # A value of the wrong type somewhere (say, a string for a number).
        print("charts.py: %s: unexpected data: %r" % (args.results, e), file=sys.stderr)
        return 1
    try:
        os.makedirs(outdir, exist_ok=True)
        for name, text in charts:
            if text is None:
                continue
            path = os.path.join(outdir, name)
            with open(path, "w", encoding="utf-8") as f:
                f.write(text)
            print(path)
    except OSError as e:
        print("charts.py: cannot write to %s: %s" % (outdir, e.strerror or e), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
