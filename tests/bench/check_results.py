#!/usr/bin/env python3
"""Check what vz-bench wrote: the JSON is whole and self-consistent (every summary is
recomputed from the raw samples, every ratio from the medians, every data rate from its
p50), the CSV and the terminal table agree with it, and nothing failed. The data
workloads (stdout64m, bind64m) must have run in every libvz mode and in no peer. The
restored VM modes (vm_start "restore": libvz-vm, libvz-vm-prepared, libvz-vm-NAME) must
have restored in every run whose template was made (no run "booted_cold"), libvz-vm-cold
booted every time, and the restored/cold ratios must follow from the medians and PSS.
With --charts DIR, check the SVGs that bench/charts.py drew from it instead.

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


def templates_ok(m):
    """Every template of a restored mode was made (then no run of it may boot cold)."""
    return all(t["made"] for t in m.get("templates") or [])


def check_json(r):
    for key in ("benchmark", "schema", "libvz_version", "date", "command", "host", "settings",
                "workloads", "modes", "latency", "ratios", "restore_ratios", "phases", "memory",
                "concurrency"):
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
    # The VM class has the restored start (libvz-vm) and the cold one side by side.
    if "libvz-vm" in modes:
        cold = modes.get("libvz-vm-cold")
        if check(cold, "libvz-vm without libvz-vm-cold"):
            check(cold["available"] == modes["libvz-vm"]["available"] or
                  "--only" in (cold["skipped_because"] or "") or
                  "--only" in (modes["libvz-vm"]["skipped_because"] or ""),
                  "libvz-vm and libvz-vm-cold: one ran, the other not")
            check(cold["libvz"] and (cold["vm_start"] == "cold" or not cold["available"]),
                  f"libvz-vm-cold: {cold}")
        check(modes["libvz-vm"]["vm_start"] == "restore" or not modes["libvz-vm"]["available"],
              "libvz-vm: vm_start is not restore")
    for m in r["modes"]:
        restored = m.get("vm_start") == "restore"
        check(m.get("vm_start") in (None, "restore", "cold"), f"{m['name']}: vm_start {m.get('vm_start')}")
        check(m["libvz"] and m["class"] == "vm" or m.get("vm_start") is None,
              f"{m['name']}: vm_start for a mode that is not a libvz VM")
        check((m.get("templates") is not None) == restored,
              f"{m['name']}: templates listed for a mode that does not restore, or missing")
        for t in m.get("templates") or []:
            check(t["made"] == (t["error"] is None) and t["ms"] >= 0,
                  f"{m['name']}: template for {t['for']}: {t}")
        if restored and m["available"]:
            check(m["templates"], f"{m['name']}: no template was made")
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
    libvz_only = {w["name"] for w in r["workloads"] if w.get("libvz_only")}
    for w in r["workloads"]:
        check(bool(w.get("libvz_only")) == (w.get("data_bytes") is not None),
              f"workload {w['name']}: libvz_only and data_bytes disagree")
    lat = {(e["mode"], e["workload"]): e for e in r["latency"]}
    for m in avail:
        runs = s["vm_runs"] if m["class"] == "vm" else s["runs"]
        for w in workloads:
            e = lat.get((m["name"], w))
            if not check(e, f"latency {m['name']}/{w}: missing"):
                continue
            where = f"latency {m['name']}/{w}"
            if w in libvz_only and not m["libvz"]:
                check(e.get("applicable") is False and e["n"] == 0 and not e["samples_ms"]
                      and e["failures"] == 0, f"{where}: a peer ran a libvz-only workload")
                continue
            check(e.get("applicable") is True, f"{where}: not marked applicable")
            check(e["failures"] == 0, f"{where}: {e['failures']} failed: {e['first_error']}")
            check(e["n"] == runs == len(e["samples_ms"]),
                  f"{where}: n {e['n']}, {len(e['samples_ms'])} samples, {runs} asked for")
            check_summary(where, e["summary_ms"], e["samples_ms"])
            check(all(x > 0 for x in e["samples_ms"]), f"{where}: a sample <= 0")
            if m.get("vm_start") == "restore":
                check(isinstance(e.get("booted_cold"), int) and 0 <= e["booted_cold"] <= e["n"],
                      f"{where}: booted_cold {e.get('booted_cold')}")
                check(not templates_ok(m) or e.get("booted_cold") == 0,
                      f"{where}: {e.get('booted_cold')} of {e['n']} runs booted cold")
            else:
                check(e.get("booted_cold") is None, f"{where}: booted_cold for a mode that does not restore")

    # Data rates: 64 MiB over the p50, and over the p50 less true's p50 (same mode).
    tput = {(x["mode"], x["workload"]): x for x in r.get("throughput") or []}
    want = libvz_only if any(m["libvz"] for m in avail) else set()
    check({w for _, w in tput} == want,
          f"throughput: workloads {sorted({w for _, w in tput})}, expected {sorted(want)}")
    for m in avail:
        for w in libvz_only if m["libvz"] else ():
            x = tput.get((m["name"], w))
            where = f"throughput {m['name']}/{w}"
            if not check(x, f"{where}: missing"):
                continue
            p50 = lat[(m["name"], w)]["summary_ms"]["p50"]
            mib = x["bytes"] / 2**20
            check(x["bytes"] == 64 << 20 and close(x["p50_ms"], p50) and
                  close(x["mib_per_s"], mib / (p50 / 1e3)), f"{where}: {x} vs p50 {p50}")
            t = lat.get((m["name"], "true"))
            if t and t["summary_ms"]:
                tp = t["summary_ms"]["p50"]
                check(close(x["true_p50_ms"], tp), f"{where}: true_p50_ms {x['true_p50_ms']} vs {tp}")
                if p50 > tp:
                    check(close(x["net_mib_per_s"], mib / ((p50 - tp) / 1e3)),
                          f"{where}: net {x['net_mib_per_s']}")
                else:
                    check(x["net_mib_per_s"] is None, f"{where}: net without a positive difference")
            else:
                check(x["true_p50_ms"] is None and x["net_mib_per_s"] is None,
                      f"{where}: net without true")

    # Ratios: libvz p50 over peer p50, for every available peer whose pair ran.
    ratios = {(x["peer"], x["workload"]): x for x in r["ratios"]}
    for m in avail:
        if m["libvz"] or not modes.get(m["pair"], {}).get("available"):
            continue
        for w in workloads:
            if w in libvz_only:
                check((m["name"], w) not in ratios, f"ratio {m['name']} {w}: a libvz-only workload")
                continue
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
            # how the VM came up: restored (libvz-vm; libvz-vm-prepared restores in its
            # untimed prepare, before the phases it lists), or a full boot every time
            n = lat[(m["name"], w)]["n"]
            byname = {p["name"]: p for p in e["phases"]}
            if m.get("vm_start") == "restore" and not m["name"].endswith("-prepared") and \
                    templates_ok(m):
                check(byname.get("restore", {}).get("n") == n and "boot" not in byname,
                      f"phases {m['name']}/{w}: not restored in all {n} runs: {names}")
            if m.get("vm_start") == "cold":
                check(byname.get("boot", {}).get("n") == n and "restore" not in byname,
                      f"phases {m['name']}/{w}: not booted in all {n} runs: {names}")
            total = lat[(m["name"], w)]["summary_ms"]
            if total and lat[(m["name"], w)]["n"] == 1:
                part = sum(p["p50_ms"] for p in e["phases"])
                check(part <= total["p50"] + 0.5,
                      f"phases {m['name']}/{w}: sum {part:.3f} ms > the run's {total['p50']:.3f}")

    # Restored against cold and QEMU: p50 over p50 (latency) and PSS over PSS (memory).
    for x in r["restore_ratios"]:
        where = f"restore_ratios {x['what']} {x['mode']}/{x['against']} {x['workload']}"
        check(x["mode"] == "libvz-vm" and x["against"] in ("libvz-vm-cold", "qemu-microvm"), where)
        if x["what"] == "latency":
            a = lat.get((x["mode"], x["workload"]), {}).get("summary_ms") or {}
            b = lat.get((x["against"], x["workload"]), {}).get("summary_ms") or {}
            check(close(x["p50_ms"], a.get("p50")) and close(x["against_p50_ms"], b.get("p50")) and
                  close(x["ratio"], x["p50_ms"] / x["against_p50_ms"]), f"{where}: {x} vs {a}, {b}")
        else:
            check(x["what"] == "memory" and x["against"] == "libvz-vm-cold", where)
            a = next((e for e in r["memory"] if e["mode"] == x["mode"]), {})
            b = next((e for e in r["memory"] if e["mode"] == x["against"]), {})
            check(close(x["pss_kib"], a.get("pss_kib")) and close(x["against_pss_kib"], b.get("pss_kib"))
                  and close(x["ratio"], x["pss_kib"] / x["against_pss_kib"]), f"{where}: {x}")
    have = {(x["what"], x["against"], x["workload"]) for x in r["restore_ratios"]}
    for peer in ("libvz-vm-cold", "qemu-microvm"):
        if not (modes.get("libvz-vm", {}).get("available") and modes.get(peer, {}).get("available")):
            continue
        for w in workloads:
            if w not in libvz_only or peer == "libvz-vm-cold":
                check(("latency", peer, w) in have, f"restore_ratios: no libvz-vm/{peer} for {w}")
        if peer == "libvz-vm-cold" and r["memory"]:
            check(("memory", peer, "ready") in have, "restore_ratios: no memory libvz-vm/libvz-vm-cold")

    mem = {e["mode"]: e for e in r["memory"]}
    for m in avail if r["memory"] else ():  # empty: --no-memory
        e = mem.get(m["name"])
        if not check(e, f"memory {m['name']}: missing"):
            continue
        check(e["sandboxes"] == s["memory_sandboxes"] >= 1, f"memory {m['name']}: sandboxes {e['sandboxes']}")
        if m.get("vm_start") == "restore":
            check(e.get("booted_cold") == 0 or not templates_ok(m),
                  f"memory {m['name']}: {e.get('booted_cold')} booted cold")
        else:
            check(e.get("booted_cold") is None, f"memory {m['name']}: booted_cold for a mode that does not restore")
        if not check(e["available"], f"memory {m['name']}: {e['error']}"):
            continue
        check(e["processes"] >= 1 and 0 < e["pss_kib"] <= e["rss_kib"],
              f"memory {m['name']}: {e}")
        check(e["pss_kib"] == e["pss_total_kib"] // e["sandboxes"],
              f"memory {m['name']}: PSS per sandbox is not the total over {e['sandboxes']}: {e}")
        if m["libvz"] or m["name"] in ("crun", "runc"):
            check(e["cgroup_kib"] is not None and e["cgroup_kib"] > 0,
                  f"memory {m['name']}: no cgroup charge found")
        if m["libvz"] and m["class"] == "vm":
            check(e["rss_kib"] > 1024 and "beyond" in (e["note"] or ""),
                  f"memory {m['name']}: {e}")
            # beyond guest RAM = PSS - guest RAM's PSS, stated explicitly
            check(isinstance(e.get("guest_ram_rss_kib"), int) and
                  isinstance(e.get("guest_ram_pss_kib"), int) and
                  e["guest_ram_pss_kib"] <= e["guest_ram_rss_kib"] and
                  e.get("beyond_guest_ram_kib") == e["pss_kib"] - e["guest_ram_pss_kib"],
                  f"memory {m['name']}: beyond_guest_ram_kib is not PSS - guest RAM PSS: {e}")
        else:
            check(e.get("guest_ram_rss_kib") is None and e.get("beyond_guest_ram_kib") is None
                  and e.get("guest_ram_pss_kib") is None,
                  f"memory {m['name']}: guest RAM figures for a mode without libvz's VMM")

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
            if m.get("vm_start") == "restore":
                check(isinstance(e.get("booted_cold"), int) and
                      (e["booted_cold"] == 0 or not templates_ok(m)),
                      f"{where}: {e.get('booted_cold')} booted cold")
            else:
                check(e.get("booted_cold") is None, f"{where}: booted_cold for a mode that does not restore")
            check(e["rounds"] == rounds and e["sandboxes"] == lv * rounds ==
                  len(e["samples_ms"]) and len(e["makespan_ms"]) == rounds,
                  f"{where}: rounds {e['rounds']}, sandboxes {e['sandboxes']}")
            check_summary(where, e["latency_ms"], e["samples_ms"])
            mk = summary_of(e["makespan_ms"])
            t = e["throughput_per_s"]
            check(close(t["p50"], lv / (mk["p50"] / 1e3)) and close(t["min"], lv / (mk["max"] / 1e3))
                  and close(t["max"], lv / (mk["min"] / 1e3)), f"{where}: throughput {t}")
            check(max(e["samples_ms"]) <= mk["max"] + 1e-6, f"{where}: a sandbox ended after the makespan")
    return lat, avail, workloads, libvz_only


def check_csv(path, r, lat, avail, workloads, libvz_only):
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    check(rows, "results.csv is empty")
    by = {(x["section"], x["mode"], x["workload"], x["concurrency"]): x for x in rows}
    tput = {(x["mode"], x["workload"]): x for x in r.get("throughput") or []}
    for m in avail:
        for w in workloads:
            x = by.get(("latency", m["name"], w, "1"))
            if w in libvz_only and not m["libvz"]:
                check(x is None, f"csv: a latency row for {m['name']}/{w}, which is libvz only")
                continue
            js = lat.get((m["name"], w), {}).get("summary_ms")
            if check(x, f"csv: no latency row for {m['name']}/{w}") and js:
                check(close(float(x["p50_ms"]), js["p50"], 1e-5),
                      f"csv: {m['name']}/{w} p50 differs from the JSON")
                bc = lat[(m["name"], w)].get("booted_cold")
                check(x["booted_cold"] == ("" if bc is None else str(bc)),
                      f"csv: {m['name']}/{w} booted_cold differs from the JSON")
                t = tput.get((m["name"], w))
                if t:
                    net = t["net_mib_per_s"]
                    check(close(float(x["mib_per_s"]), t["mib_per_s"], 1e-3) and
                          (x["net_mib_per_s"] == "" if net is None else
                           close(float(x["net_mib_per_s"]), net, 1e-3)),
                          f"csv: {m['name']}/{w} MiB/s differ from the JSON")
        if r["memory"]:
            x = by.get(("memory", m["name"], "ready", "1"))
            e = next((e for e in r["memory"] if e["mode"] == m["name"]), {})
            if check(x, f"csv: no memory row for {m['name']}") and \
                    e.get("beyond_guest_ram_kib") is not None:
                check(x["beyond_guest_ram_kib"] == str(e["beyond_guest_ram_kib"]) and
                      x["guest_ram_pss_kib"] == str(e["guest_ram_pss_kib"]),
                      f"csv: {m['name']} beyond_guest_ram_kib or guest_ram_pss_kib differs from the JSON")
    for e in r["concurrency"]:
        x = by.get(("concurrency", e["mode"], "true", str(e["level"])))
        if check(x, f"csv: no concurrency row for {e['mode']}/{e['level']}"):
            check(close(float(x["sandboxes_per_s"]), e["throughput_per_s"]["p50"], 1e-3),
                  f"csv: {e['mode']}/{e['level']} throughput differs")


def check_table(path, r, avail, libvz_only):
    text = open(path).read()
    for m in avail:
        check(m["name"] in text, f"table: {m['name']} missing")
    want = ["start-to-exit latency", "libvz phases", "wrote "]
    want += ["memory per running sandbox"] if r["memory"] else []
    want += ["concurrency:"] if r["concurrency"] else []
    want += ["data through the sandbox"] if libvz_only else []
    want += ["n/a: libvz modes only"] if libvz_only and any(not m["libvz"] for m in avail) else []
    want += ["restored VM start"] if any(x["what"] == "latency" for x in r["restore_ratios"]) else []
    want += ["restored / cold"] if any(x["what"] == "memory" for x in r["restore_ratios"]) else []
    for what in want:
        check(what in text, f"table: no '{what}'")
    # a warning line for every figure of a restored mode that includes cold boots
    cold = sum(1 for e in r["latency"] + r["concurrency"] + r["memory"] if e.get("booted_cold"))
    check(text.count("booted cold (no") == cold,
          f"table: {text.count('booted cold (no')} cold-boot warnings, {cold} figures with cold boots")


def check_charts(d, r):
    avail = [m["name"] for m in r["modes"] if m["available"]]
    libvz = {m["name"] for m in r["modes"] if m["libvz"]}
    libvz_only = {"startup-%s.svg" % w["name"] for w in r["workloads"] if w.get("libvz_only")}
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
                if name in libvz_only and m not in libvz:
                    check(m not in drawn, f"charts: {name}: a curve for {m}, a peer")
                    continue
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
            lat, avail, workloads, libvz_only = out
            check_csv(argv[2], r, lat, avail, workloads, libvz_only)
            check_table(argv[3], r, avail, libvz_only)
    else:
        print(__doc__, file=sys.stderr)
        return 2
    for p in problems:
        print("problem:", p)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
