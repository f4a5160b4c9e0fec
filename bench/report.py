#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-only
"""bench/report.py --out DIR [--runs N]: the report of scripts/bench.

Reads DIR/run-K/results.jsonl and calib.jsonl for K = 1..N (hsema-bench,
in the guest: the benchmarks and the emulation's yardsticks),
DIR/scaled/results.jsonl and scale.json (the contended grid with the
starvation threshold scaled), DIR/host.jsonl (the yardsticks on the
host), DIR/callgrind/*.out (the fast paths, on the host) and
DIR/machine.json, and writes:

  DIR/table.md       the tables and the verdict on every target, the runs
                     combined (median of per-turn ratios, median over runs)
  DIR/results.jsonl  every record of every run, tagged "run" and "view"
  DIR/summary.csv    one row per measurement, ratios to glibc sem_t
  DIR/targets.json   the targets, machine-readable
  DIR/*.png          throughput, wait-time distributions, fairness, lockskew

The any row (bench/any.c: hand-overs through sema_acquire_any() on 1, 8
and 64 semaphores, futex_waitv() on as many words, and sema_acquire() on
one) has records of its own, "impl" naming the variant and "sems" the set
size, checked and tabled apart from the implementations.

It first checks that the run is complete (every benchmark, cell and
implementation present, every number sane) and exits 1 naming what is
missing; the targets themselves never fail it: a benchmark is not a test.
Only the standard library, gnuplot and callgrind_annotate are needed.

report.py --scale HOST.jsonl GUEST.jsonl BASE_NS OUT.json, run in the
guest, prints BASE_NS scaled by the emulation's slow-down (scale()).
"""

import argparse
import csv
import json
import math
import os
import random
import re
import subprocess
import sys
import tempfile

BASE = "glibc-sem"              # ratios are to this, as the issue asks
BENCHES = ("uncontended", "contended", "lockskew", "pingpong", "any")
# The "any" row's variants (any.c): their own names, not implementations.
ANY = "sema_acquire_any"
ANY_WAITV = "futex_waitv"
ANY_PLAIN = "sema_acquire"      # one semaphore: what ANY is held to
LIBSEMA = "libsema"
HANDOFF = "libsema-handoff"
POSIX = "libsema-posix"         # glibc's sem_t API, libsema-posix's functions
POSIX_WITHIN = 1.05             # ... no slower than this times libsema
# Before the meta record said which implementations use /dev/hsema
# ("uses_hsema"), these were the ones.
HSEMA_IMPLS_BEFORE = (LIBSEMA, HANDOFF)
STYLE = {                       # colour and point type per implementation
    "libsema": ("#1f77b4", 7),
    "libsema-handoff": ("#17becf", 5),
    "libsema-posix": ("#2ca02c", 3),
    "glibc-sem": ("#d62728", 9),
    "pthread-mutex": ("#ff7f0e", 11),
    "raw-futex": ("#7f7f7f", 13),
}


class Incomplete(Exception):
    pass


def need(cond, what):
    if not cond:
        raise Incomplete(what)


def finite(x):
    return isinstance(x, (int, float)) and math.isfinite(x)


# ---------------------------------------------------------------- inputs

def load_results(path):
    need(os.path.exists(path), f"{path} is missing")
    recs = []
    with open(path) as f:
        for n, line in enumerate(f, 1):
            line = line.strip()
            if not line:
                continue
            try:
                recs.append(json.loads(line))
            except json.JSONDecodeError as e:
                raise Incomplete(f"{path}:{n}: not JSON: {e}")
    need(recs and recs[0].get("bench") == "meta",
         f"{path} does not start with the meta record")
    need(recs[-1].get("bench") == "end",
         f"{path} has no end record: the run did not complete")
    return recs[0], recs[-1], recs[1:-1]


def annotate_self_costs(path):
    """Self (exclusive) Ir of each function, from callgrind_annotate."""
    try:
        out = subprocess.run(["callgrind_annotate", "--threshold=100", path],
                             capture_output=True, text=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError) as e:
        raise Incomplete(f"callgrind_annotate {path}: {e}")
    costs = {}
    for line in out.splitlines():
        m = re.match(r"\s*([\d,]+)\s+\([^)]*\).*?\s(\S+:\S+)(\s+\[.*\])?$", line)
        if m and "PROGRAM TOTALS" not in line:
            fn = m.group(2).split(":", 1)[1]
            costs[fn] = costs.get(fn, 0) + int(m.group(1).replace(",", ""))
    return costs


def load_callgrind(d):
    """Per implementation: instructions, atomics and system calls per pair."""
    need(os.path.isdir(d), f"{d} is missing")
    with open(os.path.join(d, "pairs")) as f:
        pairs = int(f.read())
    res = {}
    for name in sorted(os.listdir(d)):
        if not name.endswith(".out"):
            continue
        impl = name[:-4]
        path = os.path.join(d, name)
        events = totals = None
        with open(path) as f:
            for line in f:
                if line.startswith("events:"):
                    events = line.split()[1:]
                elif line.startswith("totals:"):
                    totals = [int(x) for x in line.split()[1:]]
        need(events and totals is not None, f"{path}: no events or totals")
        tot = dict(zip(events, totals + [0] * (len(events) - len(totals))))
        need(tot.get("Ir", 0) > 0, f"{path}: nothing was counted")
        # What the harness adds (the loop, the table's wrappers) is the
        # same for everyone; without it, what the library itself costs.
        selfc = annotate_self_costs(path)
        harness = sum(c for fn, c in selfc.items()
                      if fn == "fastpath_pairs" or fn.endswith("_ops"))
        res[impl] = {
            "ir_per_pair": tot["Ir"] / pairs,
            "lib_ir_per_pair": (tot["Ir"] - harness) / pairs,
            "atomics_per_pair": tot.get("Ge", 0) / pairs,
            "syscalls": tot.get("sysCount", 0),
        }
    need(res, f"{d}: no callgrind output")
    return pairs, res


# ---------------------------------------------------------------- checks

def hsema_impls(meta):
    """The implementations that use /dev/hsema: their ioctls are theirs,
    and the module's counters move for them."""
    impls = meta.get("impls", [])
    if impls and all("uses_hsema" in i for i in impls):
        return [i["name"] for i in impls if i["uses_hsema"]]
    return [i["name"] for i in impls if i["name"] in HSEMA_IMPLS_BEFORE]


def check_counts(meta, impl, r, where, over_hsema=None):
    """Kernel entries and switches: counted and sane, or null, never faked.

    @over_hsema: the names that may make ioctl calls (default: the
    implementations over hsema)."""
    for k in ("futex_calls", "ioctl_calls", "kentries_per_op", "nvcsw",
              "nvcsw_per_op"):
        need(k in r, f"{where}: no {k}")
    need(isinstance(r["nvcsw"], int) and r["nvcsw"] >= 0
         and finite(r["nvcsw_per_op"]), f"{where}: nvcsw {r['nvcsw']}")
    if not meta.get("kcount_available"):
        need(r["futex_calls"] is None and r["ioctl_calls"] is None
             and r["kentries_per_op"] is None,
             f"{where}: kernel entries given, but meta says they were not "
             f"counted ({meta.get('kcount')})")
        return
    need(isinstance(r["futex_calls"], int) and isinstance(r["ioctl_calls"], int)
         and r["futex_calls"] >= 0 and r["ioctl_calls"] >= 0
         and finite(r["kentries_per_op"]),
         f"{where}: kernel entries not counted although meta says they were")
    # Only the implementations over hsema talk to /dev/hsema: an ioctl
    # anywhere else would be the harness's, counted against an
    # implementation.
    if over_hsema is None:
        over_hsema = hsema_impls(meta)
    need(impl in over_hsema or r["ioctl_calls"] == 0,
         f"{where}: {r['ioctl_calls']} ioctl calls from {impl}")


def any_hsema(meta):
    """The any row's variants over hsema."""
    return [i["name"] for i in meta.get("any_impls", []) if i["uses_hsema"]]


def check_any(meta, recs):
    """The any row (any.c): every variant, set size and placement present,
    turns that add up, hand-overs that match the round trips, counts."""
    need(isinstance(meta.get("any_impls"), list) and meta.get("any_sems"),
         "any: the meta record does not describe the row")
    names = [i["name"] for i in meta["any_impls"]]
    by = {}
    for r in recs:
        where = f"any {r.get('impl')} {r.get('sems')} {r.get('placement')}"
        need(r.get("impl") in names, f"{where}: unknown variant")
        key = (r["impl"], r.get("placement"), r.get("sems"))
        need(key not in by, f"duplicate record {where}")
        by[key] = r
    pls = ["same-cpu", "two-cpus"][:min(meta.get("cpus", 1), 2)]
    for i in meta["any_impls"]:
        for n in i["sems"]:
            for pl in pls:
                where = f"any {i['name']} on {n} {pl}"
                r = by.get((i["name"], pl, n))
                need(r, f"{where}: missing")
                need(r["released"] == n - 1, f"{where}: released "
                     f"{r['released']}, not the last")
                need(r["round_trips"] > 0, f"{where}: no round trip")
                h = r["handover_ns"]
                need(h["n"] == r["round_trips"],
                     f"{where}: {h['n']} hand-overs for {r['round_trips']} "
                     "round trips")
                need(sum(c for _, c in h["buckets"]) == h["n"],
                     f"{where}: histogram incomplete")
                need(h["p50"] <= h["p99"] <= h["p999"] <= h["max"],
                     f"{where}: percentiles out of order")
                turns = r.get("turns")
                need(isinstance(turns, list) and len(turns) == meta["rounds"],
                     f"{where}: {len(turns or [])} turns, not "
                     f"{meta['rounds']}")
                need(sum(x["round_trips"] for x in turns) ==
                     r["round_trips"], f"{where}: the turns do not add up")
                need(sum(x["nvcsw"] for x in turns) == r["nvcsw"],
                     f"{where}: the turns' nvcsw do not add up")
                need(all(x["round_trips"] > 0 and x["handover_p50_ns"] >= 0
                         for x in turns), f"{where}: an empty turn")
                check_counts(meta, i["name"], r, where, any_hsema(meta))
                if meta.get("kcount_available"):
                    ct = r.get("count_turn")
                    need(isinstance(ct, dict) and ct["round_trips"] > 0,
                         f"{where}: no counting turn")
                    for k in ("futex_calls", "ioctl_calls"):
                        need(ct[k] == r[k], f"{where}: {k} is not the "
                             "counting turn's")
                if i["uses_hsema"]:
                    need("hsema" in r, f"{where}: no module counters")
                elif "hsema" in r:
                    need(r["hsema"]["waits"] == 0,
                         f"{where}: the module counted waits while it ran")
    need(len(by) == sum(len(i["sems"]) for i in meta["any_impls"]) *
         len(pls), "any: records beyond the meta record's variants")
    return by


