#!/usr/bin/env python3
"""Host test (TAP) of scripts/demo_report.py's statistics over the demo's
repeats: medians, spreads, the run picked for the plots, and the targets
as ratios of medians, on a results tree written here."""
import io
import json
import os
import sys
import tempfile
from contextlib import redirect_stdout

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import demo_report as dr  # noqa: E402

n_test = 0
failed = 0


def ok(cond, what):
    global n_test, failed
    n_test += 1
    print(f"{'ok' if cond else 'not ok'} {n_test} - {what}")
    if not cond:
        failed += 1


def close(a, b, tol=1e-9):
    return a is not None and b is not None and abs(a - b) <= tol * max(1.0, abs(b))


def test_stat():
    st = dr.stat([30, 10, 20])
    ok(st["median"] == 20 and st["min"] == 10 and st["max"] == 30,
       "stat: odd count, median 20 of 10 20 30, min 10, max 30")
    ok(close(st["spread"], 1.0), "stat: spread (max - min) / median = 1.0")
    st = dr.stat([4, 1, 2, 100])
    ok(st["median"] == 3, "stat: even count, median is the mean of the middle two (3)")
    st = dr.stat([None, 5, None, 7, 6])
    ok(st["median"] == 6 and st["n"] == 3 and st["of"] == 5,
       "stat: runs without the figure are left out and counted (3 of 5)")
    st = dr.stat([None, None])
    ok(st["median"] is None and st["spread"] is None and st["n"] == 0,
       "stat: no run with the figure gives no median")
    st = dr.stat([0, 0, 0])
    ok(st["median"] == 0 and st["spread"] is None, "stat: median 0 has no relative spread")


def test_aggregate():
    agg = dr.aggregate([
        {"state": "done", "mb": 10.0, "cut": False, "x": None},
        {"state": "done", "mb": 30.0, "cut": True, "x": 2},
        None,
        {"state": "failed", "mb": 20.0, "cut": False, "x": 4},
    ])
    ok(agg["mb"] == 20.0 and agg["spread"]["mb"]["min"] == 10.0
       and agg["spread"]["mb"]["max"] == 30.0, "aggregate: median and range per field")
    ok(agg["x"] == 3 and agg["spread"]["x"]["n"] == 2, "aggregate: a missing figure is skipped")
    ok(agg["cut"] is True, "aggregate: a flag set in any run is set")
    ok(agg["state"] == "done x2, failed x1", "aggregate: states that differ are counted")
    ok(dr.aggregate([None, {}]) == {}, "aggregate: no runs, no entry")


def test_median_run():
    runs = [{"v": 50}, {"v": 10}, {"v": None}, {"v": 30}]
    ok(dr.median_run(runs, lambda r: r["v"]) == 3, "median_run: the run with the median (30)")
    runs = [{"v": 1}, {"v": 4}, {"v": 2}, {"v": 3}]
    ok(dr.median_run(runs, lambda r: r["v"]) == 2,
       "median_run: even count takes the lower middle run (2)")
    ok(dr.median_run([{"v": None}], lambda r: r["v"]) is None, "median_run: none measured")


def test_worst_p999():
    rows = [{"t_s": f"{t:.3f}", "ops": "10", "p999_us": str(v)}
            for t, v in [(0.1, 50), (0.2, 900), (0.3, 400), (1.2, 300), (1.3, 700)]]
    rows.append({"t_s": "0.4", "ops": "0", "p999_us": "5000"})
    ok(dr.worst_p999(rows, 0.1, 1.0) == 900,
       "worst_p999: the highest interval ending in (0.1, 1.1], not the one at 0.1 or after")
    ok(dr.worst_p999(rows, 0.15, 1.1) == 900 and dr.worst_p999(rows, 0.35, 1.0) == 700,
       "worst_p999: the window moves with its start (900, then 700 from 0.35)")
    ok(dr.worst_p999(rows, 2.0, 1.0) is None and dr.worst_p999(rows, None, 1.0) is None,
       "worst_p999: no interval, or no start, gives None; an interval with no ops counts not")


def hist_lines(node, op, counts):
    """node_hist lines of one node and op: cumulative counts at 1, 2, 4 us
    and +Inf, from the per-bucket counts given."""
    les, cum, out = ["1e-06", "2e-06", "4e-06", "+Inf"], 0, []
    for le, c in zip(les, counts):
        cum += c
        out.append(f'{node} steadykv_request_duration_seconds_bucket{{op="{op}",le="{le}"}} {cum}')
    return "\n".join(out) + "\n"


def test_node_p999():
    with tempfile.TemporaryDirectory() as d:
        start, end = os.path.join(d, "start"), os.path.join(d, "end")
        write(start, hist_lines("n1", "get", [100, 0, 0, 0]))
        # Between them: 990 under 1 us, 8 in (1, 2], 2 in (2, 4], over
        # two nodes and two ops: the 999th is half-way into (2, 4].
        write(end, hist_lines("n1", "get", [100 + 500, 8, 0, 0]) +
              hist_lines("n1", "put", [290, 0, 2, 0]) +
              hist_lines("n2", "get", [200, 0, 0, 0]))
        got = dr.node_p999_us(dr.read_node_hist(start), dr.read_node_hist(end))
        ok(close(got, 3.0), f"node_p999_us: summed over nodes and ops, since the start: 3.0 us ({got})")
        # From zero: 1090 under 1 us, 8 in (1, 2], 2 in (2, 4]: the
        # 1099th of 1100 is half-way into (2, 4] as well.
        ok(close(dr.node_p999_us(None, dr.read_node_hist(end)), 3.0),
           "node_p999_us: no start snapshot counts from zero")
        ok(dr.node_p999_us(dr.read_node_hist(end), dr.read_node_hist(end)) is None
           and dr.read_node_hist(os.path.join(d, "absent")) is None
           and dr.node_p999_us(None, None) is None,
           "node_p999_us: no request in between, or no end snapshot, gives None")


