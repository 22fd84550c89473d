#!/usr/bin/env python3
"""Turn the demo's raw results (scripts/demo-guest.sh) into the report.

Usage: demo_report.py RESULTS_DIR OUT_DIR

RESULTS_DIR holds one directory per repeat, run-1, run-2, ... (or, from
an older guest script, the files of one run itself).  Each figure is
reported as the median over the repeats with its spread (min, max, and
(max - min) / median); the targets are ratios of medians, with the range
of the per-run ratios beside them; report.json keeps every run's raw
figures under "runs".

Writes OUT_DIR/report.json, OUT_DIR/report.md and, with gnuplot,
OUT_DIR/steadykv.png and OUT_DIR/redis.png (throughput and p99.9 over
time, migration start and end marked) of the median run: the repeat whose
p99.9 during the migration is the median one, so the plot shows a typical
tail, neither the best nor the worst (all runs drawn over each other
would hide the one line the plot is for).  Every claim is a ratio against
a peer or a limit measured in the same guest.
"""
import csv
import json
import os
import re
import statistics
import subprocess
import sys

RECORD_HDR = 40  # kmod/core/record.h: a record's header
# unpaced: rocksteady with mig_pace=0 (every bulk pull in flight from the
# start, not paced by the clients' latency).  retry: rocksteady with
# mig_park_ms=0 (a GET for a key not pulled yet is answered RETRY instead
# of waiting for its priority pull).  one-prio-puller: rocksteady with
# mig_prio_pullers=1 (one PRIORITY_PULL in flight).
SKV_MODES = ["rocksteady", "unpaced", "retry", "one-prio-puller", "push",
             "no-priority-pulls", "one-partition"]
HOT_SYSTEMS = ["steadykv", "redis", "memcached"]


def load(path, default=None):
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, ValueError):
        return default


def record_bytes(key_size, value_size):
    """Bytes of one record in the log and on the wire (8-byte aligned)."""
    n = RECORD_HDR + key_size + value_size
    return (n + 7) // 8 * 8


def phase(run, name, field="p999"):
    try:
        if not run["phases"][name]["ops"]:
            return None
        return run["phases"][name]["latency_us"][field]
    except (KeyError, TypeError):
        return None


def mark_times(run):
    out = {}
    for m in (run or {}).get("marks", []):
        out[m["label"]] = m["t_s"]
    return out


def read_timeline(path):
    try:
        with open(path) as f:
            rows = list(csv.DictReader(f))
    except OSError:
        return [], []
    return rows, (list(rows[0].keys()) if rows else [])


def worst_p999(rows, t_from, secs):
    """The highest p99.9 (us) of the timeline's intervals that end in
    (t_from, t_from + secs], or None: the tail just after an event."""
    if t_from is None:
        return None
    vals = [float(r["p999_us"]) for r in rows
            if t_from < float(r["t_s"]) <= t_from + secs and int(r["ops"])]
    return max(vals) if vals else None


def read_node_hist(path):
    """A node_hist file (demo-guest.sh: "nN <Prometheus bucket line>"
    per line) -> {le_seconds: cumulative count}, summed over nodes and
    ops, or None if the file is missing."""
    try:
        with open(path) as f:
            lines = f.read().splitlines()
    except OSError:
        return None
    cum = {}
    for line in lines:
        m = re.search(r'le="([^"]+)"\}\s+(\d+)$', line)
        if m:
            le = float("inf") if m.group(1) == "+Inf" else float(m.group(1))
            cum[le] = cum.get(le, 0) + int(m.group(2))
    return cum


def node_p999_us(start, end):
    """p99.9 (us) of the service times counted between two node_hist
    snapshots, interpolated in its bucket as the module's pacing does
    (kmod/metrics.c), or None with no request in between."""
    if end is None:
        return None
    start = start or {}
    les = sorted(end)
    delta = [end[le] - start.get(le, 0) for le in les]
    if not delta or not delta[-1]:
        return None
    total = delta[-1]
    rank = total - total // 1000
    prev_le, prev_cum = 0.0, 0
    for le, c in zip(les, delta):
        if c >= rank:
            if le == float("inf"):
                return round(prev_le * 1e6, 1)
            frac = (rank - prev_cum) / (c - prev_cum) if c > prev_cum else 1.0
            return round((prev_le + (le - prev_le) * frac) * 1e6, 1)
        prev_le, prev_cum = le, c
    return None