def check(meta, recs, cg, want_all):
    """Everything the run should have produced is there and sane."""
    need(meta.get("kernel_clocksource") == "tsc",
         f"the guest's clocksource is {meta.get('kernel_clocksource')!r}, "
         f"not tsc (scripts/bench boots it with tsc=reliable clocksource=tsc)")
    need(meta.get("rounds", 0) >= 3,
         f"{meta.get('rounds')} turns per cell: the ratios need at least 3")
    for k in ("kcount", "kcount_available"):
        need(k in meta, f"meta has no {k}")
    impls = [i["name"] for i in meta.get("impls", [])]
    need(impls, "meta lists no implementations")
    # callgrind counts every implementation hsema-bench knows.
    need(set(impls) <= set(cg) and (not want_all or set(impls) == set(cg)),
         f"the guest ran {sorted(impls)}, callgrind counted {sorted(cg)}")
    need(BASE in impls, f"{BASE} did not run: nothing to compare with")
    for impl, c in cg.items():
        need(c["syscalls"] == 0,
             f"{impl}: {c['syscalls']} system calls on the uncontended path")
    by, anyrecs = {}, []
    for r in recs:
        need("bench" in r and "impl" in r, f"a record without bench/impl: {r}")
        if r["bench"] == "any":
            anyrecs.append(r)
            continue
        need(r["impl"] in impls, f"unknown implementation {r['impl']}")
        key = (r["bench"], r["impl"], r.get("placement"), r.get("threads"),
               r.get("cs_us"))
        need(key not in by, f"duplicate record {key}")
        by[key] = r
    cpus = meta.get("cpus", 1)
    present = {b for b, *_ in by} | ({"any"} if anyrecs else set())
    meta["_present"] = present
    meta["_any"] = check_any(meta, anyrecs) if anyrecs else {}
    if want_all:
        need(present == set(BENCHES), f"benchmarks missing: "
             f"{sorted(set(BENCHES) - present)}")
    for impl in impls:
        if "uncontended" in present:
            r = by.get(("uncontended", impl, None, None, None))
            need(r, f"uncontended: no {impl}")
            need(finite(r["ns_per_pair"]) and r["ns_per_pair"] > 0,
                 f"uncontended {impl}: ns_per_pair {r['ns_per_pair']}")
        for t in meta["threads"] if "contended" in present else []:
            for cs in meta["cs_us"]:
                r = by.get(("contended", impl, None, t, cs))
                need(r, f"contended: no {impl} at {t} threads, {cs} us")
                w = r["wait_ns"]
                need(r["ops"] > 0 and finite(r["ops_per_sec"]),
                     f"contended {impl} {t}/{cs}: no operations")
                need(w["n"] == r["ops"] and len(r["per_thread"]) == t,
                     f"contended {impl} {t}/{cs}: counts disagree")
                need(sum(c for _, c in w["buckets"]) == w["n"],
                     f"contended {impl} {t}/{cs}: histogram incomplete")
                need(w["p50"] <= w["p99"] <= w["p999"] <= w["max"],
                     f"contended {impl} {t}/{cs}: percentiles out of order")
                where = f"contended {impl} {t}/{cs}"
                turns = r.get("turns")
                need(isinstance(turns, list) and len(turns) == meta["rounds"],
                     f"{where}: {len(turns or [])} turns, not "
                     f"{meta['rounds']}")
                # A turn may see no operation at all: a smoke turn is
                # 30 ms, and a loaded host can stop a vCPU for longer.
                need(all(x["ops"] >= 0 and finite(x["ops_per_sec"])
                         and x["ops_per_sec"] >= 0 for x in turns),
                     f"{where}: a turn with a bad count")
                need(sum(x["ops"] for x in turns) == r["ops"],
                     f"{where}: the turns do not add up to the cell")
                for x in turns:
                    need(isinstance(x.get("nvcsw"), int)
                         and (finite(x.get("nvcsw_per_op"))
                              or x["ops"] == 0),
                         f"{where}: a turn without nvcsw")
                check_counts(meta, impl, r, where)
                if meta.get("kcount_available"):
                    ct = r.get("count_turn")
                    need(isinstance(ct, dict) and ct["ops"] > 0,
                         f"{where}: no counting turn")
                    for k in ("futex_calls", "ioctl_calls"):
                        need(ct[k] == r[k], f"{where}: {k} is not the "
                             "counting turn's")
                need(sum(x["nvcsw"] for x in turns) == r["nvcsw"],
                     f"{where}: the turns' nvcsw do not add up")
        for pl in ["same-cpu", "spread"][:min(cpus, 2)] \
                if "lockskew" in present else []:
            r = by.get(("lockskew", impl, pl, None, None))
            need(r, f"lockskew {pl}: no {impl}")
            need(r["greedy_ops"] > 0, f"lockskew {pl} {impl}: greedy idle")
            check_counts(meta, impl, r, f"lockskew {pl} {impl}")
        if impl == "pthread-mutex" or "pingpong" not in present:
            continue
        for pl in ["same-cpu", "two-cpus"][:min(cpus, 2)]:
            r = by.get(("pingpong", impl, pl, None, None))
            need(r, f"pingpong {pl}: no {impl}")
            need(r["round_trips"] > 0, f"pingpong {pl} {impl}: no round trip")
            check_counts(meta, impl, r, f"pingpong {pl} {impl}")
    for (bench, impl, *_), r in by.items():
        if impl in hsema_impls(meta):
            need("hsema" in r, f"{bench} {impl}: no module counters")
        elif "hsema" in r:
            need(r["hsema"]["waits"] == 0,
                 f"{bench} {impl}: the module counted waits while it ran")
    return impls, by


# ---------------------------------------------------------------- helpers

def fmt_ns(ns):
    if ns is None or not finite(ns):
        return "–"
    if ns >= 1e9:
        return f"{ns / 1e9:.2f} s"
    if ns >= 1e6:
        return f"{ns / 1e6:.2f} ms"
    if ns >= 1e3:
        return f"{ns / 1e3:.1f} µs"
    return f"{ns:.0f} ns"


def fmt_ratio(x):
    return "–" if x is None or not finite(x) else f"{x:.2f}×"


def fmt_rate(x):
    if x >= 1e6:
        return f"{x / 1e6:.2f} M"
    if x >= 1e3:
        return f"{x / 1e3:.1f} k"
    return f"{x:.0f}"


def ratio(a, b):
    if a is None or b is None or not finite(a) or not finite(b) or b == 0:
        return None
    return a / b


def table(head, rows, align=None):
    align = align or ["l"] + ["r"] * (len(head) - 1)
    sep = ["---:" if a == "r" else "---" for a in align]
    out = ["| " + " | ".join(head) + " |", "| " + " | ".join(sep) + " |"]
    out += ["| " + " | ".join(str(c) for c in r) + " |" for r in rows]
    return "\n".join(out)


def ccdf(buckets, n):
    """(ns, fraction of acquires that waited at least ns) per bucket."""
    pts, left = [], n
    for low, count in buckets:
        pts.append((max(low, 1), left / n))
        left -= count
    return pts


# ---------------------------------------------------------------- targets

def verdict(ok):
    return "**met**" if ok else "**missed**"