def write(path, obj):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        if isinstance(obj, str):
            f.write(obj)
        else:
            json.dump(obj, f)


def bench_run(idle_p999, during_p999):
    def ph(p999):
        return {"ops": 100, "latency_us": {"p50": p999 / 10, "p99": p999 / 2, "p999": p999}}
    return {"phases": {"idle": ph(idle_p999), "during": ph(during_p999), "after": ph(idle_p999)},
            "run": {"rate_target": 1000, "result": {"errors": 0}}, "marks": []}


def make_run(d, iperf_mb, mig_mb_per_s, idle, during, unloaded, hot_get):
    write(os.path.join(d, "iperf3.json"),
          {"end": {"sum_received": {"bits_per_second": iperf_mb * 8e6}}})
    m = os.path.join(d, "skv-rocksteady")
    write(os.path.join(m, "run.json"), bench_run(idle, during))
    # 2 s at the wanted rate
    write(os.path.join(m, "migration.json"),
          {"state": "done", "elapsed_us": 2000000, "bytes_pulled": int(mig_mb_per_s * 2e6)})
    for i, u in enumerate(unloaded):
        write(os.path.join(d, f"skv-unloaded-{i + 1}.json"),
              {"state": "done", "elapsed_us": 1000000, "bytes_pulled": int(u * 1e6)})
    for sysname, get in hot_get.items():
        write(os.path.join(d, f"hot-{sysname}-get.json"), {"capacity": {"ops_per_s": get}})
        write(os.path.join(d, f"hot-{sysname}-put.json"), {"capacity": {"ops_per_s": get / 2}})


def test_report():
    with tempfile.TemporaryDirectory() as res, tempfile.TemporaryDirectory() as out:
        write(os.path.join(res, "meta.json"), {"records": 1000, "key_size": 30,
                                               "value_size": 100})
        # run-10 sorts after run-2: the repeats are taken in number order.
        make_run(os.path.join(res, "run-1"), 100, 10, 1000, 5000, [50, 70],
                 {"steadykv": 300, "redis": 100, "memcached": 200})
        make_run(os.path.join(res, "run-2"), 300, 50, 2000, 3000, [60],
                 {"steadykv": 500, "redis": 150, "memcached": 100})
        make_run(os.path.join(res, "run-10"), 200, 20, 1500, 4500, [90, 80],
                 {"steadykv": 400, "redis": 120, "memcached": 300})
        ok([os.path.basename(d) for d in dr.run_dirs(res)] == ["run-1", "run-2", "run-10"],
           "run_dirs: repeats in number order")
        rep, _ = dr.build_report(res)
        s, t = rep["steadykv"], rep["targets"]
        ok(rep["repeats"] == 3 and rep["iperf3_mb_per_s"] == 200, "report: iperf3 median 200 of 3")
        ok(s["migration_mb_per_s"] == 20 and s["spread"]["migration_mb_per_s"]["min"] == 10
           and s["spread"]["migration_mb_per_s"]["max"] == 50,
           "report: migration MB/s median 20 [10-50]")
        ok(s["migration_mb_per_s_unloaded"] == 70
           and s["spread"]["migration_mb_per_s_unloaded"]["n"] == 5,
           "report: unloaded speed is the median of every move back (70 of 5)")
        ok(close(t["migration_vs_iperf3"]["value"], 0.1),
           "target: migration vs iperf3 is the ratio of the medians (20 / 200)")
        ok(t["migration_vs_iperf3"]["per_run"] == [0.1, 0.167, 0.1],
           "target: the per-run ratios beside it")
        ok(close(t["p999_during_vs_idle"]["value"], 3.0),
           "target: p99.9 during vs idle on medians (4500 / 1500)")
        ok(close(t["hot_path_get_vs_best_peer"]["value"], 400 / 200),
           "target: hot-path GET vs the faster peer's median (400 / 200)")
        ok(rep["runs"][1]["steadykv"]["rocksteady"]["migration_mb_per_s"] == 50,
           "report: each run's raw figures are kept")
        with redirect_stdout(io.StringIO()):
            sys.argv = ["demo_report.py", res, out]
            dr.main()
        with open(os.path.join(out, "report.md")) as f:
            md = f.read()
        ok("| 20.0 [10.0-50.0] |" in md or "| 20 [10-50] |" in md,
           "report.md: MB/s as median [min-max]")
        with open(os.path.join(out, "report.json")) as f:
            js = json.load(f)
        ok(js.get("plot_runs", {}).get("steadykv") == "run-10",
           "plot: the run with the median p99.9 during (4500: run-10)")


def test_one_run_layout():
    with tempfile.TemporaryDirectory() as res:
        make_run(res, 100, 40, 1000, 1500, [80], {"steadykv": 10})
        rep, _ = dr.build_report(res)
        ok(rep["repeats"] == 1 and rep["steadykv"]["migration_mb_per_s"] == 40
           and close(rep["targets"]["migration_vs_iperf3"]["value"], 0.4),
           "report: a results directory without run-N is one run")


def main():
    test_stat()
    test_aggregate()
    test_median_run()
    test_worst_p999()
    test_node_p999()
    test_report()
    test_one_run_layout()
    print(f"1..{n_test}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