def source_drop(rows, cols, t_start, interval_s):
    """Seconds from migration start until node 1's request rate is at most
    half its rate over the idle period, or None."""
    src = [c for c in cols if c.startswith("ops_n1@") or c == "ops_10.77.0.1:6379"]
    if not src or t_start is None:
        return None, None
    col = src[0]
    before = [float(r[col]) for r in rows if float(r["t_s"]) < t_start]
    if not before:
        return None, None
    base = sum(before) / len(before)
    for r in rows:
        t = float(r["t_s"])
        if t >= t_start and float(r[col]) <= base / 2:
            return round(t - t_start + interval_s, 3), base / interval_s
    return None, base / interval_s


def ratio(a, b):
    if a is None or b in (None, 0):
        return None
    return round(a / b, 3)


def fmt(v, unit=""):
    if v is None:
        return "n/a"
    if isinstance(v, float):
        v = round(v, 3) if abs(v) < 100 else round(v)
    return f"{v}{unit}"


def plot(out_dir, name, title, timeline, marks, src_col):
    rows, cols = read_timeline(timeline)
    if not rows:
        return None
    png = os.path.join(out_dir, name + ".png")
    dat = os.path.join(out_dir, name + ".dat")
    interval = float(rows[1]["t_s"]) - float(rows[0]["t_s"]) if len(rows) > 1 else 0.1
    with open(dat, "w") as f:
        for r in rows:
            src = float(r[src_col]) / interval if src_col in r else 0
            f.write(f'{r["t_s"]} {float(r["ops"]) / interval} {r["p999_us"]} {src}\n')
    lines = []
    for label, t in marks.items():
        lines.append(f'set arrow from {t}, graph 0 to {t}, graph 1 nohead dt 2 lc rgb "black"')
        lines.append(f'set label "{label}" at {t}, graph 0.97 rotate by 90 right font ",8"')
    script = "\n".join([
        "set terminal pngcairo size 1000,500" if has_cairo() else "set terminal png size 1000,500",
        f"set output '{png}'",
        f"set title '{title}'",
        "set xlabel 'time (s)'",
        "set ylabel 'throughput (ops/s)'",
        "set y2label 'p99.9 latency (us)'",
        "set logscale y2",
        "set ytics nomirror",
        "set y2tics",
        "set key outside bottom center horizontal",
        *lines,
        f"plot '{dat}' using 1:2 with lines title 'throughput (all nodes)', "
        f"'{dat}' using 1:4 with lines title 'throughput at the source', "
        f"'{dat}' using 1:3 axes x1y2 with lines title 'p99.9 (per 100 ms)'",
    ])
    try:
        subprocess.run(["gnuplot"], input=script, text=True, check=True,
                       capture_output=True)
    except (OSError, subprocess.CalledProcessError) as e:
        print(f"demo_report: gnuplot failed for {name}: {e}", file=sys.stderr)
        return None
    return png


def has_cairo():
    try:
        r = subprocess.run(["gnuplot", "-e", "set terminal"], text=True,
                           capture_output=True)
        return "pngcairo" in (r.stdout + r.stderr)
    except OSError:
        return False



# ---- statistics over the repeats ----

def stat(values):
    """Median and spread of the figures that were measured (None: not)."""
    vals = [v for v in values if v is not None]
    if not vals:
        return {"median": None, "min": None, "max": None, "spread": None,
                "n": 0, "of": len(values)}
    med = statistics.median(vals)
    lo, hi = min(vals), max(vals)
    return {"median": med, "min": lo, "max": hi,
            "spread": round((hi - lo) / med, 3) if med else None,
            "n": len(vals), "of": len(values)}


def is_number(v):
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def aggregate(entries):
    """Per-run dicts of figures -> one dict of medians, with "spread":
    {field: stat(...)} for every numeric field.  A text field (a state)
    keeps its value if every run agrees, else lists each value's count;
    a flag is true if it is in any run."""
    entries = [e for e in entries if e]
    if not entries:
        return {}
    out, spread = {}, {}
    keys = []
    for e in entries:
        keys += [k for k in e if k not in keys]
    for k in keys:
        vals = [e.get(k) for e in entries]
        if all(v is None or is_number(v) for v in vals):
            st = stat(vals)
            out[k] = st["median"]
            spread[k] = st
        elif any(isinstance(v, bool) for v in vals):
            out[k] = any(v is True for v in vals)
        else:
            distinct = sorted({str(v) for v in vals})
            out[k] = distinct[0] if len(distinct) == 1 else ", ".join(
                f"{d} x{sum(str(v) == d for v in vals)}" for d in distinct)
    out["spread"] = spread
    return out


