#!/usr/bin/env python3
"""Check what vz-bench wrote: the JSON is whole and self-consistent (every summary is
recomputed from the raw samples, every ratio from the medians), the CSV and the terminal
table agree with it, and nothing failed. With --charts DIR, check the SVGs that
bench/charts.py drew from it instead.

    check_results.py RESULTS.json RESULTS.csv TABLE.txt
    check_results.py --charts DIR RESULTS.json

Exits 1 with every problem found, one per line. In CI (CI=true) the peers that
tools/setup.sh installs must have run, not been skipped."""
import csv
import json
import math
import os
import sys
import xml.etree.ElementTree as ET

problems = []


def check(cond, what):
    if not cond:
        problems.append(what)
    return cond


def close(a, b, tol=1e-3):
    return a is not None and b is not None and abs(a - b) <= tol * max(1.0, abs(b))


def nearest_rank(sorted_v, p):
    rank = (p * len(sorted_v) + 99) // 100
    return sorted_v[max(rank, 1) - 1]


def summary_of(samples):
    v = sorted(samples)
    n = len(v)
    med = v[n // 2] if n % 2 else (v[n // 2 - 1] + v[n // 2]) / 2
    return {"min": v[0], "max": v[-1], "p50": med, "p90": nearest_rank(v, 90),
            "p99": nearest_rank(v, 99), "mean": sum(v) / n}


def check_summary(where, summary, samples):
    if not check(samples, f"{where}: no samples"):
        return
    want = summary_of(samples)
    for k, v in want.items():
        check(close(summary.get(k), v, 1e-4), f"{where}: {k} is {summary.get(k)}, samples give {v}")


def check_json(r):
    for key in ("benchmark", "schema", "libvz_version", "date", "command", "host", "settings",
                "workloads", "modes", "latency", "ratios", "phases", "memory", "concurrency"):
        check(key in r, f"results.json has no '{key}'")
    if problems:
        return
    check(r["benchmark"] == "vz-bench" and r["schema"] == 1, "not a vz-bench schema 1 file")
    for k in ("cpu", "kernel", "kvm", "cgroup", "os"):
        check(isinstance(r["host"].get(k), str) and r["host"][k], f"host.{k} missing")
    check(r["host"].get("cpus", 0) >= 1, "host.cpus missing")
    s = r["settings"]
    modes = {m["name"]: m for m in r["modes"]}
    avail = [m for m in r["modes"] if m["available"]]
    for m in r["modes"]:
        check(m["class"] in ("container", "vm"), f"{m['name']}: class {m['class']}")
        if not m["available"]:
            check(bool(m["skipped_because"]), f"{m['name']}: skipped without a reason")
        if not m["libvz"]:
            check(m["pair"] in modes and modes[m["pair"]]["libvz"], f"{m['name']}: no libvz pair")
    check("libvz-container" in modes or "libvz-vm" in modes, "no libvz mode")
    if os.environ.get("CI") == "true":
        want = []
        if modes.get("libvz-container", {}).get("available"):
            want += ["fork+exec", "bwrap", "crun", "runc"]
        if modes.get("libvz-vm", {}).get("available"):
            want += ["qemu-microvm"]
        for name in want:
            check(modes.get(name, {}).get("available"),
                  f"CI: {name} did not run: {modes.get(name, {}).get('skipped_because')}")

    workloads = [w["name"] for w in r["workloads"]]
    lat = {(e["mode"], e["workload"]): e for e in r["latency"]}
    for m in avail:
        runs = s["vm_runs"] if m["class"] == "vm" else s["runs"]
        for w in workloads:
            e = lat.get((m["name"], w))
            if not check(e, f"latency {m['name']}/{w}: missing"):
                continue
            where = f"latency {m['name']}/{w}"
            check(e["failures"] == 0, f"{where}: {e['failures']} failed: {e['first_error']}")
            check(e["n"] == runs == len(e["samples_ms"]),
                  f"{where}: n {e['n']}, {len(e['samples_ms'])} samples, {runs} asked for")
            check_summary(where, e["summary_ms"], e["samples_ms"])
            check(all(x > 0 for x in e["samples_ms"]), f"{where}: a sample <= 0")

    # Ratios: libvz p50 over peer p50, for every available peer whose pair ran.
    ratios = {(x["peer"], x["workload"]): x for x in r["ratios"]}
    for m in avail:
        if m["libvz"] or not modes.get(m["pair"], {}).get("available"):
            continue
        for w in workloads:
            x = ratios.get((m["name"], w))
            if not check(x, f"ratio {m['pair']}/{m['name']} {w}: missing"):
                continue
            a = lat[(m["pair"], w)]["summary_ms"]["p50"]
            b = lat[(m["name"], w)]["summary_ms"]["p50"]
            check(close(x["libvz_p50_ms"], a) and close(x["peer_p50_ms"], b) and
                  close(x["ratio"], a / b), f"ratio {m['name']} {w}: {x} vs {a}/{b}")

    # Phases: every libvz mode and workload; with one run, the phases are parts of it.
    ph = {(e["mode"], e["workload"]): e for e in r["phases"]}
    for m in avail:
        if not m["libvz"]:
            continue
        for w in workloads:
            e = ph.get((m["name"], w))
            if not check(e and e["phases"], f"phases {m['name']}/{w}: missing"):
                continue
            names = [p["name"] for p in e["phases"]]
            check(names[0] == "create+limit" and names[-1] == "free",
                  f"phases {m['name']}/{w}: {names}")
            check(all(p["p50_ms"] >= 0 and p["n"] >= 1 for p in e["phases"]),
                  f"phases {m['name']}/{w}: a negative or empty phase")
            total = lat[(m["name"], w)]["summary_ms"]
            if total and lat[(m["name"], w)]["n"] == 1:
                part = sum(p["p50_ms"] for p in e["phases"])
                check(part <= total["p50"] + 0.5,
                      f"phases {m['name']}/{w}: sum {part:.3f} ms > the run's {total['p50']:.3f}")

    mem = {e["mode"]: e for e in r["memory"]}
    for m in avail:
        e = mem.get(m["name"])
        if not check(e, f"memory {m['name']}: missing"):
            continue
        if not check(e["available"], f"memory {m['name']}: {e['error']}"):
            continue
        check(e["processes"] >= 1 and 0 < e["pss_kib"] <= e["rss_kib"],
              f"memory {m['name']}: {e}")
        if m["libvz"] or m["name"] in ("crun", "runc"):
            check(e["cgroup_kib"] is not None and e["cgroup_kib"] > 0,
                  f"memory {m['name']}: no cgroup charge found")
        if m["name"] == "libvz-vm":
            check(e["rss_kib"] > 1024 and "beyond" in (e["note"] or ""),
                  f"memory libvz-vm: {e}")

    conc = {(e["mode"], e["level"]): e for e in r["concurrency"]}
    for m in avail:
        levels = s["vm_concurrency"] if m["class"] == "vm" else s["concurrency"]
        rounds = s["vm_rounds"] if m["class"] == "vm" else s["rounds"]
        for lv in levels:
            e = conc.get((m["name"], lv))
            where = f"concurrency {m['name']}/{lv}"
            if not check(e, f"{where}: missing"):
                continue
            check(e["failures"] == 0, f"{where}: {e['failures']} failed: {e['first_error']}")
            check(e["rounds"] == rounds and e["sandboxes"] == lv * rounds ==
                  len(e["samples_ms"]) and len(e["makespan_ms"]) == rounds,
                  f"{where}: rounds {e['rounds']}, sandboxes {e['sandboxes']}")
            check_summary(where, e["latency_ms"], e["samples_ms"])
            mk = summary_of(e["makespan_ms"])
            t = e["throughput_per_s"]
            check(close(t["p50"], lv / (mk["p50"] / 1e3)) and close(t["min"], lv / (mk["max"] / 1e3))
                  and close(t["max"], lv / (mk["min"] / 1e3)), f"{where}: throughput {t}")
            check(max(e["samples_ms"]) <= mk["max"] + 1e-6, f"{where}: a sandbox ended after the makespan")
    return lat, avail, workloads


def check_csv(path, r, lat, avail, workloads):
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    check(rows, "results.csv is empty")
    by = {(x["section"], x["mode"], x["workload"], x["concurrency"]): x for x in rows}
    for m in avail:
        for w in workloads:
            x = by.get(("latency", m["name"], w, "1"))
            if check(x, f"csv: no latency row for {m['name']}/{w}"):
                check(close(float(x["p50_ms"]), lat[(m["name"], w)]["summary_ms"]["p50"], 1e-5),
                      f"csv: {m['name']}/{w} p50 differs from the JSON")
        if r["memory"]:
            check(("memory", m["name"], "ready", "1") in by, f"csv: no memory row for {m['name']}")
    for e in r["concurrency"]:
        x = by.get(("concurrency", e["mode"], "true", str(e["level"])))
        if check(x, f"csv: no concurrency row for {e['mode']}/{e['level']}"):
            check(close(float(x["sandboxes_per_s"]), e["throughput_per_s"]["p50"], 1e-3),
                  f"csv: {e['mode']}/{e['level']} throughput differs")


def check_table(path, avail):
    text = open(path).read()
    for m in avail:
        check(m["name"] in text, f"table: {m['name']} missing")
    for what in ("start-to-exit latency", "libvz phases", "memory per running sandbox",
                 "concurrency:", "wrote "):
        check(what in text, f"table: no '{what}'")


def check_charts(d, r):
    avail = [m["name"] for m in r["modes"] if m["available"]]
    files = ["startup-%s.svg" % w["name"] for w in r["workloads"]]
    if r["concurrency"]:
        files += ["concurrency.svg", "concurrency-latency.svg"]
    if r["phases"]:
        files.append("phases.svg")
    for name in files:
        path = os.path.join(d, name)
        if not check(os.path.exists(path), f"charts: {name} not drawn"):
            continue
        try:
            root = ET.parse(path).getroot()
        except ET.ParseError as e:
            check(False, f"charts: {name}: not well-formed: {e}")
            continue
        check(root.tag.endswith("svg"), f"charts: {name}: root is {root.tag}")
        drawn = {el.get("data-mode") for el in root.iter() if el.get("data-mode")}
        if name.startswith(("startup-", "concurrency")):
            for m in avail:
                check(m in drawn, f"charts: {name}: no curve for {m}")
        for el in root.iter():
            for attr in ("x", "y", "x1", "x2", "y1", "y2", "cx", "cy"):
                v = el.get(attr)
                if v is not None:
                    try:
                        ok = math.isfinite(float(v))
                    except ValueError:
                        ok = False
                    check(ok, f"charts: {name}: {attr}={v}")


def main(argv):
    if len(argv) == 4 and argv[1] == "--charts":
        r = json.load(open(argv[3]))
        check_charts(argv[2], r)
    elif len(argv) == 4:
        r = json.load(open(argv[1]))
        out = check_json(r)
        if out:
            lat, avail, workloads = out
            check_csv(argv[2], r, lat, avail, workloads)
            check_table(argv[3], avail)
    else:
        print(__doc__, file=sys.stderr)
        return 2
    for p in problems:
        print("problem:", p)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
