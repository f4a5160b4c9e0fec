# SPDX-License-Identifier: GPL-2.0-only
"""A real program's POSIX semaphores: Python's own.

CPython 3.11's threading locks are unnamed sem_t (sem_init, sem_wait,
sem_clockwait, sem_trywait, sem_post); multiprocessing's Lock, RLock,
Semaphore, BoundedSemaphore, Condition, Event, Barrier and Queue are
named ones (sem_open, sem_timedwait, sem_getvalue, sem_unlink), shared
by fork and, with the "spawn" start method, by name with processes that
exec a new interpreter.  Prints only results that do not depend on
timing, so that a run under LD_PRELOAD=libsema-posix.so must print
exactly what a plain run prints (posix_programs.sh compares them).
"""
import multiprocessing as mp
import queue
import sys
import threading
import time


def threads():
    """Unnamed semaphores: a lock contended by 4 threads, timeouts."""
    lock = threading.Lock()
    count = [0]

    def work():
        for _ in range(2000):
            with lock:
                count[0] += 1

    ts = [threading.Thread(target=work) for _ in range(4)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    print("threads: count", count[0])
    lock.acquire()
    t0 = time.monotonic()
    got = lock.acquire(timeout=0.05)
    print("threads: timed acquire of a held lock:", got,
          "waited enough:", time.monotonic() - t0 >= 0.05)
    print("threads: try-acquire of a held lock:", lock.acquire(False))
    lock.release()
    sem = threading.Semaphore(0)
    got = []
    t = threading.Thread(target=lambda: got.append(sem.acquire(timeout=30)))
    t.start()
    time.sleep(0.05)
    sem.release()
    t.join()
    print("threads: a blocked acquire got the release:", got)


def mp_worker(lock, sem, q, i):
    with sem:
        with lock:
            q.put(i * i)


def mp_holder(lock, started, n):
    """Blocks on a lock the parent holds: a wait in the kernel."""
    started.release()
    with lock:
        return n


def barrier_worker(b, q, i):
    q.put((i, b.wait() >= 0))


def processes(method):
    ctx = mp.get_context(method)
    lock = ctx.Lock()
    sem = ctx.BoundedSemaphore(2)
    q = ctx.Queue()
    print(method, ": semaphore value", sem.get_value())
    ps = [ctx.Process(target=mp_worker, args=(lock, sem, q, i))
          for i in range(4)]
    for p in ps:
        p.start()
    res = sorted(q.get(timeout=120) for _ in ps)
    for p in ps:
        p.join()
    print(method, ": squares", res, "exit codes", [p.exitcode for p in ps])
    print(method, ": value after", sem.get_value())
    try:
        sem.release()
        print(method, ": over-release allowed")
    except ValueError as e:
        print(method, ": over-release refused:", e)
    print(method, ": timed acquire of a taken lock:",
          lock.acquire(True, 0.05) if lock.acquire() else None)
    lock.release()
    # Waiters that block in the kernel: the parent holds the lock.
    started = ctx.Semaphore(0)
    lock.acquire()
    ps = [ctx.Process(target=mp_holder, args=(lock, started, i))
          for i in range(2)]
    for p in ps:
        p.start()
    for _ in ps:
        started.acquire(timeout=120)
    time.sleep(0.3)
    lock.release()
    for p in ps:
        p.join(120)
    print(method, ": blocked holders exit codes", [p.exitcode for p in ps])
    b = ctx.Barrier(3)
    ps = [ctx.Process(target=barrier_worker, args=(b, q, i)) for i in range(2)]
    for p in ps:
        p.start()
    me = b.wait(timeout=120) >= 0
    res = sorted(q.get(timeout=120) for _ in ps)
    for p in ps:
        p.join()
    print(method, ": barrier", me, res)
    ev = ctx.Event()
    print(method, ": event wait timeout", ev.wait(0.05))


if __name__ == "__main__":
    threads()
    for m in sys.argv[1:] or ["fork", "spawn"]:
        processes(m)
    print("done")