def median_run(runs, get):
    """Index of the run whose figure get(run) is the median (the lower of
    the two middle ones for an even count); None if no run has it."""
    have = sorted((get(r), i) for i, r in enumerate(runs) if get(r) is not None)
    if not have:
        return None
    return have[(len(have) - 1) // 2][1]


def run_dirs(res):
    """The repeat directories run-1, run-2, ... in order, or [res]."""
    found = []
    for name in os.listdir(res):
        m = re.fullmatch(r"run-(\d+)", name)
        if m and os.path.isdir(os.path.join(res, name)):
            found.append((int(m.group(1)), os.path.join(res, name)))
    return [d for _, d in sorted(found)] or [res]


# ---- one run ----

def read_skv_mode(d):
    run = load(os.path.join(d, "run.json"))
    mig = load(os.path.join(d, "migration.json"))
    if run is None or mig is None:
        return None
    secs = mig.get("elapsed_us", 0) / 1e6
    mb = mig.get("bytes_pulled", 0) / 1e6
    rows, cols = read_timeline(os.path.join(d, "timeline.csv"))
    marks = mark_times(run)
    drop_s, src_rate = source_drop(rows, cols, marks.get("migration-start"), 0.1)
    # Ownership moves owned_us after the migration starts (at the target);
    # the mark is taken just before it is asked for.
    t_start = marks.get("migration-start")
    t_owned = t_start + mig.get("owned_us", 0) / 1e6 if t_start is not None else None
    return {
        "state": mig.get("state"),
        "migration_seconds": round(secs, 3),
        "migration_mb_per_s": round(mb / secs, 2) if secs else None,
        "migrated_records": mig.get("records_pulled"),
        "migrated_mb": round(mb, 2),
        "priority_keys": mig.get("priority_keys"),
        "owned_ms": round(mig.get("owned_us", 0) / 1e3, 2),
        "rate_ops": run.get("run", {}).get("rate_target"),
        "p50_us_idle": phase(run, "idle", "p50"),
        "p99_us_idle": phase(run, "idle", "p99"),
        "p999_us_idle": phase(run, "idle"),
        "p50_us_during": phase(run, "during", "p50"),
        "p99_us_during": phase(run, "during", "p99"),
        "p999_us_during": phase(run, "during"),
        "p999_us_first_s_owned": worst_p999(rows, t_owned, 1.0),
        # The nodes' own (service time, both nodes): what the pacing sees.
        "node_p999_us_during": node_p999_us(
            read_node_hist(os.path.join(d, "node-hist-start")),
            read_node_hist(os.path.join(d, "node-hist-end"))),
        "p50_us_after": phase(run, "after", "p50"),
        "p99_us_after": phase(run, "after", "p99"),
        "p999_us_after": phase(run, "after"),
        "errors": run.get("run", {}).get("result", {}).get("errors"),
        "client_retries": sum(int(r.get("retries") or 0) for r in rows),
        "source_rate_halved_after_s": drop_s,
        "source_rate_idle_ops": round(src_rate, 1) if src_rate else None,
    }


def read_redis(d, rbytes):
    rd = os.path.join(d, "redis")
    rrun = load(os.path.join(rd, "run.json"))
    rres = load(os.path.join(rd, "reshard.json"), {})
    if rrun is None:
        return None
    rows, cols = read_timeline(os.path.join(rd, "timeline.csv"))
    marks = mark_times(rrun)
    drop_s, _ = source_drop(rows, cols, marks.get("migration-start"), 0.1)
    moved = rres.get("keys_moved")
    secs = rres.get("seconds")
    complete = rres.get("complete", True)
    # A reshard cut at the demo's time cap: its pace over all 8192 slots.
    total = secs if complete else rres.get("seconds_all_slots")
    return {
        "migration_seconds": round(total, 3) if total else None,
        "migration_seconds_extrapolated": not complete,
        "measured_seconds": round(secs, 3) if secs else None,
        "migration_mb_per_s": round(moved * rbytes / 1e6 / secs, 2)
        if moved and secs else None,
        "slots": rres.get("slots"),
        "slots_wanted": rres.get("slots_wanted", 8192),
        "keys_moved": moved,
        "rate_ops": rrun.get("run", {}).get("rate_target"),
        "p50_us_idle": phase(rrun, "idle", "p50"),
        "p99_us_idle": phase(rrun, "idle", "p99"),
        "p999_us_idle": phase(rrun, "idle"),
        "p50_us_during": phase(rrun, "during", "p50"),
        "p99_us_during": phase(rrun, "during", "p99"),
        "p999_us_during": phase(rrun, "during"),
        "p999_us_after": phase(rrun, "after"),
        "errors": rrun.get("run", {}).get("result", {}).get("errors"),
        "source_rate_halved_after_s": drop_s,
    }


def read_single_slot(d, rbytes):
    slot = load(os.path.join(d, "redis-single-slot.json"), {})
    if not slot:
        return None
    s = slot.get("seconds")
    return {
        "seconds": round(s, 3) if s else None,
        "keys": slot.get("keys"),
        "keys_at_target": slot.get("keys_at_target"),
        "mb_per_s": round(slot["keys"] * rbytes / 1e6 / s, 2)
        if s and slot.get("keys") else None,
    }


def capacity(d, name):
    return (load(os.path.join(d, name)) or {}).get("capacity", {}).get("ops_per_s")


def read_hot(d, sysname):
    if not load(os.path.join(d, f"hot-{sysname}-get.json")):
        return None
    lat = (load(os.path.join(d, f"hot-{sysname}-latency.json")) or {}) \
        .get("run", {}).get("result", {}).get("latency_us") or {}
    e = {
        "get_ops_per_s": capacity(d, f"hot-{sysname}-get.json"),
        "put_ops_per_s": capacity(d, f"hot-{sysname}-put.json"),
        "rate_ops": (load(os.path.join(d, f"hot-{sysname}-latency.json")) or {})
        .get("run", {}).get("rate_target"),
        "p50_us": lat.get("p50"),
        "p99_us": lat.get("p99"),
        "p999_us": lat.get("p999"),
    }
    if sysname == "memcached":
        e["get_classic_ops_per_s"] = capacity(d, "hot-memcached-get-classic.json")
    return e


def read_run(d, rbytes):
    """Every figure of one repeat."""
    iperf = load(os.path.join(d, "iperf3.json"), {})
    try:
        iperf_mb = round(iperf["end"]["sum_received"]["bits_per_second"] / 8e6, 2)
    except (KeyError, TypeError):
        iperf_mb = None
    unloaded = []
    for name in sorted(os.listdir(d)):
        if name.startswith("skv-unloaded-") and name.endswith(".json"):
            m = load(os.path.join(d, name))
            if m and m.get("state") == "done" and m.get("elapsed_us"):
                unloaded.append(round(m["bytes_pulled"] / 1e6 / (m["elapsed_us"] / 1e6), 2))
    run = {"dir": os.path.basename(d), "iperf3_mb_per_s": iperf_mb,
           "steadykv": {}, "unloaded_mb_per_s": unloaded,
           "redis": read_redis(d, rbytes), "redis_single_slot": read_single_slot(d, rbytes),
           "hot_path": {}}
    for mode in SKV_MODES:
        e = read_skv_mode(os.path.join(d, "skv-" + mode))
        if e:
            run["steadykv"][mode] = e
    for sysname in HOT_SYSTEMS:
        e = read_hot(d, sysname)
        if e:
            run["hot_path"][sysname] = e
    return run


# ---- the targets: ratios of medians, and the per-run ratios' range ----

def target(runs, num, den, med_num, med_den, want):
    per_run = [ratio(num(r), den(r)) for r in runs]
    st = stat(per_run)
    return {"value": ratio(med_num, med_den), "target": want,
            "per_run": per_run, "per_run_min": st["min"], "per_run_max": st["max"]}


def skv(r, mode="rocksteady"):
    return r["steadykv"].get(mode) or {}


def best_peer(h, field):
    vals = [(h.get(s) or {}).get(field) for s in ("redis", "memcached")]
    vals = [v for v in vals if v is not None]
    return max(vals) if vals else None


def build_report(res):
    meta = load(os.path.join(res, "meta.json"), {})
    key_size = meta.get("key_size", 30)
    value_size = meta.get("value_size", 100)
    rbytes = record_bytes(key_size, value_size)
    runs = [read_run(d, rbytes) for d in run_dirs(res)]

    iperf = stat([r["iperf3_mb_per_s"] for r in runs])
    report = {
        "records": meta.get("records"),
        "record_bytes": rbytes,
        "key_size": key_size,
        "value_size": value_size,
        "repeats": len(runs),
        "iperf3_mb_per_s": iperf["median"],
        "spread": {"iperf3_mb_per_s": iperf},
        "kernel": meta.get("kernel"),
        "cpus": meta.get("cpus"),
        "steadykv": {},
        "baselines": {},
        "redis": {},
        "hot_path": {},
        "targets": {},
    }
    modes = {}
    for mode in SKV_MODES:
        e = aggregate([r["steadykv"].get(mode) for r in runs])
        if not e:
            continue
        modes[mode] = e
        if mode == "rocksteady":
            report["steadykv"] = e
        else:
            report["baselines"][mode] = e
    # Every move back of every run: Rocksteady with no client load.
    unl = stat([v for r in runs for v in r["unloaded_mb_per_s"]])
    if unl["n"] and report["steadykv"]:
        report["steadykv"]["migration_mb_per_s_unloaded"] = unl["median"]
        report["steadykv"]["spread"]["migration_mb_per_s_unloaded"] = unl
    report["redis"] = aggregate([r["redis"] for r in runs])
    slot = aggregate([r["redis_single_slot"] for r in runs])
    if slot and report["redis"]:
        report["redis"]["single_slot"] = slot
    for sysname in HOT_SYSTEMS:
        e = aggregate([r["hot_path"].get(sysname) for r in runs])
        if e:
            report["hot_path"][sysname] = e

    s, rd, h, t = report["steadykv"], report["redis"], report["hot_path"], report["targets"]
    t["migration_vs_iperf3"] = target(
        runs, lambda r: skv(r).get("migration_mb_per_s"), lambda r: r["iperf3_mb_per_s"],
        s.get("migration_mb_per_s"), report["iperf3_mb_per_s"], ">= 0.8")
    t["migration_unloaded_vs_iperf3"] = target(
        runs, lambda r: stat(r["unloaded_mb_per_s"])["median"],
        lambda r: r["iperf3_mb_per_s"], s.get("migration_mb_per_s_unloaded"),
        report["iperf3_mb_per_s"], ">= 0.9 (no client load, like iperf3)")
    t["redis_reshard_vs_steadykv_duration"] = target(
        runs, lambda r: (r["redis"] or {}).get("migration_seconds"),
        lambda r: skv(r).get("migration_seconds"),
        rd.get("migration_seconds"), s.get("migration_seconds"), ">= 100")
    t["redis_single_slot_mb_per_s_vs_steadykv"] = target(
        runs, lambda r: (r["redis_single_slot"] or {}).get("mb_per_s"),
        lambda r: skv(r).get("migration_mb_per_s"),
        (rd.get("single_slot") or {}).get("mb_per_s"), s.get("migration_mb_per_s"),
        "(context: Redis's best case)")
    t["p999_during_vs_idle"] = target(
        runs, lambda r: skv(r).get("p999_us_during"), lambda r: skv(r).get("p999_us_idle"),
        s.get("p999_us_during"), s.get("p999_us_idle"), "<= 2")
    halved = (s.get("spread") or {}).get("source_rate_halved_after_s") or stat([])
    t["source_rate_halved_within_s"] = {
        "value": s.get("source_rate_halved_after_s"), "target": "<= 1",
        "per_run": [skv(r).get("source_rate_halved_after_s") for r in runs],
        "per_run_min": halved["min"], "per_run_max": halved["max"]}
    for field, name in (("get_ops_per_s", "GET"), ("put_ops_per_s", "PUT")):
        t[f"hot_path_{name.lower()}_vs_best_peer"] = target(
            runs, lambda r, f=field: (r["hot_path"].get("steadykv") or {}).get(f),
            lambda r, f=field: best_peer(r["hot_path"], f),
            (h.get("steadykv") or {}).get(field), best_peer(h, field),
            f">= 1.5 (the faster of Redis and memcached, {name})")

    # Flat keys the issue names, kept beside the nested ones.
    report["steadykv.migration_mb_per_s"] = s.get("migration_mb_per_s")
    report["steadykv.migration_seconds"] = s.get("migration_seconds")
    report["steadykv.p999_us_idle"] = s.get("p999_us_idle")
    report["steadykv.p999_us_during"] = s.get("p999_us_during")
    report["redis.migration_seconds"] = rd.get("migration_seconds")
    report["redis.p999_us_idle"] = rd.get("p999_us_idle")
    report["redis.p999_us_during"] = rd.get("p999_us_during")
    report["runs"] = runs
    return report, modes


def main():
    res, out = sys.argv[1], sys.argv[2]
    os.makedirs(out, exist_ok=True)
    report, modes = build_report(res)
    runs = report["runs"]
    dirs = run_dirs(res)

    # The median run of each system, by its p99.9 during the migration.
    plots = []
    i = median_run(runs, lambda r: skv(r).get("p999_us_during"))
    if i is not None:
        d = os.path.join(dirs[i], "skv-rocksteady")
        tl = os.path.join(d, "timeline.csv")
        p = plot(out, "steadykv",
                 f"steadykv: YCSB-B, half the table migrated (Rocksteady), "
                 f"{runs[i]['dir']}: median p99.9 during",
                 tl, mark_times(load(os.path.join(d, "run.json"))),
                 next((c for c in read_timeline(tl)[1] if c.startswith("ops_n1@")), ""))
        if p:
            plots.append(p)
        report["plot_runs"] = {"steadykv": runs[i]["dir"]}
    i = median_run(runs, lambda r: (r["redis"] or {}).get("p999_us_during"))
    if i is not None:
        rd = os.path.join(dirs[i], "redis")
        p = plot(out, "redis",
                 f"Redis Cluster 7.0: YCSB-B, 8192 slots resharded, "
                 f"{runs[i]['dir']}: median p99.9 during",
                 os.path.join(rd, "timeline.csv"), mark_times(load(os.path.join(rd, "run.json"))),
                 "ops_10.77.0.1:6379")
        if p:
            plots.append(p)
        report.setdefault("plot_runs", {})["redis"] = runs[i]["dir"]
    report["plots"] = plots

    with open(os.path.join(out, "report.json"), "w") as f:
        json.dump(report, f, indent=2)
        f.write("\n")
    write_markdown(os.path.join(out, "report.md"), report, modes)
    print_summary(report, out)


def fmt_stat(entry, field, unit=""):
    """A figure as "median [min-max]" (the median alone from one run)."""
    st = (entry.get("spread") or {}).get(field)
    if not st or st["n"] == 0:
        return "n/a"
    if st["n"] == 1 or st["min"] == st["max"]:
        text = fmt(st["median"], unit)
    else:
        text = f"{fmt(st['median'], unit)} [{fmt(st['min'])}-{fmt(st['max'])}]"
    if st["n"] < st["of"]:
        text += f" ({st['n']} of {st['of']} runs)"
    return text


def write_markdown(path, rep, skv_rows):
    s, r, t = rep["steadykv"], rep["redis"], rep["targets"]
    L = []
    L.append("# steadykv migration report\n")
    L.append(f"Kernel {rep.get('kernel')}, {rep.get('cpus')} vCPUs under QEMU TCG: "
             "absolute figures are 10-50x below native; read the ratios.\n")
    L.append(f"{rep['records']} records of {rep['key_size']} B keys and "
             f"{rep['value_size']} B values ({rep['record_bytes']} B each in the log); "
             "YCSB-B (95% reads), zipfian 0.99, at half of each system's measured "
             "capacity; half of the table moved from node 1 to node 2 while the "
             "load runs.\n")
    L.append(f"Each figure: the median of {rep['repeats']} runs, [min-max] beside it "
             "(the runs interleave the modes; each run's figures are under \"runs\" "
             "in report.json).\n")
    L.append(f"Link limit (iperf3 n1 -> n2): **{fmt_stat(rep, 'iperf3_mb_per_s')} MB/s**; "
             f"steadykv migration with no client load (every move back between runs): "
             f"**{fmt_stat(s, 'migration_mb_per_s_unloaded')} MB/s**\n")
    L.append("## Migration under load\n")
    L.append("| system | state | seconds | MB/s | p99.9 idle (us) | p99.9 during (us) | "
             "p99.9 after (us) | source rate halved after (s) | p50/p99 idle -> during (us) | "
             "RETRY replies | worst 100 ms p99.9, first s after ownership moved (us) | "
             "nodes' own p99.9 during (us) |")
    L.append("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for mode, e in skv_rows.items():
        L.append(f"| steadykv {mode} | {e['state']} | {fmt_stat(e, 'migration_seconds')} | "
                 f"{fmt_stat(e, 'migration_mb_per_s')} | {fmt_stat(e, 'p999_us_idle')} | "
                 f"{fmt_stat(e, 'p999_us_during')} | {fmt_stat(e, 'p999_us_after')} | "
                 f"{fmt_stat(e, 'source_rate_halved_after_s')} | "
                 f"{fmt(e.get('p50_us_idle'))}/{fmt(e.get('p99_us_idle'))} -> "
                 f"{fmt(e.get('p50_us_during'))}/{fmt(e.get('p99_us_during'))} | "
                 f"{fmt_stat(e, 'client_retries')} | {fmt_stat(e, 'p999_us_first_s_owned')} | "
                 f"{fmt_stat(e, 'node_p999_us_during')} |")
    if r:
        secs = fmt_stat(r, "migration_seconds")
        if r.get("migration_seconds_extrapolated"):
            secs += (f" (extrapolated: {fmt(r.get('slots'))} of {r.get('slots_wanted')} "
                     f"slots in {fmt(r.get('measured_seconds'))} s)")
        L.append(f"| Redis Cluster reshard | - | {secs} | "
                 f"{fmt_stat(r, 'migration_mb_per_s')} | {fmt_stat(r, 'p999_us_idle')} | "
                 f"{fmt_stat(r, 'p999_us_during')} | {fmt_stat(r, 'p999_us_after')} | "
                 f"{fmt_stat(r, 'source_rate_halved_after_s')} | "
                 f"{fmt(r.get('p50_us_idle'))}/{fmt(r.get('p99_us_idle'))} -> "
                 f"{fmt(r.get('p50_us_during'))}/{fmt(r.get('p99_us_during'))} | - | - | - |")
    L.append("\nThe nodes' own p99.9: the module's service time of both nodes' client "
             "requests over the migration, what the pacing steers by; the clients' p99.9 "
             "beside it also holds what no node sees (a client waiting for a CPU, the "
             "network stack before a connection wakes).\n")
    ss = r.get("single_slot") if r else None
    if ss:
        L.append(f"\nRedis best case, one slot of {fmt(ss.get('keys'))} keys, no load: "
                 f"{fmt_stat(ss, 'seconds')} s, {fmt_stat(ss, 'mb_per_s')} MB/s.\n")
    L.append("\n## Targets (ratios of the medians)\n")
    L.append("| target | measured | per run | wanted | met |")
    L.append("| --- | --- | --- | --- | --- |")
    checks = {
        "migration_vs_iperf3": lambda v: v >= 0.8,
        "migration_unloaded_vs_iperf3": lambda v: v >= 0.9,
        "redis_reshard_vs_steadykv_duration": lambda v: v >= 100,
        "p999_during_vs_idle": lambda v: v <= 2,
        "source_rate_halved_within_s": lambda v: v <= 1,
        "hot_path_get_vs_best_peer": lambda v: v >= 1.5,
        "hot_path_put_vs_best_peer": lambda v: v >= 1.5,
    }
    for k, v in t.items():
        met = "-"
        if k in checks and v["value"] is not None:
            met = "yes" if checks[k](v["value"]) else "**no**"
        per_run = ", ".join(fmt(x) for x in v.get("per_run", []))
        L.append(f"| {k} | {fmt(v['value'])} | {per_run} | {v['target']} | {met} |")
    L.append("\nA target is judged on the ratio of the medians; the per-run ratios "
             "show how far one run can land from it.\n")
    L.append("\n## Hot path: one node each, the same client (steadykv-bench)\n")
    L.append("| system | GET ops/s (closed loop) | PUT ops/s | latency at "
             f"{fmt((rep['hot_path'].get('steadykv') or {}).get('rate_ops'))} ops/s: "
             "p50 / p99 / p99.9 (us) |")
    L.append("| --- | --- | --- | --- |")
    for name, hp in rep["hot_path"].items():
        L.append(f"| {name} | {fmt_stat(hp, 'get_ops_per_s')} | {fmt_stat(hp, 'put_ops_per_s')} | "
                 f"{fmt_stat(hp, 'p50_us')} / {fmt_stat(hp, 'p99_us')} / "
                 f"{fmt_stat(hp, 'p999_us')} |")
    mc = rep["hot_path"].get("memcached")
    if mc and mc.get("get_classic_ops_per_s") is not None:
        L.append(f"\nmemcached GETs are meta gets (`mg KEY v`): {fmt_stat(mc, 'get_ops_per_s')} "
                 f"ops/s, SET {fmt_stat(mc, 'put_ops_per_s')}; with the classic `get`, "
                 f"{fmt_stat(mc, 'get_classic_ops_per_s')}. memcached flushes its replies "
                 "after every classic get (one send per request however many are "
                 "pipelined), while mg and set replies go out in one send per batch "
                 "read (see userspace/bench/bench_drv_mc.c and README.md).\n")
    L.append("\n## Plots\n")
    for name, run in (rep.get("plot_runs") or {}).items():
        L.append(f"{name}.png: {run}, the run with the median p99.9 during the migration.\n")
    for p in rep.get("plots", []):
        L.append(f"![{os.path.basename(p)}]({os.path.basename(p)})")
    with open(path, "w") as f:
        f.write("\n".join(L) + "\n")


def print_summary(rep, out):
    s, r, t = rep["steadykv"], rep["redis"], rep["targets"]
    print(f"== demo summary (medians of {rep['repeats']} runs, [min-max])")
    print(f"records {rep['records']} x {rep['record_bytes']} B; link (iperf3) "
          f"{fmt_stat(rep, 'iperf3_mb_per_s')} MB/s")
    if s.get("migration_mb_per_s_unloaded"):
        print(f"steadykv with no client load: {fmt_stat(s, 'migration_mb_per_s_unloaded')} MB/s "
              f"({fmt(t['migration_unloaded_vs_iperf3']['value'])}x the link)")
    print(f"steadykv (Rocksteady): half the table in {fmt_stat(s, 'migration_seconds')} s "
          f"at {fmt_stat(s, 'migration_mb_per_s')} MB/s "
          f"({fmt(t['migration_vs_iperf3']['value'])}x the link); p99.9 "
          f"{fmt_stat(s, 'p999_us_idle')} us idle, {fmt_stat(s, 'p999_us_during')} us during; "
          f"source rate halved {fmt_stat(s, 'source_rate_halved_after_s')} s after the start")
    for mode, e in rep["baselines"].items():
        print(f"  baseline {mode}: {fmt_stat(e, 'migration_seconds')} s, "
              f"{fmt_stat(e, 'migration_mb_per_s')} MB/s, p99.9 during "
              f"{fmt_stat(e, 'p999_us_during')} us, source halved after "
              f"{fmt_stat(e, 'source_rate_halved_after_s')} s, "
              f"{fmt_stat(e, 'client_retries')} RETRY replies")
    if r:
        ext = " (extrapolated from a cut reshard)" if r.get("migration_seconds_extrapolated") else ""
        print(f"Redis Cluster reshard: {fmt_stat(r, 'migration_seconds')} s{ext} "
              f"({fmt(t['redis_reshard_vs_steadykv_duration']['value'])}x steadykv's time); "
              f"p99.9 {fmt_stat(r, 'p999_us_idle')} us idle, "
              f"{fmt_stat(r, 'p999_us_during')} us during")
    for name, hp in rep["hot_path"].items():
        print(f"hot path {name}: GET {fmt_stat(hp, 'get_ops_per_s')} ops/s, "
              f"PUT {fmt_stat(hp, 'put_ops_per_s')} ops/s")
    print(f"report: {os.path.join(out, 'report.md')}, {os.path.join(out, 'report.json')}")
    for p in rep.get("plots", []):
        print(f"plot:   {p}")


if __name__ == "__main__":
    main()
