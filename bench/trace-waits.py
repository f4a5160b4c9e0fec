#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-only
"""bench/trace-waits.py TRACE [-n N] [--min-ms MS]: where a long wait went.

Reads a trace written by bench/trace.sh (the hsema events and the
scheduler's sched_waking, sched_wakeup and sched_switch) and prints:

  - the N longest waits in the kernel (a task's hsema_queued to its
    hsema_acquired or hsema_granted), each with the wake-ups inside it:
    how many, the slowest (sched_waking to the task switched in), when the
    queue entered starvation, and the wait less that slowest wake-up;
  - the latency of every wake-up aimed at another CPU (sched_waking on
    one CPU to sched_wakeup on the target), the whole trace: under
    emulation an idle vCPU can take milliseconds to take the IPI, and a
    waiter's wait can be no shorter than its own wake-up.

Only the standard library is needed.  For example:

  scripts/vm-run --kernel 6.1 --module kmod/hsema.ko --out /tmp/ev \\
      --append "tsc=reliable clocksource=tsc" -- bench/trace.sh \\
      /tmp/ev/lockskew.txt bench/hsema-bench -b lockskew -i libsema -L 4
  bench/trace-waits.py /tmp/ev/lockskew.txt -n 5
"""
import argparse
import re
import sys

LINE = re.compile(r'^\s*.*?-(\d+)\s+\[(\d+)\]\s+\S+\s+([\d.]+): (\w+): (.*)$')
PID = re.compile(r'\bpid=(\d+)')
NEXT = re.compile(r'next_pid=(\d+)')
TARGET = re.compile(r'target_cpu=(\d+)')


def events(path):
    out = []
    with open(path, errors='replace') as f:
        for line in f:
            m = LINE.match(line)
            if m:
                out.append((float(m.group(3)), int(m.group(2)),
                            m.group(4), m.group(5)))
    out.sort(key=lambda e: e[0])
    return out


def waits(ev):
    """(seconds, pid, first index, last index) of every completed wait."""
    start, done = {}, []
    for i, (t, _cpu, name, rest) in enumerate(ev):
        if not name.startswith('hsema_'):
            continue
        m = PID.search(rest)
        if not m:
            continue
        pid = int(m.group(1))
        # A requeue keeps the wait open: only the first queued starts it.
        if name == 'hsema_queued' and pid not in start:
            start[pid] = (t, i)
        elif name in ('hsema_acquired', 'hsema_granted') and pid in start:
            t0, i0 = start.pop(pid)
            done.append((t - t0, pid, i0, i))
    return sorted(done, reverse=True)


def inside(ev, pid, first, last):
    """Wake-ups of pid within ev[first..last] and when starvation began."""
    pending, n, slowest, starve = None, 0, 0.0, None
    t0 = ev[first][0]
    for t, _cpu, name, rest in ev[first:last + 1]:
        if name == 'sched_waking' and PID.search(rest) and \
                int(PID.search(rest).group(1)) == pid and pending is None:
            pending = t
        elif name == 'sched_switch' and pending is not None:
            m = NEXT.search(rest)
            if m and int(m.group(1)) == pid:
                slowest = max(slowest, t - pending)
                n += 1
                pending = None
        elif name == 'hsema_starvation' and 'entered' in rest and \
                starve is None:
            starve = t - t0
    return n, slowest, starve


def remote_wakeups(ev):
    """Latencies of wake-ups aimed at another CPU, in seconds."""
    pending, lat = {}, []
    for t, cpu, name, rest in ev:
        m = TARGET.search(rest)
        if not m:
            continue
        target = int(m.group(1))
        if name == 'sched_waking' and target != cpu:
            pending.setdefault(target, t)
        elif name == 'sched_wakeup' and cpu == target and target in pending:
            lat.append(t - pending.pop(target))
    return sorted(lat)


def ms(s):
    return '%.3f ms' % (s * 1e3)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('trace')
    ap.add_argument('-n', type=int, default=10, help='waits to show')
    ap.add_argument('--min-ms', type=float, default=0.0,
                    help='show only waits at least this long')
    a = ap.parse_args()
    ev = events(a.trace)
    if not ev:
        sys.exit('%s: no trace events' % a.trace)
    w = waits(ev)
    print('%d waits in the kernel' % len(w))
    for secs, pid, first, last in w[:a.n]:
        if secs * 1e3 < a.min_ms:
            break
        n, slowest, starve = inside(ev, pid, first, last)
        print('  %s pid %d: %d wake-up(s), slowest %s; starvation %s; '
              'without the slowest wake-up %s' %
              (ms(secs), pid, n, ms(slowest),
               'entered at ' + ms(starve) if starve is not None else 'not entered',
               ms(secs - slowest)))
    lat = remote_wakeups(ev)
    if lat:
        def q(p):
            return lat[min(len(lat) - 1, int(len(lat) * p))] * 1e6
        print('%d wake-ups aimed at another CPU: p50 %.0f us, p99 %.0f us, '
              'p99.9 %.0f us, max %.0f us, %d over 1 ms' %
              (len(lat), q(0.5), q(0.99), q(0.999), lat[-1] * 1e6,
               sum(1 for x in lat if x > 1e-3)))


if __name__ == '__main__':
    main()