def targets(meta, impls, by, cg):
    out = []

    def unc(i):
        r = by.get(("uncontended", i, None, None, None))
        return r and r["ns_per_pair"]

    present = meta["_present"]
    for i in (LIBSEMA, HANDOFF):
        if i not in impls or "uncontended" not in present:
            continue
        rt = ratio(unc(i), unc(BASE))
        ri = ratio(cg.get(i, {}).get("lib_ir_per_pair"),
                   cg.get(BASE, {}).get("lib_ir_per_pair"))
        at = cg.get(i, {}).get("atomics_per_pair")
        out.append({
            "target": f"uncontended {i}: ≤ 1.1× glibc, one atomic per operation",
            "measured": f"{fmt_ratio(rt)} time, {fmt_ratio(ri)} instructions, "
                        f"{at / 2:.2f} atomics per operation" if at is not None
                        else fmt_ratio(rt),
            "ok": rt is not None and rt <= 1.1 and at is not None
                  and abs(at - 2) < 0.01,
            "value": rt,
        })

    t, cs = 8, 10
    for i in (LIBSEMA, HANDOFF):
        k = ("contended", i, None, t, cs)
        if i not in impls or "contended" not in present:
            continue
        if k not in by:
            out.append({"target": f"fairness {i} at 8 threads, 10 µs",
                        "measured": "not in this grid", "ok": None,
                        "value": None})
            continue
        r, g = by[k], by[("contended", BASE, None, t, cs)]
        p = ratio(r["wait_ns"]["p999"], g["wait_ns"]["p999"])
        m = ratio(r["wait_ns"]["max"], g["wait_ns"]["max"])
        j = r["jain"]
        out.append({
            "target": f"fairness {i}, 8 threads, 10 µs: p99.9 wait ≤ 0.25×, "
                      "max wait ≤ 0.1× glibc, Jain ≥ 0.99",
            "measured": f"p99.9 {fmt_ratio(p)}, max {fmt_ratio(m)}, "
                        f"Jain {j:.4f} (glibc {g['jain']:.4f})",
            "ok": p is not None and m is not None and p <= 0.25 and m <= 0.1
                  and j >= 0.99,
            "value": [p, m, j],
        })

    for pl in ("same-cpu", "spread"):
        k = ("lockskew", LIBSEMA, pl, None, None)
        if k not in by:
            continue
        mx = by[k]["occasional_wait_ns"]["max"]
        g = by[("lockskew", BASE, pl, None, None)]
        out.append({
            "target": f"lockskew ({pl}): libsema's occasional thread waits "
                      "≤ 2 ms at most, glibc's without bound",
            "measured": f"libsema {fmt_ns(mx)} "
                        f"({by[k]['occasional_ops']} acquisitions); glibc "
                        f"{fmt_ns(g['occasional_wait_ns']['max'])} "
                        f"({g['occasional_ops']} acquisitions)",
            "ok": mx <= 2e6,
            "value": mx,
        })

    for pl in ("same-cpu", "two-cpus"):
        k = ("pingpong", HANDOFF, pl, None, None)
        if k not in by:
            continue
        rr = ratio(by[k]["ns_per_round_trip"],
                   by[("pingpong", BASE, pl, None, None)]["ns_per_round_trip"])
        nr = ratio(by[("pingpong", LIBSEMA, pl, None, None)]["ns_per_round_trip"],
                   by[("pingpong", BASE, pl, None, None)]["ns_per_round_trip"]) \
            if ("pingpong", LIBSEMA, pl, None, None) in by else None
        out.append({
            "target": f"ping-pong ({pl}) with the directed yield: ≤ 1.0× glibc",
            "measured": f"with the yield {fmt_ratio(rr)}, without "
                        f"{fmt_ratio(nr)}",
            "ok": rr is not None and rr <= 1.0,
            "value": rr,
        })
    return out


# ---------------------------------------------------------------- runs

