#!/usr/bin/env python3
"""Turn the demo's raw results (scripts/demo-guest.sh) into the report.

Usage: demo_report.py RESULTS_DIR OUT_DIR

Writes OUT_DIR/report.json, OUT_DIR/report.md and, with gnuplot,
OUT_DIR/steadykv.png and OUT_DIR/redis.png (throughput and p99.9 over
time, migration start and end marked).  Every claim is a ratio against a
peer or a limit measured in the same guest run.
"""
import csv
import json
import os
import subprocess
import sys

RECORD_HDR = 40  # kmod/core/record.h: a record's header
SKV_MODES = ["rocksteady", "push", "no-priority-pulls", "one-partition"]


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
        v = round(v, 3) if abs(v) < 100 else round(v, 1)
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


def main():
    res, out = sys.argv[1], sys.argv[2]
    os.makedirs(out, exist_ok=True)
    meta = load(os.path.join(res, "meta.json"), {})
    iperf = load(os.path.join(res, "iperf3.json"), {})
    key_size = meta.get("key_size", 30)
    value_size = meta.get("value_size", 100)
    rbytes = record_bytes(key_size, value_size)
    iperf_mb = None
    try:
        iperf_mb = iperf["end"]["sum_received"]["bits_per_second"] / 8e6
    except (KeyError, TypeError):
        pass

    report = {
        "records": meta.get("records"),
        "record_bytes": rbytes,
        "key_size": key_size,
        "value_size": value_size,
        "iperf3_mb_per_s": round(iperf_mb, 2) if iperf_mb else None,
        "kernel": meta.get("kernel"),
        "cpus": meta.get("cpus"),
        "steadykv": {},
        "baselines": {},
        "redis": {},
        "hot_path": {},
        "targets": {},
    }

    # steadykv runs: Rocksteady and the baselines.
    skv_rows = {}
    for mode in SKV_MODES:
        d = os.path.join(res, "skv-" + mode)
        run = load(os.path.join(d, "run.json"))
        mig = load(os.path.join(d, "migration.json"))
        if run is None or mig is None:
            continue
        secs = mig.get("elapsed_us", 0) / 1e6
        mb = mig.get("bytes_pulled", 0) / 1e6
        rows, cols = read_timeline(os.path.join(d, "timeline.csv"))
        marks = mark_times(run)
        drop_s, src_rate = source_drop(rows, cols, marks.get("migration-start"), 0.1)
        entry = {
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
            "p50_us_after": phase(run, "after", "p50"),
            "p99_us_after": phase(run, "after", "p99"),
            "p999_us_after": phase(run, "after"),
            "errors": run.get("run", {}).get("result", {}).get("errors"),
            "source_rate_halved_after_s": drop_s,
            "source_rate_idle_ops": round(src_rate, 1) if src_rate else None,
        }
        skv_rows[mode] = entry
        if mode == "rocksteady":
            report["steadykv"] = entry
        else:
            report["baselines"][mode] = entry

    # The move-backs between runs: Rocksteady with no client load.
    unloaded = []
    for name in sorted(os.listdir(res)):
        if name.startswith("skv-unloaded-") and name.endswith(".json"):
            m = load(os.path.join(res, name))
            if m and m.get("state") == "done" and m.get("elapsed_us"):
                unloaded.append(m["bytes_pulled"] / 1e6 / (m["elapsed_us"] / 1e6))
    if unloaded and report["steadykv"]:
        report["steadykv"]["migration_mb_per_s_unloaded"] = round(max(unloaded), 2)

    rd = os.path.join(res, "redis")
    rrun = load(os.path.join(rd, "run.json"))
    rres = load(os.path.join(rd, "reshard.json"), {})
    slot = load(os.path.join(res, "redis-single-slot.json"), {})
    if rrun is not None:
        rows, cols = read_timeline(os.path.join(rd, "timeline.csv"))
        marks = mark_times(rrun)
        drop_s, _ = source_drop(rows, cols, marks.get("migration-start"), 0.1)
        moved = rres.get("keys_moved")
        secs = rres.get("seconds")
        complete = rres.get("complete", True)
        # A reshard cut at the demo's time cap: its pace over all 8192 slots.
        total = secs if complete else rres.get("seconds_all_slots")
        report["redis"] = {
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
    if slot:
        s = slot.get("seconds")
        report["redis"]["single_slot"] = {
            "seconds": round(s, 3) if s else None,
            "keys": slot.get("keys"),
            "keys_at_target": slot.get("keys_at_target"),
            "mb_per_s": round(slot["keys"] * rbytes / 1e6 / s, 2)
            if s and slot.get("keys") else None,
        }

    for sysname in ["steadykv", "redis", "memcached"]:
        get = load(os.path.join(res, f"hot-{sysname}-get.json"))
        put = load(os.path.join(res, f"hot-{sysname}-put.json"))
        lat = load(os.path.join(res, f"hot-{sysname}-latency.json"))
        if not get:
            continue
        report["hot_path"][sysname] = {
            "get_ops_per_s": get.get("capacity", {}).get("ops_per_s"),
            "put_ops_per_s": (put or {}).get("capacity", {}).get("ops_per_s"),
            "rate_ops": meta.get("hot_rate"),
            "latency_us": (lat or {}).get("run", {}).get("result", {}).get("latency_us"),
        }

    s = report["steadykv"]
    r = report["redis"]
    t = report["targets"]
    t["migration_vs_iperf3"] = {"value": ratio(s.get("migration_mb_per_s"), iperf_mb),
                                "target": ">= 0.8"}
    t["migration_unloaded_vs_iperf3"] = {
        "value": ratio(s.get("migration_mb_per_s_unloaded"), iperf_mb),
        "target": "(context: no client load, like iperf3)"}
    t["redis_reshard_vs_steadykv_duration"] = {
        "value": ratio(r.get("migration_seconds"), s.get("migration_seconds")),
        "target": ">= 100"}
    t["redis_single_slot_mb_per_s_vs_steadykv"] = {
        "value": ratio((r.get("single_slot") or {}).get("mb_per_s"),
                       s.get("migration_mb_per_s")),
        "target": "(context: Redis's best case)"}
    t["p999_during_vs_idle"] = {
        "value": ratio(s.get("p999_us_during"), s.get("p999_us_idle")),
        "target": "<= 2"}
    t["source_rate_halved_within_s"] = {"value": s.get("source_rate_halved_after_s"),
                                        "target": "<= 1"}

    # Flat keys the issue names, kept beside the nested ones.
    report["steadykv.migration_mb_per_s"] = s.get("migration_mb_per_s")
    report["steadykv.migration_seconds"] = s.get("migration_seconds")
    report["steadykv.p999_us_idle"] = s.get("p999_us_idle")
    report["steadykv.p999_us_during"] = s.get("p999_us_during")
    report["redis.migration_seconds"] = r.get("migration_seconds")
    report["redis.p999_us_idle"] = r.get("p999_us_idle")
    report["redis.p999_us_during"] = r.get("p999_us_during")

    plots = []
    d = os.path.join(res, "skv-rocksteady")
    p = plot(out, "steadykv", "steadykv: YCSB-B, half the table migrated (Rocksteady)",
             os.path.join(d, "timeline.csv"),
             mark_times(load(os.path.join(d, "run.json"))),
             next((c for c in read_timeline(os.path.join(d, "timeline.csv"))[1]
                   if c.startswith("ops_n1@")), ""))
    if p:
        plots.append(p)
    p = plot(out, "redis", "Redis Cluster 7.0: YCSB-B, 8192 slots resharded",
             os.path.join(rd, "timeline.csv"), mark_times(rrun),
             "ops_10.77.0.1:6379")
    if p:
        plots.append(p)
    report["plots"] = plots

    with open(os.path.join(out, "report.json"), "w") as f:
        json.dump(report, f, indent=2)
        f.write("\n")
    write_markdown(os.path.join(out, "report.md"), report, skv_rows)
    print_summary(report, out)


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
    L.append(f"Link limit (iperf3 n1 -> n2): **{fmt(rep['iperf3_mb_per_s'])} MB/s**; "
             f"steadykv migration with no client load: "
             f"**{fmt(s.get('migration_mb_per_s_unloaded'))} MB/s**\n")
    L.append("## Migration under load\n")
    L.append("| system | state | seconds | MB/s | p50/p99/p99.9 idle (us) | "
             "p50/p99/p99.9 during (us) | p99.9 after | source rate halved after (s) |")
    L.append("| --- | --- | --- | --- | --- | --- | --- | --- |")
    for mode, e in skv_rows.items():
        L.append(f"| steadykv {mode} | {e['state']} | {fmt(e['migration_seconds'])} | "
                 f"{fmt(e['migration_mb_per_s'])} | {fmt(e['p50_us_idle'])}/"
                 f"{fmt(e['p99_us_idle'])}/{fmt(e['p999_us_idle'])} | "
                 f"{fmt(e['p50_us_during'])}/{fmt(e['p99_us_during'])}/"
                 f"{fmt(e['p999_us_during'])} | {fmt(e['p999_us_after'])} | "
                 f"{fmt(e['source_rate_halved_after_s'])} |")
    if r:
        secs = fmt(r.get("migration_seconds"))
        if r.get("migration_seconds_extrapolated"):
            secs += (f" (extrapolated: {r.get('slots')} of {r.get('slots_wanted')} "
                     f"slots in {fmt(r.get('measured_seconds'))} s)")
        L.append(f"| Redis Cluster reshard | - | {secs} | "
                 f"{fmt(r.get('migration_mb_per_s'))} | {fmt(r.get('p50_us_idle'))}/"
                 f"{fmt(r.get('p99_us_idle'))}/{fmt(r.get('p999_us_idle'))} | "
                 f"{fmt(r.get('p50_us_during'))}/{fmt(r.get('p99_us_during'))}/"
                 f"{fmt(r.get('p999_us_during'))} | {fmt(r.get('p999_us_after'))} | "
                 f"{fmt(r.get('source_rate_halved_after_s'))} |")
    ss = r.get("single_slot") if r else None
    if ss:
        L.append(f"\nRedis best case, one slot of {ss.get('keys')} keys, no load: "
                 f"{fmt(ss.get('seconds'))} s, {fmt(ss.get('mb_per_s'))} MB/s.\n")
    L.append("\n## Targets (ratios)\n")
    L.append("| target | measured | wanted | met |")
    L.append("| --- | --- | --- | --- |")
    checks = {
        "migration_vs_iperf3": lambda v: v >= 0.8,
        "redis_reshard_vs_steadykv_duration": lambda v: v >= 100,
        "p999_during_vs_idle": lambda v: v <= 2,
        "source_rate_halved_within_s": lambda v: v <= 1,
    }
    for k, v in t.items():
        met = "-"
        if k in checks and v["value"] is not None:
            met = "yes" if checks[k](v["value"]) else "**no**"
        L.append(f"| {k} | {fmt(v['value'])} | {v['target']} | {met} |")
    L.append("\n## Hot path: one node each, the same client (steadykv-bench)\n")
    L.append("| system | GET ops/s (closed loop) | PUT ops/s | latency at "
             f"{rep['hot_path'].get('steadykv', {}).get('rate_ops')} ops/s "
             "(p50/p99/p99.9 us) |")
    L.append("| --- | --- | --- | --- |")
    for name, h in rep["hot_path"].items():
        lat = h.get("latency_us") or {}
        L.append(f"| {name} | {fmt(h.get('get_ops_per_s'))} | {fmt(h.get('put_ops_per_s'))} | "
                 f"{fmt(lat.get('p50'))}/{fmt(lat.get('p99'))}/{fmt(lat.get('p999'))} |")
    L.append("\n## Plots\n")
    for p in rep.get("plots", []):
        L.append(f"![{os.path.basename(p)}]({os.path.basename(p)})")
    with open(path, "w") as f:
        f.write("\n".join(L) + "\n")


def print_summary(rep, out):
    s, r, t = rep["steadykv"], rep["redis"], rep["targets"]
    print("== demo summary")
    print(f"records {rep['records']} x {rep['record_bytes']} B; link (iperf3) "
          f"{fmt(rep['iperf3_mb_per_s'])} MB/s")
    if s.get("migration_mb_per_s_unloaded"):
        print(f"steadykv with no client load: {fmt(s['migration_mb_per_s_unloaded'])} MB/s "
              f"({fmt(t['migration_unloaded_vs_iperf3']['value'])}x the link)")
    print(f"steadykv (Rocksteady): half the table in {fmt(s.get('migration_seconds'))} s "
          f"at {fmt(s.get('migration_mb_per_s'))} MB/s "
          f"({fmt(t['migration_vs_iperf3']['value'])}x the link); p99.9 "
          f"{fmt(s.get('p999_us_idle'))} us idle, {fmt(s.get('p999_us_during'))} us during; "
          f"source rate halved {fmt(s.get('source_rate_halved_after_s'))} s after the start")
    for mode, e in rep["baselines"].items():
        print(f"  baseline {mode}: {fmt(e['migration_seconds'])} s, "
              f"{fmt(e['migration_mb_per_s'])} MB/s, p99.9 during "
              f"{fmt(e['p999_us_during'])} us, source halved after "
              f"{fmt(e['source_rate_halved_after_s'])} s")
    if r:
        ext = " (extrapolated from a cut reshard)" if r.get("migration_seconds_extrapolated") else ""
        print(f"Redis Cluster reshard: {fmt(r.get('migration_seconds'))} s{ext} "
              f"({fmt(t['redis_reshard_vs_steadykv_duration']['value'])}x steadykv's time); "
              f"p99.9 {fmt(r.get('p999_us_idle'))} us idle, "
              f"{fmt(r.get('p999_us_during'))} us during")
    print(f"report: {os.path.join(out, 'report.md')}, {os.path.join(out, 'report.json')}")
    for p in rep.get("plots", []):
        print(f"plot:   {p}")


if __name__ == "__main__":
    main()