def median(xs):
    xs = sorted(xs)
    n = len(xs)
    return None if not n else (xs[n // 2] if n % 2 else
                               (xs[n // 2 - 1] + xs[n // 2]) / 2)


def turn_ratios(by, impl, t, cs, base=BASE):
    """impl / base (glibc) per turn: turn k of both ran in the same round."""
    a = by[("contended", impl, None, t, cs)]["turns"]
    g = by[("contended", base, None, t, cs)]["turns"]
    need(len(a) == len(g),
         f"contended {impl} {t}/{cs}: turns do not pair with {base}'s")
    # A turn in which the base did nothing (a stopped vCPU) has no ratio.
    rs = [ratio(x["ops_per_sec"], y["ops_per_sec"]) for x, y in zip(a, g)]
    rs = [r for r in rs if r is not None]
    need(rs, f"contended {impl} {t}/{cs}: no turn with {base} operations")
    return rs


def combine_cells(runs, impls, base=BASE):
    """Per (impl, threads, cs): each run's median turn ratio, and over runs.

    The ratio is to @base, glibc unless said otherwise.

    A run's ratio is the median of its per-turn ratios (a slow patch of the
    host hits one turn, not the median); the cell's is the median over runs
    of those, with the range across runs and across every turn.  Counts
    per acquisition are the median over runs (null if any run lacks them).
    """
    meta0 = runs[0][0]
    cells = {}
    for t in meta0["threads"]:
        for cs in meta0["cs_us"]:
            for i in impls:
                per = []
                for meta, by in runs:
                    r = by[("contended", i, None, t, cs)]
                    rs = turn_ratios(by, i, t, cs, base)
                    per.append({"median": median(rs), "min": min(rs),
                                "max": max(rs),
                                "ops_per_sec": r["ops_per_sec"],
                                "kentries_per_op": r["kentries_per_op"],
                                "nvcsw_per_op": r["nvcsw_per_op"]})
                meds = [x["median"] for x in per]
                ke = [x["kentries_per_op"] for x in per]
                cells[(i, t, cs)] = {
                    "ratio": median(meds),
                    "runs_lo": min(meds), "runs_hi": max(meds),
                    "turns_lo": min(x["min"] for x in per),
                    "turns_hi": max(x["max"] for x in per),
                    "ops_per_sec": median([x["ops_per_sec"] for x in per]),
                    "kentries_per_op": None if None in ke else median(ke),
                    "nvcsw_per_op": median([x["nvcsw_per_op"] for x in per]),
                    "runs": per,
                }
    return cells


def any_turn_ratios(a, b):
    """Hand-over a / b turn by turn (the any row's turn k of every variant
    ran in the same round), each turn's median hand-over."""
    need(len(a["turns"]) == len(b["turns"]),
         f"any {a['impl']} on {a['sems']}: turns do not pair with "
         f"{b['impl']}'s")
    rs = [ratio(x["handover_p50_ns"], y["handover_p50_ns"])
          for x, y in zip(a["turns"], b["turns"])]
    return [r for r in rs if r is not None]


def combine_any(metas):
    """Per any-row (variant, placement, sems): the hand-over, and its
    ratios to the plain hand-over (sema_acquire, one semaphore) and, for
    sema_acquire_any, to futex_waitv on as many words.

    A run's hand-over is the median over its turns of each turn's median
    hand-over; the cell's the median over runs, with the range across
    runs and across every turn.  Ratios are taken turn by turn, then the
    same way.  Counts per hand-over are the median over runs."""
    out = {}
    for key in metas[0]["_any"]:
        impl, pl, n = key
        per = []
        for m in metas:
            need(key in m["_any"], f"any {impl} on {n} {pl}: not in every run")
            r = m["_any"][key]
            vals = [x["handover_p50_ns"] for x in r["turns"]]
            d = {"median": median(vals), "min": min(vals), "max": max(vals),
                 "kentries_per_op": r["kentries_per_op"],
                 "nvcsw_per_op": r["nvcsw_per_op"]}
            for name, bkey in (("vs_plain", (ANY_PLAIN, pl, 1)),
                               ("vs_waitv", (ANY_WAITV, pl, n))):
                if bkey == key or bkey not in m["_any"] or \
                        (name == "vs_waitv" and impl != ANY):
                    continue
                rs = any_turn_ratios(r, m["_any"][bkey])
                need(rs, f"any {impl} on {n} {pl}: no turn to compare")
                d[name] = {"median": median(rs), "min": min(rs),
                           "max": max(rs)}
            per.append(d)
        meds = [x["median"] for x in per]
        ke = [x["kentries_per_op"] for x in per]
        c = {"value": median(meds), "runs_lo": min(meds),
             "runs_hi": max(meds),
             "turns_lo": min(x["min"] for x in per),
             "turns_hi": max(x["max"] for x in per),
             "kentries_per_op": None if None in ke else median(ke),
             "nvcsw_per_op": median([x["nvcsw_per_op"] for x in per])}
        for name in ("vs_plain", "vs_waitv"):
            if all(name in x for x in per):
                rm = [x[name]["median"] for x in per]
                c[name] = {"ratio": median(rm), "runs_lo": min(rm),
                           "runs_hi": max(rm),
                           "turns_lo": min(x[name]["min"] for x in per),
                           "turns_hi": max(x[name]["max"] for x in per)}
        out[key] = c
    return out


def fmt_any_ns(c, nruns):
    """The hand-over, then how far runs (and turns) were apart."""
    s = fmt_ns(c["value"]) + " ("
    if nruns > 1:
        s += f"runs {fmt_ns(c['runs_lo'])}–{fmt_ns(c['runs_hi'])}; "
    return s + f"turns {fmt_ns(c['turns_lo'])}–{fmt_ns(c['turns_hi'])})"


def fmt_range(lo, hi):
    return f"{lo:.2f}–{hi:.2f}"


def fmt_cell_ratio(c, nruns):
    """The median, then how far runs (and turns) were apart."""
    s = fmt_ratio(c["ratio"])
    if nruns > 1:
        s += f" (runs {fmt_range(c['runs_lo'], c['runs_hi'])}"
    else:
        s += " ("
    s += ("; " if nruns > 1 else "") + \
        f"turns {fmt_range(c['turns_lo'], c['turns_hi'])})"
    return s


def contended_targets(meta, impls, cells, nruns, scaled_cells, scale):
    out = []
    if LIBSEMA not in impls or "contended" not in meta["_present"]:
        return out

    def worst(cs_of, label):
        per_t, lo = [], None
        for t in meta["threads"]:
            w = min(((cs_of[(LIBSEMA, t, cs)]["ratio"], cs)
                     for cs in meta["cs_us"]))
            per_t.append(f"{t}t: {fmt_ratio(w[0])} (at {w[1]} µs)")
            lo = w[0] if lo is None else min(lo, w[0])
        return per_t, lo

    per_t, lo = worst(cells, "")
    out.append({
        "target": "contended throughput, libsema (normal mode, 1 ms "
                  "starvation threshold): ≥ 0.9× glibc in every cell",
        "measured": f"worst per thread count, median of {nruns} run(s) of the "
                    "median per-turn ratio: " + ", ".join(per_t),
        "ok": lo >= 0.9,
        "value": lo,
    })

    # Counts: emulator-independent, so they must hold cell by cell.
    bad, worst_k, have = [], None, True
    for t in meta["threads"]:
        for cs in meta["cs_us"]:
            a, g = cells[(LIBSEMA, t, cs)], cells[(BASE, t, cs)]
            if a["kentries_per_op"] is None or g["kentries_per_op"] is None:
                have = False
                continue
            if a["kentries_per_op"] > g["kentries_per_op"] or \
                    a["nvcsw_per_op"] > g["nvcsw_per_op"]:
                bad.append(f"{t}t/{cs} µs")
            k = ratio(a["kentries_per_op"], g["kentries_per_op"])
            if k is not None:
                worst_k = k if worst_k is None else max(worst_k, k)
    out.append({
        "target": "contended counts, libsema: kernel entries and voluntary "
                  "context switches per acquisition ≤ glibc's in every cell",
        "measured": ("kernel entries not counted in this run" if not have else
                     f"{len(bad)} of {len(meta['threads']) * len(meta['cs_us'])}"
                     f" cells above glibc" + (f" ({', '.join(bad)})" if bad
                                              else "") +
                     f"; kernel entries at most {fmt_ratio(worst_k)} glibc's"),
        "ok": None if not have else not bad,
        "value": bad,
    })

    if scaled_cells is not None:
        per_t, lo = worst(scaled_cells, "")
        out.append({
            "target": "hardware-equivalent view (not the headline): contended "
                      f"throughput with starve_ns scaled by the slow-down "
                      f"{scale['factor']:.1f}× to {scale['starve_ns']} ns, "
                      "≥ 0.9× glibc in every cell",
            "measured": "worst per thread count, median per-turn ratio, one "
                        "run: " + ", ".join(per_t),
            "ok": lo >= 0.9,
            "value": lo,
        })
    return out


def geomean_ci(logs, draws=2000):
    """The geometric mean of exp(logs) and its 95% bootstrap interval
    (percentiles of @draws resamples; a fixed seed, so that the same
    results give the same report)."""
    rng = random.Random(0)
    n = len(logs)
    bs = sorted(math.exp(sum(rng.choice(logs) for _ in range(n)) / n)
                for _ in range(draws))
    return (math.exp(sum(logs) / n), bs[int(draws * 0.025)],
            bs[int(draws * 0.975) - 1])


def self_ratio_cell(runs, impl, t, cs):
    """@impl against itself by the cell statistic: each run's median over
    k of turn k / turn k+1 (cyclically), the median over runs.  No
    implementation differs from itself: how far this lands from 1 is what
    the turns' noise alone does to a cell's ratio."""
    meds = []
    for _, by in runs:
        ts = [x["ops_per_sec"] for x in
              by[("contended", impl, None, t, cs)]["turns"]]
        rs = [ratio(ts[k], ts[(k + 1) % len(ts)]) for k in range(len(ts))]
        rs = [r for r in rs if r is not None]
        if rs:
            meds.append(median(rs))
    return median(meds)


def posix_target(meta, impls, runs, pcells):
    """libsema-posix within POSIX_WITHIN of libsema.

    Uncontended: libsema-posix's time per pair over libsema's, each the
    median of its interleaved repetitions (as the uncontended target to
    glibc), the median over runs.  Contended: its throughput over
    libsema's over the whole grid, the geometric mean of every per-turn
    ratio of every cell and run, held to the target by the low end of its
    95% bootstrap interval.  Cell by cell (pcells: combine_cells() against
    libsema) the ratios are shown, not judged: under emulation a turn's
    throughput varies by tens of percent, and libsema against its own
    turns, by the same cell statistic, lands as far from 1 in some cells
    (counted and shown beside them), so a 5% bound per cell would judge
    the noise.  Within means no slower: time at most POSIX_WITHIN times
    libsema's, throughput at least 1 / POSIX_WITHIN of it; faster is
    within.
    """
    present = meta["_present"]
    if POSIX not in impls or LIBSEMA not in impls or \
            not {"uncontended", "contended"} & present:
        return []
    lo = 1 / POSIX_WITHIN
    parts, misses, value = [], [], {}
    if "uncontended" in present:
        per = [ratio(by[("uncontended", POSIX, None, None, None)]
                     ["ns_per_pair"],
                     by[("uncontended", LIBSEMA, None, None, None)]
                     ["ns_per_pair"]) for _, by in runs]
        need(None not in per, "uncontended: no libsema-posix / libsema ratio")
        u = median(per)
        parts.append(f"uncontended {fmt_ratio(u)} time" +
                     (f" (runs {fmt_range(min(per), max(per))})"
                      if len(per) > 1 else ""))
        value["uncontended"] = u
        if u > POSIX_WITHIN:
            misses.append(f"uncontended {fmt_ratio(u)} time "
                          f"({u - POSIX_WITHIN:.3f} over)")
    if "contended" in present:
        grid = [(t, cs) for t in meta["threads"] for cs in meta["cs_us"]]
        rs = [r for t, cs in grid for _, by in runs
              for r in turn_ratios(by, POSIX, t, cs, LIBSEMA)]
        # A turn in which libsema-posix did nothing (a vCPU stopped for
        # all of a smoke turn) has no logarithm: left out, and counted.
        logs = [math.log(r) for r in rs if r > 0]
        need(logs, "contended: no libsema-posix / libsema turn ratio")
        g, glo, ghi = geomean_ci(logs)
        cells = [(pcells[(POSIX, t, cs)]["ratio"], t, cs) for t, cs in grid]
        short = [f"{t}t/{cs} µs {fmt_ratio(r)}" for r, t, cs in cells
                 if r < lo]
        selfs = [(self_ratio_cell(runs, LIBSEMA, t, cs), t, cs)
                 for t, cs in grid]
        sshort = [f"{t}t/{cs} µs {fmt_ratio(r)}" for r, t, cs in selfs
                  if r is not None and r < lo]
        parts.append(
            f"contended throughput over the grid, geometric mean of "
            f"{len(logs)} per-turn ratios ({len(runs)} run(s)"
            + (f"; {len(rs) - len(logs)} empty turn(s) left out"
               if len(rs) > len(logs) else "") + "): "
            f"{fmt_ratio(g)} (95% interval {fmt_range(glo, ghi)}); cell by "
            f"cell, median of the runs' median per-turn ratio, "
            f"{len(cells) - len(short)} of {len(cells)} at or above "
            f"{lo:.3f}×" + (f" (below: {', '.join(short)})" if short else "")
            + f"; libsema against its own turns by the same statistic: "
            f"{len(selfs) - len(sshort)} of {len(selfs)} at or above" +
            (f" (below: {', '.join(sshort)})" if sshort else ""))
        value["contended"] = {
            "geomean": g, "ci95": [glo, ghi], "turn_ratios": len(logs),
            "cells": {f"{t}t/{cs}us": r for r, t, cs in cells},
            "self_cells": {f"{t}t/{cs}us": r for r, t, cs in selfs}}
        if glo < lo:
            misses.append(f"contended: the interval's low end {glo:.3f}× "
                          f"is {lo - glo:.3f} short")
    return [{
        "target": f"libsema-posix (glibc's sem_t API over hsema) within "
                  f"{POSIX_WITHIN:.2f}× of libsema, uncontended and "
                  f"contended: time ≤ {POSIX_WITHIN:.2f}×, throughput "
                  f"≥ 1/{POSIX_WITHIN:.2f} = {lo:.3f}× libsema's over "
                  "the contended grid (the low end of the 95% interval of "
                  "the geometric mean of its per-turn ratios)",
        "measured": "; ".join(parts) + (
            f"; missed in: {', '.join(misses)}" if misses else ""),
        "ok": not misses,
        "value": value,
    }]


def merge_targets(per_run):
    """A target of one run holds if it was met in every run."""
    out = []
    n = len(per_run)
    for j, t0 in enumerate(per_run[0]):
        oks = [tg[j]["ok"] for tg in per_run]
        t = dict(t0)
        t["runs"] = [{"measured": tg[j]["measured"], "ok": tg[j]["ok"],
                      "value": tg[j]["value"]} for tg in per_run]
        if n > 1:
            t["measured"] = f"run 1: {t0['measured']}; " + (
                "n/a" if None in oks else f"met in {sum(oks)} of {n} runs")
            t["ok"] = None if None in oks else all(oks)
        out.append(t)
    return out


# ---------------------------------------------------------------- scale

def calib_numbers(path):
    """The yardsticks of one hsema-bench -b uncontended,pingpong -i glibc-sem."""
    meta, _, recs = load_results(path)
    by = {(r["bench"], r.get("placement")): r for r in recs
          if r.get("impl") == BASE}
    need(("uncontended", None) in by and ("pingpong", "same-cpu") in by,
         f"{path}: no glibc-sem uncontended or same-cpu ping-pong record")
    return {
        "work_iters_per_us": meta["work_iters_per_us"],
        "pair_ns": by[("uncontended", None)]["ns_per_pair"],
        "handover_ns": by[("pingpong", "same-cpu")]["ns_per_round_trip"],
    }


def scale(host_path, guest_path, base_ns):
    """How much slower the guest is, and the threshold scaled by it.

    Three yardsticks, the same program on both sides: the calibrated busy
    loop (plain instructions), an uncontended glibc sem_t pair (atomics and
    calls through the PLT), and a glibc sem_t ping-pong round trip on one
    CPU (two futex wake-ups and two context switches).  The factor is the
    last one's: a queue starves when its head has waited through hand-overs
    for starve_ns, and a hand-over is kernel entry, wake-up and context
    switch, what emulation slows down most; the busy loop would understate
    it, and the critical sections are calibrated in guest time anyway.
    """
    h, g = calib_numbers(host_path), calib_numbers(guest_path)
    f = {
        "busy_loop": h["work_iters_per_us"] / g["work_iters_per_us"],
        "pair": g["pair_ns"] / h["pair_ns"],
        "handover": g["handover_ns"] / h["handover_ns"],
    }
    need(all(finite(x) and x > 0 for x in f.values()), f"bad factors {f}")
    return {"host": h, "guest": g, "factors": f, "chosen": "handover",
            "factor": f["handover"], "base_ns": base_ns,
            "starve_ns": max(1, round(base_ns * f["handover"]))}


# ---------------------------------------------------------------- tables

def spread_text(cells, meta, nruns):
    """How far apart the runs were, in libsema's ratio to glibc."""
    if nruns < 2 or LIBSEMA not in {i for i, _, _ in cells}:
        return None
    sp = sorted(((c["runs_hi"] - c["runs_lo"], t, cs)
                 for (i, t, cs), c in cells.items() if i == LIBSEMA))
    med = median([x[0] for x in sp])
    w = sp[-1]
    c = cells[(LIBSEMA, w[1], w[2])]
    return (f"the {nruns} runs' libsema / glibc ratios were a median "
            f"{med:.2f} apart per cell (max − min of the runs' medians), at "
            f"most {w[0]:.2f} ({w[1]} threads, {w[2]} µs: "
            f"{fmt_range(c['runs_lo'], c['runs_hi'])})")


def fmt_count(x):
    return "–" if x is None or not finite(x) else f"{x:.3f}"


def markdown(meta, end, machine, impls, by, cg, tg, notes, runs, cells,
             scaled, scl, pcells, acells):
    nruns = len(runs)
    secs = ", ".join(f"{e['secs']:.0f}" for _, e, _ in runs)
    L = ["<!-- SPDX-License-Identifier: GPL-2.0-only -->"]
    L.append("# hsema benchmark results\n")
    L.append("Generated by `scripts/bench` (bench/report.py); the raw records "
             "are in `results.jsonl`, one row per measurement in "
             "`summary.csv`.\n")
    L.append(table(["", ""], [
        ["host", f"{machine.get('host_cpu', '?')}, "
                 f"{machine.get('host_cpus', '?')} CPUs, "
                 f"{machine.get('host_mem_gib', '?')} GiB, Linux "
                 f"{machine.get('host_kernel', '?')}, load "
                 f"{' '.join(machine.get('load_before', []))} before the run"],
        ["guest", f"Linux {meta['kernel']}, {meta['cpus']} vCPUs "
                  f"({meta.get('cpu_model', '?')}), "
                  f"{machine.get('qemu', 'QEMU')}"],
        ["clocks", f"timestamps: {meta['clock']} "
                   f"({meta['ticks_per_ns']:.3f} ticks/ns; offset between "
                   f"the CPUs' TSCs bounded by {meta['tsc_skew_ns']} ns, a "
                   f"loose bound when the host is busy); the guest kernel's "
                   f"clocksource: {meta.get('kernel_clocksource', '?')}"],
        ["run", f"{meta['mode']}, {nruns} run(s), one guest boot each "
                f"({secs} s of "
                f"benchmarks), {machine.get('date', '')}"],
        ["kernel entries", meta.get("kcount", "?")],
    ] + ([["runs apart", spread_text(cells, meta, nruns)]]
         if cells and spread_text(cells, meta, nruns) else [])
      + [["note", n] for n in notes], ["l", "l"]))
    L.append("")
    if nruns > 1:
        L.append(f"The throughput ratios and counts below combine the {nruns} "
                 "runs: per cell, the median over runs of each run's median "
                 "per-turn ratio, with the range across runs and across every "
                 "turn; absolute rates are the median over runs.  The other "
                 "tables are run 1's; a target is met if every run met it.")
    L.append("")
    if "TCG" in meta.get("cpu_model", "") or "QEMU" in meta.get("cpu_model", ""):
        L.append("The guest runs under QEMU's software emulation (TCG): "
                 "absolute times are those of an emulated CPU, many times "
                 "slower than the host, and system calls and context switches "
                 "cost far more relative to plain instructions than on "
                 "hardware.  Ratios between implementations measured in the "
                 "same run are what holds.\n")

    L.append("## Targets\n")
    L.append(table(["target", "measured", "verdict"],
                   [[t["target"], t["measured"],
                     "n/a" if t["ok"] is None else verdict(t["ok"])]
                    for t in tg], ["l", "l", "l"]))
    L.append("")

    if "uncontended" in meta["_present"]:
        # 1. uncontended
        L.append("## 1. Uncontended acquire + release\n")
        L.append("One thread, a semaphore of value 1: median of the interleaved "
                 "repetitions in the guest; instructions (Ir), atomic "
                 "read-modify-writes (callgrind's Ge) and system calls counted by "
                 "callgrind on the host, per pair, through the benchmark's table "
                 "of operations and, in *library*, without it.\n")
        base = by[("uncontended", BASE, None, None, None)]["ns_per_pair"]
        rows = []
        for i in impls:
            r = by[("uncontended", i, None, None, None)]
            c = cg.get(i, {})
            rows.append([i, f"{r['ns_per_pair']:.1f}", f"{r['ns_min']:.1f}",
                         fmt_ratio(ratio(r["ns_per_pair"], base)),
                         f"{c.get('ir_per_pair', 0):.1f}",
                         f"{c.get('lib_ir_per_pair', 0):.1f}",
                         f"{c.get('atomics_per_pair', 0):.2f}",
                         c.get("syscalls", "?")])
        L.append(table(["implementation", "ns/pair", "fastest", "vs glibc",
                        "Ir/pair", "library Ir/pair", "atomics/pair", "syscalls"],
                       rows))
        L.append("")
    if "contended" in meta["_present"]:
        # 2. throughput
        L.append("## 2. Contended throughput\n")
        L.append("Acquisitions per second, all threads together, on a semaphore "
                 "of value 1 (a lock), the median over runs; the ratio is "
                 "libsema's to glibc sem_t's" +
                 (" (and libsema-posix's to libsema's)" if pcells else "") +
                 ", taken turn by turn (the turns of "
                 "a round run back to back): the median over runs of each "
                 "run's median, then the range across runs and across every "
                 "turn.\n")
        rows = []
        for cs in meta["cs_us"]:
            for t in meta["threads"]:
                row = [f"{cs} µs", t]
                for i in impls:
                    row.append(fmt_rate(cells[(i, t, cs)]["ops_per_sec"]))
                for i in (LIBSEMA, HANDOFF):
                    if i in impls:
                        row.append(fmt_cell_ratio(cells[(i, t, cs)], nruns))
                if pcells:
                    row.append(fmt_cell_ratio(pcells[(POSIX, t, cs)], nruns))
                rows.append(row)
        L.append(table(["section", "threads"] + impls +
                       [f"{i} / glibc" for i in (LIBSEMA, HANDOFF)
                        if i in impls] +
                       ([f"{POSIX} / {LIBSEMA}"] if pcells else []),
                       rows))
        L.append("")
        L.append("### Kernel entries and voluntary context switches per "
                 "acquisition\n")
        L.append("Counted in the guest, independent of how fast the emulated "
                 "CPU is: the worker threads' futex() and ioctl() calls (a "
                 "tracefs hist trigger on raw_syscalls:sys_enter), in one "
                 "more turn per implementation whose throughput is not used "
                 "(the trigger slows every system call down), and their "
                 "voluntary context switches (getrusage RUSAGE_THREAD "
                 "ru_nvcsw) over the measured turns, per acquisition; median "
                 "over runs.  The implementations over hsema ("
                 f"{', '.join(i for i in impls if i in hsema_impls(meta))}) "
                 "enter the kernel with ioctl() on /dev/hsema, the others "
                 "with futex().\n")
        for key, what in (("kentries_per_op", "kernel entries (futex + ioctl)"),
                          ("nvcsw_per_op", "voluntary context switches")):
            rows = []
            for cs in meta["cs_us"]:
                for t in meta["threads"]:
                    row = [f"{cs} µs", t]
                    for i in impls:
                        row.append(fmt_count(cells[(i, t, cs)][key]))
                    g = cells[(BASE, t, cs)][key]
                    for i in (LIBSEMA, HANDOFF):
                        if i in impls:
                            row.append(fmt_ratio(ratio(cells[(i, t, cs)][key],
                                                       g)))
                    if pcells:
                        row.append(fmt_ratio(ratio(
                            cells[(POSIX, t, cs)][key],
                            cells[(LIBSEMA, t, cs)][key])))
                    rows.append(row)
            L.append(f"{what.capitalize()} per acquisition:\n")
            L.append(table(["section", "threads"] + impls +
                           [f"{i} / glibc" for i in (LIBSEMA, HANDOFF)
                            if i in impls] +
                           ([f"{POSIX} / {LIBSEMA}"] if pcells else []),
                           rows))
            L.append("")
        if scaled is not None:
            sm, sby, scells = scaled
            f = scl["factors"]
            L.append("### Hardware-equivalent view: the starvation threshold "
                     "scaled by the emulation's slow-down\n")
            L.append("The same program on the host and in the guest (of the "
                     "last run) times three yardsticks; the threshold is "
                     "scaled by the hand-over's (a glibc sem_t ping-pong round "
                     "trip on one CPU: two futex wake-ups and context "
                     "switches, what a starving waiter waits through), and the "
                     "contended grid runs once more, libsema and glibc only, "
                     "with the module's starve_ns at "
                     f"{scl['base_ns']} × {scl['factor']:.2f} = "
                     f"{scl['starve_ns']} ns.  One factor for every cell.  The "
                     "headline stays at the default above.\n")
            h, g = scl["host"], scl["guest"]
            L.append(table(["yardstick", "host", "guest", "slow-down"], [
                ["busy loop (iterations/µs)", f"{h['work_iters_per_us']:.0f}",
                 f"{g['work_iters_per_us']:.0f}", f"{f['busy_loop']:.2f}×"],
                ["uncontended sem_t pair", fmt_ns(h["pair_ns"]),
                 fmt_ns(g["pair_ns"]), f"{f['pair']:.2f}×"],
                ["sem_t ping-pong round trip, one CPU (used)",
                 fmt_ns(h["handover_ns"]), fmt_ns(g["handover_ns"]),
                 f"{f['handover']:.2f}×"],
            ], ["l", "r", "r", "r"]))
            L.append("")
            rows = []
            for cs in meta["cs_us"]:
                for t in meta["threads"]:
                    c = scells[(LIBSEMA, t, cs)]
                    r = sby[("contended", LIBSEMA, None, t, cs)]
                    h2 = r.get("hsema", {})
                    rows.append([f"{cs} µs", t,
                                 fmt_cell_ratio(cells[(LIBSEMA, t, cs)], nruns),
                                 fmt_cell_ratio(c, 1),
                                 fmt_count(c["kentries_per_op"]),
                                 fmt_count(c["nvcsw_per_op"]),
                                 h2.get("starve_enter", "–"),
                                 h2.get("grants", "–")])
            L.append(table(["section", "threads",
                            f"libsema / glibc, starve_ns {scl['base_ns']}",
                            f"libsema / glibc, starve_ns {scl['starve_ns']}",
                            "kernel entries / acq.", "vol. switches / acq.",
                            "starvations", "grants"], rows))
            L.append("")
        L.append("\n![throughput](throughput.png)\n")
    if "contended" in meta["_present"]:
        # 3. fairness
        L.append("## 3. Fairness and tail\n")
        L.append("Each acquire's wait, from asking to owning (fast-path "
                 "acquisitions included), and each thread's share: Jain's index "
                 "(1 = equal shares, 1/n = one thread got all) and the largest "
                 "share over the smallest.\n")
        rows = []
        for cs in meta["cs_us"]:
            for t in meta["threads"]:
                g = by[("contended", BASE, None, t, cs)]
                for i in impls:
                    r = by[("contended", i, None, t, cs)]
                    w = r["wait_ns"]
                    rows.append([f"{cs} µs", t, i, fmt_ns(w["p50"]),
                                 fmt_ns(w["p99"]), fmt_ns(w["p999"]),
                                 fmt_ns(w["max"]),
                                 fmt_ratio(ratio(w["p999"], g["wait_ns"]["p999"])),
                                 fmt_ratio(ratio(w["max"], g["wait_ns"]["max"])),
                                 f"{r['jain']:.4f}",
                                 fmt_ratio(r["max_min"]) if r["max_min"] else "∞"])
        L.append(table(["section", "threads", "implementation", "p50", "p99",
                        "p99.9", "max", "p99.9 vs glibc", "max vs glibc", "Jain",
                        "max/min"], rows, ["l", "r", "l"] + ["r"] * 8))
        L.append("")
        for t in meta["threads"]:
            L.append(f"![waits at {t} threads](waits-{t}t.png)")
        L.append("\n![fairness](fairness.png)\n")

        L.append("### What the module did for the implementations over "
                 "hsema\n")
        L.append("Counter deltas of HSEMA_IOC_STATS over each cell (all turns): "
                 "waiters queued, woken to compete, requeued after losing, units "
                 "granted directly, next grantees woken early to spin for their "
                 "grant, grants a spinning waiter caught, woken waiters that spun for a "
                 "unit before competing, directed yields taken, "
                 "starvation episodes.\n")
        rows = []
        for cs in meta["cs_us"]:
            for t in meta["threads"]:
                for i in impls:
                    if i not in hsema_impls(meta):
                        continue
                    r = by[("contended", i, None, t, cs)]
                    h = r["hsema"]
                    rows.append([f"{cs} µs", t, i, r["ops"], h["waits"],
                                 h["wakes"], h["requeues"], h["grants"],
                                 h.get("spin_wakes", "–"),
                                 h.get("spin_grants", "–"),
                                 h.get("woken_spins", "–"),
                                 h["yields"], h["starve_enter"]])
        L.append(table(["section", "threads", "implementation", "acquisitions",
                        "waits", "wakes", "requeues", "grants", "early wakes",
                        "spin grants", "woken spins", "yields",
                        "starvations"], rows,
                       ["l", "r", "l"] + ["r"] * 10))
        L.append("")
    if "lockskew" in meta["_present"]:
        # 4. lockskew
        L.append("## 4. Lockskew (golang/go#13086)\n")
        L.append("A greedy thread holds the lock 100 µs and re-acquires it at "
                 "once; an occasional thread asks once per millisecond.  "
                 "*same-cpu*: both on one CPU, the occasional thread "
                 "SCHED_BATCH (a wake-up does not preempt); *spread*: one CPU "
                 "each.  Fair would be about one acquisition per 1.1 ms for the "
                 "occasional thread.\n")
        rows = []
        for pl in ("same-cpu", "spread"):
            for i in impls:
                r = by.get(("lockskew", i, pl, None, None))
                if not r:
                    continue
                w = r["occasional_wait_ns"]
                h = r.get("hsema", {})
                rows.append([pl, i, f"{r['secs']:.1f} s", r["occasional_ops"],
                             fmt_ns(w["p50"]), fmt_ns(w["p99"]), fmt_ns(w["max"]),
                             r["greedy_ops"],
                             h.get("grants", "–"), h.get("starve_enter", "–"),
                             h.get("yields", "–"),
                             fmt_count(r["kentries_per_op"]),
                             fmt_count(r["nvcsw_per_op"])])
        L.append(table(["placement", "implementation", "time", "occasional acq.",
                        "wait p50", "wait p99", "max wait", "greedy acq.",
                        "grants", "starvations", "yields",
                        "kernel entries / acq.", "greedy's vol. switches / acq."],
                       rows, ["l", "l"] + ["r"] * 11))
        L.append("\n![lockskew](lockskew.png)\n")
    if "pingpong" in meta["_present"]:
        # 5. ping-pong
        L.append("## 5. Handoff ping-pong\n")
        L.append("Two threads alternate through two semaphores of value 0; one "
                 "round trip is two hand-overs.  libsema-handoff releases with "
                 "sema_release_handoff() (grant + directed yield), libsema with "
                 "sema_release() (wake only).\n")
        rows = []
        for pl in ("same-cpu", "two-cpus"):
            g = by.get(("pingpong", BASE, pl, None, None))
            for i in impls:
                r = by.get(("pingpong", i, pl, None, None))
                if not r:
                    continue
                h = r.get("hsema", {})
                rows.append([pl, i, fmt_ns(r["ns_per_round_trip"]),
                             fmt_ratio(ratio(r["ns_per_round_trip"],
                                             g["ns_per_round_trip"])),
                             fmt_ns(r["round_trip_ns"]["p50"]),
                             fmt_ns(r["round_trip_ns"]["p99"]),
                             h.get("grants", "–"), h.get("handoffs", "–"),
                             h.get("yields", "–"),
                             fmt_count(r["kentries_per_op"]),
                             fmt_count(r["nvcsw_per_op"])])
        L.append(table(["placement", "implementation", "mean round trip",
                        "vs glibc", "p50", "p99", "grants", "handoffs", "yields",
                        "kernel entries / hand-over",
                        "vol. switches / hand-over"],
                       rows, ["l", "l"] + ["r"] * 9))
    if "any" in meta["_present"]:
        L += any_markdown(meta, runs, acells)
    L.append("")
    return "\n".join(L)


def any_markdown(meta, runs, acells):
    """6. The any row: hand-over latency by set size, then the counts."""
    nruns = len(runs)
    L = ["", "## 6. Hand-over through sema_acquire_any()\n"]
    L.append("Two threads: one releases the last of n semaphores (value 0), "
             "the other, waiting for any of the n, wakes with it and "
             "releases a reply semaphore the first waits on; the releaser "
             "releases only once the waiter has gone to sleep in its wait.  "
             "The hand-over "
             "is from just before the release to the waiter's return; each "
             "turn keeps its median, and a cell is the median over turns "
             "(and over runs: the median of the runs' medians) with the "
             "range across runs and turns.  *sema_acquire_any*: libsema's "
             "sema_acquire_any(); *futex_waitv*: a counting semaphore per "
             "futex word (bench/waitvsem.c), futex_waitv() on the n words "
             "and FUTEX_WAKE of the one released; *sema_acquire*: libsema's "
             "plain hand-over on one semaphore, the same in every row.  "
             "Ratios are taken turn by turn (turn k of every variant ran in "
             "the same round), then as the hand-overs.  Counts per hand-over "
             "as in ping-pong: both threads, a round trip being two "
             "hand-overs (the measured one and the reply), median over "
             "runs; futex_waitv() calls count as futex calls.\n")
    sizes = meta["any_sems"]
    rows = []
    for pl in ("same-cpu", "two-cpus"):
        plain = acells.get((ANY_PLAIN, pl, 1))
        for n in sizes:
            a = acells.get((ANY, pl, n))
            v = acells.get((ANY_WAITV, pl, n))
            if not (a or v):
                continue
            rows.append([pl, n,
                         fmt_any_ns(a, nruns) if a else "–",
                         fmt_any_ns(v, nruns) if v else "–",
                         fmt_any_ns(plain, nruns) if plain else "–",
                         fmt_cell_ratio(a["vs_plain"], nruns)
                         if a and "vs_plain" in a else "–",
                         fmt_cell_ratio(a["vs_waitv"], nruns)
                         if a and "vs_waitv" in a else "–"])
    L.append(table(["placement", "semaphores", ANY, ANY_WAITV,
                    f"{ANY_PLAIN} (one)", f"{ANY} / {ANY_PLAIN}",
                    f"{ANY} / {ANY_WAITV}"], rows, ["l"] + ["r"] * 6))
    L.append("")
    L.append("Per variant (the round trips, percentiles and module counters "
             "are run 1's):\n")
    rows = []
    by = runs[0][0]["_any"]
    for pl in ("same-cpu", "two-cpus"):
        for impl in (ANY, ANY_WAITV, ANY_PLAIN):
            for n in sizes:
                r = by.get((impl, pl, n))
                if not r:
                    continue
                c = acells[(impl, pl, n)]
                h = r["handover_ns"]
                hs = r.get("hsema")
                rows.append([pl, impl, n, fmt_ns(r["ns_per_round_trip"]),
                             fmt_ns(h["p50"]), fmt_ns(h["p99"]),
                             fmt_ns(h["max"]),
                             fmt_count(c["kentries_per_op"]),
                             fmt_count(c["nvcsw_per_op"]),
                             fmt_count(hs["waits"] / r["round_trips"])
                             if hs else "–",
                             fmt_count(hs["wakes"] / r["round_trips"])
                             if hs else "–"])
    L.append(table(["placement", "variant", "semaphores",
                    "mean round trip (with the wait for the sleep)",
                    "hand-over p50", "p99", "max",
                    "kernel entries / hand-over", "vol. switches / hand-over",
                    "module waits / round trip", "wakes / round trip"],
                   rows, ["l", "l"] + ["r"] * 9))
    return L


def summary_csv(path, runs, impls, cells, scaled, acells):
    """One row per measurement of every run (view "default") and of the
    scaled view, then one per contended cell and implementation combining
    the runs (run "combined"), then the any row's: per run and combined,
    the hand-over's median over turns (each turn's median hand-over), in
    "impl" the variant, in "sems" the set size.  "ratio_base" names what
    the turn and runs ratios are to: glibc-sem in the contended rows,
    sema_acquire (the plain hand-over, same placement) in the any row."""
    cols = ["run", "view", "bench", "impl", "placement", "threads", "cs_us",
            "metric", "value", "ratio_to_glibc", "turn_ratio_median",
            "turn_ratio_min", "turn_ratio_max", "runs_ratio_min",
            "runs_ratio_max", "kentries_per_op", "nvcsw_per_op", "p50_ns",
            "p99_ns", "p999_ns", "max_ns", "jain", "max_min", "sems",
            "ratio_base"]

    def num(x, f="{:.4f}"):
        return "" if x is None or not finite(x) else f.format(x)

    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(cols)
        views = [(k + 1, "default", by) for k, (_, _, by) in enumerate(runs)]
        if scaled is not None:
            views.append((len(runs), "scaled", scaled[1]))
        for run, view, by in views:
            for (bench, impl, pl, t, cs), r in sorted(
                    by.items(), key=lambda kv: tuple(str(x) for x in kv[0])):
                if bench == "uncontended":
                    metric, v, h = "ns_per_pair", r["ns_per_pair"], None
                elif bench == "contended":
                    metric, v, h = "ops_per_sec", r["ops_per_sec"], r["wait_ns"]
                elif bench == "lockskew":
                    metric = "occasional_max_wait_ns"
                    h = r["occasional_wait_ns"]
                    v = h["max"]
                else:
                    metric = "ns_per_round_trip"
                    v, h = r["ns_per_round_trip"], r["round_trip_ns"]
                b = by.get((bench, BASE, pl, t, cs))
                bv = None
                if b:
                    bv = {"uncontended": lambda x: x["ns_per_pair"],
                          "contended": lambda x: x["ops_per_sec"],
                          "lockskew": lambda x: x["occasional_wait_ns"]["max"],
                          "pingpong": lambda x: x["ns_per_round_trip"]}[bench](b)
                rt = ratio(v, bv)
                tr = turn_ratios(by, impl, t, cs) if bench == "contended" \
                    else None
                w.writerow([run, view, bench, impl, pl or "", t or "",
                            "" if cs is None else cs, metric, f"{v:.6g}",
                            num(rt),
                            *(["", "", ""] if not tr else
                              [num(median(tr)), num(min(tr)), num(max(tr))]),
                            "", "",
                            num(r.get("kentries_per_op")),
                            num(r.get("nvcsw_per_op")),
                            *(["", "", "", ""] if not h else
                              [h["p50"], h["p99"], h["p999"], h["max"]]),
                            "" if "jain" not in r else f"{r['jain']:.5f}",
                            "" if "max_min" not in r or r["max_min"] is None
                            else f"{r['max_min']:.4f}", "",
                            BASE if tr else ""])
        for (impl, t, cs), c in sorted(cells.items(),
                                       key=lambda kv: str(kv[0])):
            w.writerow(["combined", "default", "contended", impl, "", t, cs,
                        "ops_per_sec", f"{c['ops_per_sec']:.6g}",
                        num(c["ratio"]), num(c["ratio"]), num(c["turns_lo"]),
                        num(c["turns_hi"]), num(c["runs_lo"]),
                        num(c["runs_hi"]), num(c["kentries_per_op"]),
                        num(c["nvcsw_per_op"]), "", "", "", "", "", "", "",
                        BASE])
        for k, (m, _, _) in enumerate(runs):
            for (impl, pl, n), r in sorted(m["_any"].items(),
                                           key=lambda kv: str(kv[0])):
                vals = [x["handover_p50_ns"] for x in r["turns"]]
                b = m["_any"].get((ANY_PLAIN, pl, 1))
                tr = any_turn_ratios(r, b) if b and impl != ANY_PLAIN \
                    else []
                h = r["handover_ns"]
                w.writerow([k + 1, "default", "any", impl, pl, "", "",
                            "handover_ns", f"{median(vals):.6g}", "",
                            *(["", "", ""] if not tr else
                              [num(median(tr)), num(min(tr)), num(max(tr))]),
                            "", "", num(r.get("kentries_per_op")),
                            num(r.get("nvcsw_per_op")), h["p50"], h["p99"],
                            h["p999"], h["max"], "", "", n,
                            ANY_PLAIN if tr else ""])
        for (impl, pl, n), c in sorted(acells.items(),
                                       key=lambda kv: str(kv[0])):
            q = c.get("vs_plain")
            w.writerow(["combined", "default", "any", impl, pl, "", "",
                        "handover_ns", f"{c['value']:.6g}", "",
                        *(["", "", "", "", ""] if not q else
                          [num(q["ratio"]), num(q["turns_lo"]),
                           num(q["turns_hi"]), num(q["runs_lo"]),
                           num(q["runs_hi"])]),
                        num(c["kentries_per_op"]), num(c["nvcsw_per_op"]),
                        "", "", "", "", "", "", n, ANY_PLAIN if q else ""])


# ---------------------------------------------------------------- plots

def gnuplot(script, tmp):
    path = os.path.join(tmp, "plot.gp")
    with open(path, "w") as f:
        f.write(script)
    r = subprocess.run(["gnuplot", path], capture_output=True, text=True)
    need(r.returncode == 0, f"gnuplot failed: {r.stderr.strip()}")


def lines(impls, files, title_of=lambda i: i, extra=""):
    parts = []
    for i in impls:
        if i not in files:
            continue
        colour, pt = STYLE.get(i, ("#000000", 1))
        parts.append(f"'{files[i]}' using 1:2 with linespoints lw 2 pt {pt}"
                     f"{extra} lc rgb '{colour}' title '{title_of(i)}'")
    return ", \\\n     ".join(parts)


def grid_layout(n):
    cols = 2 if n > 1 else 1
    return (n + cols - 1) // cols, cols


def plots(out, meta, impls, by, tmp):
    term = "set terminal pngcairo size {w},{h} font 'sans,10'\n"
    cs_list, threads = meta["cs_us"], meta["threads"]
    rows, cols = grid_layout(len(cs_list))

    def dat(name, pts):
        p = os.path.join(tmp, name)
        with open(p, "w") as f:
            for x, y in pts:
                f.write(f"{x} {y}\n")
        return p

    pngs = []
    if "contended" in meta["_present"]:
        # Throughput against threads, one panel per critical section.
        s = term.format(w=1200, h=450 * rows)
        s += f"set output '{out}/throughput.png'\n"
        s += f"set multiplot layout {rows},{cols} title 'Contended throughput " \
             f"(guest under emulation: compare implementations, not absolutes)'\n"
        s += "set logscale x 2\nset xtics (" + ", ".join(
            f"'{t}' {t}" for t in threads) + ")\n"
        s += f"set xrange [{threads[0] / 1.2}:{threads[-1] * 1.2}]\n"
        s += "set xlabel 'threads'\nset ylabel 'acquisitions / s'\nset grid\n"
        s += "set key outside right\nset yrange [0:*]\n"
        for cs in cs_list:
            files = {i: dat(f"tp-{i}-{cs}", [(t, by[("contended", i, None, t, cs)]
                                                ["ops_per_sec"]) for t in threads])
                     for i in impls}
            s += f"set title '{cs} us critical section'\n"
            s += "plot " + lines(impls, files) + "\n"
        s += "unset multiplot\n"
        gnuplot(s, tmp)

        # Wait-time distributions: one figure per thread count.
        for t in threads:
            s = term.format(w=1200, h=450 * rows)
            s += f"set output '{out}/waits-{t}t.png'\n"
            s += f"set multiplot layout {rows},{cols} title 'Wait per acquire, " \
                 f"{t} threads: fraction of acquires that waited longer than x'\n"
            s += "set logscale xy\nset format x '10^{%L}'\nset format y '10^{%L}'\n"
            s += "set xlabel 'wait (ns)'\nset ylabel 'fraction ≥ x'\nset grid\n"
            s += "set key outside right\n"
            for cs in cs_list:
                files = {}
                lo = 1.0
                for i in impls:
                    w = by[("contended", i, None, t, cs)]["wait_ns"]
                    files[i] = dat(f"w-{i}-{t}-{cs}", ccdf(w["buckets"], w["n"]))
                    lo = min(lo, 1.0 / w["n"])
                s += f"set yrange [{lo / 2}:1.5]\n"
                s += f"set title '{cs} us critical section'\n"
                s += "plot " + lines(impls, files, extra=" ps 0.6") + "\n"
            s += "unset multiplot\n"
            gnuplot(s, tmp)

        # Fairness: Jain's index against threads.
        s = term.format(w=1200, h=450 * rows)
        s += f"set output '{out}/fairness.png'\n"
        s += f"set multiplot layout {rows},{cols} title \"Jain's fairness index " \
             f"of the threads' shares (1 = equal)\"\n"
        s += "set logscale x 2\nset xtics (" + ", ".join(
            f"'{t}' {t}" for t in threads) + ")\n"
        s += f"set xrange [{threads[0] / 1.2}:{threads[-1] * 1.2}]\n"
        s += "set xlabel 'threads'\nset ylabel 'Jain index'\nset grid\n"
        s += "set key outside right\nset yrange [*:1.005]\n"
        for cs in cs_list:
            files = {i: dat(f"j-{i}-{cs}", [(t, by[("contended", i, None, t, cs)]
                                               ["jain"]) for t in threads])
                     for i in impls}
            s += f"set title '{cs} us critical section'\n"
            s += "plot " + lines(impls, files) + "\n"
        s += "unset multiplot\n"
        gnuplot(s, tmp)
        pngs += ["throughput.png", "fairness.png"] + \
            [f"waits-{t}t.png" for t in threads]
    if "lockskew" in meta["_present"]:
        # Lockskew: the occasional thread's waits.
        pls = [p for p in ("same-cpu", "spread")
               if ("lockskew", BASE, p, None, None) in by]
        s = term.format(w=1200, h=450)
        s += f"set output '{out}/lockskew.png'\n"
        s += f"set multiplot layout 1,{len(pls)} title \"Lockskew: the " \
             f"occasional thread's waits (fraction longer than x)\"\n"
        s += "set logscale xy\nset format x '10^{%L}'\nset format y '10^{%L}'\n"
        s += "set xlabel 'wait (ns)'\nset ylabel 'fraction ≥ x'\nset grid\n"
        s += "set key bottom left\nset arrow 1 from 2e6, graph 0 to 2e6, graph 1 " \
             "nohead dt 2 lc rgb '#555555'\n"
        for pl in pls:
            files = {}
            for i in impls:
                w = by[("lockskew", i, pl, None, None)]["occasional_wait_ns"]
                if w["n"]:
                    files[i] = dat(f"ls-{i}-{pl}", ccdf(w["buckets"], w["n"]))
            s += f"set title '{pl} (dashed: 2 ms)'\n"
            s += "plot " + lines(impls, files, extra=" ps 0.6") + "\n"
        s += "unset multiplot\n"
        gnuplot(s, tmp)
        pngs.append("lockskew.png")
    for p in pngs:
        with open(os.path.join(out, p), "rb") as f:
            need(f.read(8) == b"\x89PNG\r\n\x1a\n", f"{p} is not a PNG")
    return pngs


# ---------------------------------------------------------------- main

def load_run(path, mode, cg, want_all):
    meta, end, recs = load_results(path)
    need(meta.get("mode") == mode, f"{path} is from a {meta.get('mode')} run")
    impls, by = check(meta, recs, cg, want_all)
    return meta, end, recs, impls, by


def same_grid(a, b, what):
    for k in ("threads", "cs_us", "rounds", "cell_secs", "kcount_available"):
        need(a.get(k) == b.get(k), f"{what}: {k} {b.get(k)} differs from "
             f"run 1's {a.get(k)}")


def main_scale(args):
    """--scale HOST GUEST BASE_NS OUT: print the scaled threshold (guest)."""
    host, guest, base, out = args
    try:
        sc = scale(host, guest, int(base))
    except (Incomplete, KeyError, ValueError) as e:
        print(f"report: --scale: {e}", file=sys.stderr)
        return 1
    with open(out, "w") as f:
        json.dump(sc, f, indent=1)
    print(sc["starve_ns"])
    return 0


def main():
    if len(sys.argv) > 1 and sys.argv[1] == "--scale":
        need_args = sys.argv[2:]
        if len(need_args) != 4:
            print("usage: report.py --scale HOST.jsonl GUEST.jsonl BASE_NS "
                  "OUT.json", file=sys.stderr)
            return 2
        return main_scale(need_args)
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", required=True, help="the results directory")
    ap.add_argument("--smoke", action="store_true",
                    help="the results are from a smoke run")
    ap.add_argument("--all", action="store_true",
                    help="every implementation must have run")
    ap.add_argument("--runs", type=int, default=1,
                    help="how many runs (DIR/run-K) there must be")
    ap.add_argument("--no-scaled", action="store_true",
                    help="there is no scaled-threshold view (DIR/scaled)")
    ap.add_argument("--note", action="append", default=[],
                    help="a line for the report's header (repeatable)")
    a = ap.parse_args()
    out = os.path.abspath(a.out)
    mode = "smoke" if a.smoke else "full"
    try:
        need(a.runs >= 1, "--runs must be at least 1")
        _, cg = load_callgrind(os.path.join(out, "callgrind"))
        machine = {}
        mp = os.path.join(out, "machine.json")
        if os.path.exists(mp):
            with open(mp) as f:
                machine = json.load(f)
        found = sorted(d for d in os.listdir(out) if d.startswith("run-"))
        need(found == sorted(f"run-{k}" for k in range(1, a.runs + 1)),
             f"expected runs 1..{a.runs} in {out}, found {found}")
        runs, allrecs = [], []
        for k in range(1, a.runs + 1):
            d = os.path.join(out, f"run-{k}")
            meta, end, recs, impls, by = load_run(
                os.path.join(d, "results.jsonl"), mode, cg, a.all)
            if runs:
                same_grid(runs[0][0], meta, f"run {k}")
                need(impls == runs[0][3] and
                     meta["_present"] == runs[0][0]["_present"],
                     f"run {k} ran other benchmarks or implementations")
            calib_numbers(os.path.join(d, "calib.jsonl"))
            runs.append((meta, end, by, impls))
            allrecs += [dict(r, run=k, view="default")
                        for r in [meta] + recs + [end]]
        meta, end, by, impls = runs[0]
        calib_numbers(os.path.join(out, "host.jsonl"))
        present = meta["_present"]
        cells = combine_cells([(m, b) for m, _, b, _ in runs], impls) \
            if "contended" in present else {}
        acells = combine_any([m for m, _, _, _ in runs]) \
            if "any" in present else {}
        # libsema-posix against libsema, turn by turn as against glibc.
        pcells = combine_cells([(m, b) for m, _, b, _ in runs], [POSIX],
                               base=LIBSEMA) \
            if "contended" in present and POSIX in impls and \
            LIBSEMA in impls else {}
        scaled = scl = None
        if not a.no_scaled and "contended" in present and LIBSEMA in impls:
            sd = os.path.join(out, "scaled")
            with open(os.path.join(sd, "scale.json")) as f:
                scl = json.load(f)
            need(finite(scl.get("factor")) and scl["factor"] > 0 and
                 isinstance(scl.get("starve_ns"), int),
                 f"{sd}/scale.json: no factor or threshold")
            smeta, send, srecs, simpls, sby = load_run(
                os.path.join(sd, "results.jsonl"), mode, cg, False)
            need(simpls == [LIBSEMA, BASE] or simpls == [BASE, LIBSEMA],
                 f"the scaled view ran {simpls}, not libsema and glibc-sem")
            same_grid(meta, smeta, "the scaled view")
            scaled = (smeta, sby, combine_cells([(smeta, sby)], simpls))
            allrecs += [dict(r, run=a.runs, view="scaled")
                        for r in [smeta] + srecs + [send]]
        per_run = [targets(m, impls, b, cg) for m, _, b, _ in runs]
        tg = contended_targets(meta, impls, cells, a.runs,
                               scaled[2] if scaled else None, scl) + \
            posix_target(meta, impls, [(m, b) for m, _, b, _ in runs],
                         pcells) + \
            merge_targets(per_run)
        # The plots show run 1, but the throughput the median over runs.
        pby = dict(by)
        for (i, t, cs), c in cells.items():
            k = ("contended", i, None, t, cs)
            pby[k] = dict(by[k], ops_per_sec=c["ops_per_sec"])
        with tempfile.TemporaryDirectory() as tmp:
            pngs = plots(out, meta, impls, pby, tmp)
        with open(os.path.join(out, "table.md"), "w") as f:
            f.write(markdown(meta, end, machine, impls, by, cg, tg, a.note,
                             [(m, e, b) for m, e, b, _ in runs], cells,
                             scaled, scl, pcells, acells))
        summary_csv(os.path.join(out, "summary.csv"),
                    [(m, e, b) for m, e, b, _ in runs], impls, cells, scaled,
                    acells)
        with open(os.path.join(out, "targets.json"), "w") as f:
            json.dump(tg, f, indent=1)
        # Every record of every run, tagged, in one file.
        with open(os.path.join(out, "results.jsonl"), "w") as f:
            for r in allrecs:
                r.pop("_present", None)
                r.pop("_any", None)
                f.write(json.dumps(r) + "\n")
    except Incomplete as e:
        print(f"report: {e}", file=sys.stderr)
        return 1
    except (KeyError, TypeError, ValueError, OSError) as e:
        print(f"report: malformed results: {e!r}", file=sys.stderr)
        return 1
    for t in tg:
        v = "n/a" if t["ok"] is None else ("met" if t["ok"] else "MISSED")
        print(f"report: {v:6} {t['target']}: {t['measured']}")
    print(f"report: {a.runs} run(s), {len(allrecs)} records, {len(impls)} "
          f"implementations, {len(pngs)} plots in {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
