#!/usr/bin/python3
"""A PEST++ PANTHER master for the tests, written from SPEC.md section 5 alone (it shares no
code with pestrun). It listens like `pestpp-xxx case.pst /h :PORT`, drives the agents that
connect through the handshake, runs, pings, an overdue duplicate with a kill, a restart, and
TERMINATE, and checks every byte and every result it gets back.

Scenarios (--scenario):
  full      handshake (exact bytes), a batch with pings, a failing run and a run whose pestrun
            worker dies, an overdue run duplicated on a second agent and the slow copy killed,
            a restart of the master in the middle of a batch, TERMINATE.
  basic     handshake and a batch, TERMINATE (for MPI).
  mismatch  name tables that differ from the agent's case: the agent must answer IO_ERROR
            naming the differing names.
  bench     --runs runs as fast as the agents answer; prints runs per second.

The case is lib.bash's Rosenbrock case: r1 = 10 (x2 - x1^2), r2 = 1 - x1, outputs printed
with %20.12E. Exit status 0 when every check passed."""
import argparse
import math
import os
import random
import select
import socket
import struct
import sys
import time

CODE = bytes([1, 3, 5, 7, 9])
HEADER = struct.Struct("=qIqq1001s")  # native order, no padding: 8+4+8+8+1001 = 1029
assert HEADER.size == 1029

(UNKN, OK, CONFIRM_OK, READY, REQ_RUNDIR, RUNDIR, REQ_LINPACK, LINPACK, PAR_NAMES, OBS_NAMES,
 START_RUN, RUN_FINISHED, RUN_FAILED, RUN_KILLED, TERMINATE, PING, REQ_KILL, IO_ERROR,
 CORRUPT_MESG) = range(19)
TYPE_NAMES = {v: k for k, v in dict(
    READY=3, REQ_RUNDIR=4, RUNDIR=5, REQ_LINPACK=6, LINPACK=7, PAR_NAMES=8, OBS_NAMES=9,
    START_RUN=10, RUN_FINISHED=11, RUN_FAILED=12, RUN_KILLED=13, TERMINATE=14, PING=15,
    REQ_KILL=16, IO_ERROR=17, CORRUPT_MESG=18).items()}

failures = []


def check(cond, what):
    if not cond:
        failures.append(what)
        print("FAIL:", what, flush=True)
    return cond


def log(*a):
    print("master:", *a, flush=True)


def frame(ptype, gid=0, rid=0, desc=b"", data=b""):
    """A frame exactly as SPEC 5.2 lays it out."""
    return CODE + HEADER.pack(1029 + len(data), ptype, gid, rid, desc.ljust(1001, b"\0")) + data


class Agent:
    def __init__(self, sock, n):
        self.sock, self.n, self.buf, self.msgs = sock, n, b"", []
        self.raw = []  # the exact bytes of each frame received
        self.closed = False
        self.state = "new"
        self.run = None  # (gid, rid) it runs
        self.ping_out = False
        self.pings = 0
        self.par_order = self.obs_order = None

    def send(self, *a, **k):
        self.sock.sendall(frame(*a, **k))

    def feed(self, data):
        self.buf += data
        while len(self.buf) >= 5:
            if not check(self.buf[:5] == CODE, "agent %d: security code %r" % (self.n, self.buf[:5])):
                self.closed = True
                return
            if len(self.buf) < 5 + 1029:
                return
            size, ptype, gid, rid, desc = HEADER.unpack(self.buf[5:5 + 1029])
            if len(self.buf) < 5 + size:
                return
            raw, self.buf = self.buf[:5 + size], self.buf[5 + size:]
            desc = desc.split(b"\0")[0]
            check(all(32 <= c <= 126 for c in desc), "agent %d: desc bytes printable" % self.n)
            self.raw.append(raw)
            self.msgs.append((ptype, gid, rid, desc, raw[5 + 1029:]))


class Master:
    def __init__(self, port, names_order):
        self.port = port
        self.agents = []
        self.listen()

    def listen(self):
        self.lsock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.lsock.bind(("127.0.0.1", self.port))
        self.lsock.listen(1000)
        self.port = self.lsock.getsockname()[1]

    def close_all(self):
        """A master crash: the listening socket and every connection close at once."""
        self.lsock.close()
        for a in self.agents:
            a.sock.close()
            a.closed = True
        self.agents = []

    def pump(self, timeout):
        socks = [self.lsock] + [a.sock for a in self.agents if not a.closed]
        r, _, _ = select.select(socks, [], [], max(0, timeout))
        for s in r:
            if s is self.lsock:
                c, _ = s.accept()
                c.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                self.agents.append(Agent(c, len(self.agents)))
                continue
            a = next(a for a in self.agents if a.sock is s)
            try:
                data = s.recv(1 << 20)
            except OSError:
                data = b""
            if not data:
                a.closed = True
            else:
                a.feed(data)

    def wait(self, cond, timeout, what):
        end = time.monotonic() + timeout
        while not cond():
            left = end - time.monotonic()
            if left <= 0:
                check(False, "timed out waiting for " + what)
                return False
            self.pump(min(left, 0.2))
        return True

    def next_msg(self, a, timeout, what, must=True):
        """The agent's next message other than PING answers (counted); None when none came
        (a failed check unless must is False)."""
        end = time.monotonic() + timeout
        while True:
            while a.msgs:
                m = a.msgs.pop(0)
                if m[0] == PING:
                    a.pings += 1
                    continue
                return m
            if a.closed:
                check(False, "agent %d closed while waiting for %s" % (a.n, what))
                return None
            left = end - time.monotonic()
            if left <= 0:
                check(not must, "agent %d: timed out waiting for %s" % (a.n, what))
                return None
            self.pump(min(left, 0.2))


# ------------------------------------------------------------------------------------------
# the case

PARS, OBS = ["X1", "X2"], ["R1", "R2"]


def model(x1, x2):
    return {"R1": 10.0 * (x2 - x1 * x1), "R2": 1.0 - x1}


def handshake(m, a, par_order, obs_order, rundir, exact=True):
    a.send(REQ_RUNDIR, data=b"\0")
    msg = m.next_msg(a, 10, "RUNDIR")
    if msg is None:
        return False
    if exact and rundir is not None:
        want = CODE + struct.pack("=qIqq", 1029 + len(rundir), RUNDIR, 0, 0) + b"\0" * 1001 + rundir
        check(a.raw[-1] == want, "agent %d: RUNDIR bytes are exactly SPEC 5.2's: got %r" % (a.n, a.raw[-1][:40]))
    check(msg[0] == RUNDIR, "agent %d: RUNDIR, got %s" % (a.n, TYPE_NAMES.get(msg[0], msg[0])))
    a.send(PAR_NAMES, data=b"".join(n.encode() + b"\0" for n in par_order))
    a.send(OBS_NAMES, data=b"".join(n.encode() + b"\0" for n in obs_order))
    a.par_order, a.obs_order = par_order, obs_order
    a.send(REQ_LINPACK, data=b"\0")
    msg = m.next_msg(a, 10, "LINPACK")
    if msg is None:
        return False
    if check(msg[0] == LINPACK, "agent %d: LINPACK, got %s %r" % (a.n, TYPE_NAMES.get(msg[0], msg[0]), msg[3])):
        if exact:
            want = CODE + struct.pack("=qIqq", 1029, LINPACK, 0, 0) + b"\0" * 1001
            check(a.raw[-1] == want, "agent %d: LINPACK bytes are exactly SPEC 5.2's" % a.n)
    a.state = "waiting"
    return True


def start_run(a, gid, rid, x, info=b"par_name:__base__"):
    vals = {"X1": x[0], "X2": x[1]}
    data = b"".join(struct.pack("=d", vals[n]) for n in a.par_order)
    a.send(START_RUN, gid, rid, info, data)
    a.run = (gid, rid)
    a.state = "active"


def check_result(a, msg, x):
    """RUN_FINISHED data: npar processed values, nobs observations (the agent's name orders
    as the master sent them), run time."""
    ptype, gid, rid, desc, data = msg
    n = len(PARS) + len(OBS) + 1
    if not check(len(data) == 8 * n, "run %d/%d: %d data bytes, want %d" % (gid, rid, len(data), 8 * n)):
        return None
    v = struct.unpack("=%dd" % n, data)
    proc = dict(zip(a.par_order, v[:2]))
    obs = dict(zip(a.obs_order, v[2:4]))
    want = {"X1": x[0], "X2": x[1]}
    for p in PARS:  # values as written in a 21-character field: 14+ significant digits
        check(abs(proc[p] - want[p]) <= 1e-12 * max(1.0, abs(want[p])),
              "run %d/%d: processed %s = %r, sent %r" % (gid, rid, p, proc[p], want[p]))
    exp = model(proc["X1"], proc["X2"])
    for o in OBS:  # the model prints %20.12E
        check(abs(obs[o] - exp[o]) <= 1e-11 * max(1e-300, abs(exp[o])) + 1e-300,
              "run %d/%d: %s = %r, the model gives %r" % (gid, rid, o, obs[o], exp[o]))
    check(v[4] >= 0 and v[4] < 600, "run %d/%d: run time %r s" % (gid, rid, v[4]))
    return v


def run_batch(m, gid, runs, expect_fail=(), ping=True, restart_after=None, restart=None):
    """Give runs (rid -> x) to waiting agents, FIFO, as RunManagerPanther does, until all are
    back. Returns rid -> 'ok'|'failed'."""
    queue = sorted(runs)
    done = {}
    pinged = set()
    end = time.monotonic() + 120
    # a batch ends when every run is back and every agent said READY after its last one
    while len(done) < len(runs) or any(a.state == "complete" and not a.closed for a in m.agents):
        if restart_after is not None and len(done) >= restart_after:
            restart_after = None
            queue = [r for r in sorted(runs) if r not in done]
            restart()
            continue
        for a in m.agents:
            if a.state == "waiting" and queue and not a.closed:
                rid = queue.pop(0)
                start_run(a, gid, rid, runs[rid], b"par_name:R%d" % rid)
                if ping and a.n not in pinged:  # a ping during a run must be answered
                    a.send(PING)
                    pinged.add(a.n)
        progressed = False
        for a in m.agents:
            while a.msgs:
                ptype, g, r, desc, data = msg = a.msgs.pop(0)
                progressed = True
                if ptype == PING:
                    a.pings += 1
                elif ptype == RUN_FINISHED:
                    check((g, r) == a.run, "agent %d: result for %d/%d, it runs %s" % (a.n, g, r, a.run))
                    check(r not in expect_fail, "run %d should have failed" % r)
                    check(r not in done, "run %d reported twice" % r)
                    check_result(a, msg, runs[r])
                    done[r] = "ok"
                    a.state = "complete"
                elif ptype == RUN_FAILED:
                    check((g, r) == a.run, "agent %d: failure for %d/%d, it runs %s" % (a.n, g, r, a.run))
                    check(r in expect_fail, "run %d failed: %r" % (r, desc))
                    check(("group_id:%d run_id:%d" % (g, r)).encode() in desc,
                          "RUN_FAILED desc names the run: %r" % desc)
                    done[r] = "failed"
                    a.state = "complete"
                elif ptype == READY:
                    check(a.state == "complete", "agent %d: READY in state %s" % (a.n, a.state))
                    a.state = "waiting"
                    a.run = None
                else:
                    check(False, "agent %d: unexpected %s %r" % (a.n, TYPE_NAMES.get(ptype, ptype), desc))
        if not progressed:
            if time.monotonic() > end:
                check(False, "batch %d: timed out with %d of %d runs back" % (gid, len(done), len(runs)))
                return done
            m.pump(0.5)
    return done


def accept(m, n, timeout=60):
    return m.wait(lambda: len([a for a in m.agents if not a.closed]) >= n, timeout,
                  "%d agents to connect" % n)


def terminate(m):
    for a in m.agents:
        if not a.closed:
            a.send(TERMINATE)
    m.wait(lambda: all(a.closed for a in m.agents), 30, "the agents to close after TERMINATE")


def random_runs(n, seed):
    rng = random.Random(seed)
    return {i: (rng.uniform(-2, 2), rng.uniform(-2, 2)) for i in range(n)}


def pid_gone(path, timeout):
    try:
        pid = int(open(path).read().split()[0])
    except (OSError, ValueError, IndexError):
        return check(False, "no pid in " + path)
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        try:
            with open("/proc/%d/stat" % pid) as f:
                if f.read().split(")")[-1].split()[0] == "Z":
                    return True
        except OSError:
            return True
        time.sleep(0.05)
    return check(False, "the killed copy's model (pid %d) still runs" % pid)


def scenario_full(m, args):
    # hash order, not control-file order: the agent must map names, never assume the order
    hash_pars, hash_obs = ["X2", "X1"], ["R2", "R1"]
    accept(m, args.agents)
    for a in m.agents:
        handshake(m, a, hash_pars, hash_obs, args.rundir.encode())

    log("batch 1: runs, pings, a failing run, a run whose worker dies")
    runs = random_runs(24, 1)
    runs[5] = (-4.9, 1.0)  # the model exits 1 for x1 < -4.5
    runs[9] = (3.25, 0.5)  # the model kills its pestrun worker (once): not a failed run
    done = run_batch(m, 1, runs, expect_fail={5})
    check(done.get(5) == "failed", "run 5 reported failed")
    check(done.get(9) == "ok", "run 9 (lost worker) completed")
    check(all(a.pings >= 1 for a in m.agents), "every agent answered a PING during a run: %r" % [a.pings for a in m.agents])
    check(os.path.exists(os.path.join(args.scratch, "lostlock")), "the worker-killing run ran")

    log("batch 2: an overdue run duplicated on a second agent, the slow copy killed")
    a, b = m.agents[0], m.agents[1]
    x = (4.5, 2.0)  # the model's first run with x1 > 4 sleeps 60 s
    start_run(a, 2, 0, x)
    m.wait(lambda: os.path.exists(os.path.join(args.scratch, "slow.pid")), 20, "the slow copy to start")
    m.pump(0.5)
    check(not a.msgs, "the slow copy is still running")
    start_run(b, 2, 0, x)  # the duplicate ("overdue" here: PEST++ would wait resched_fac x mean)
    msg = m.next_msg(b, 20, "the duplicate's result")
    if msg and check(msg[0] == RUN_FINISHED and msg[1:3] == (2, 0), "duplicate finished: %r" % (msg[:3],)):
        check_result(b, msg, x)
    msg = m.next_msg(b, 10, "READY")
    check(msg is not None and msg[0] == READY, "READY after the duplicate")
    a.send(REQ_KILL, data=b"\0")  # "completed on alternative node"
    t0 = time.monotonic()
    msg = m.next_msg(a, 10, "RUN_KILLED")
    check(msg is not None and msg[0] == RUN_KILLED and msg[1:3] == (2, 0),
          "RUN_KILLED for 2/0 after REQ_KILL: %r" % (msg[:3] if msg else None,))
    msg = m.next_msg(a, 10, "READY after RUN_KILLED")
    check(msg is not None and msg[0] == READY, "READY after RUN_KILLED")
    log("kill answered in %.3f s" % (time.monotonic() - t0))
    pid_gone(os.path.join(args.scratch, "slow.pid"), 10)
    a.state = b.state = "waiting"
    a.send(REQ_KILL, data=b"\0")  # a kill with no run: ignored, as PEST++ agents do
    a.send(PING)
    pings = a.pings
    msg = m.next_msg(a, 2, "nothing", must=False)  # only the PING answer may come
    check(msg is None, "a kill without a run was ignored: got %r" % (msg[:4] if msg else None,))
    check(a.pings == pings + 1, "PING answered while idle")

    log("batch 3: the master restarts in the middle")
    runs = random_runs(16, 3)

    def restart():
        log("restart: closing every socket")
        m.close_all()
        time.sleep(0.7)
        m.listen()
        accept(m, args.agents)
        for ag in m.agents:  # the new master's name order differs (control-file order)
            handshake(m, ag, PARS, OBS, args.rundir.encode())
        log("restart: %d agents back" % len(m.agents))

    done = run_batch(m, 3, runs, restart_after=4, restart=restart)
    check(len(done) == 16 and all(v == "ok" for v in done.values()), "batch 3 complete after the restart")
    terminate(m)


def scenario_basic(m, args):
    accept(m, args.agents)
    for a in m.agents:
        handshake(m, a, ["X2", "X1"], ["R2", "R1"], args.rundir.encode() if args.rundir else None)
    done = run_batch(m, 1, random_runs(30, 7))
    check(len(done) == 30 and all(v == "ok" for v in done.values()), "basic batch complete")
    terminate(m)


def scenario_mismatch(m, args):
    accept(m, 1)
    a = m.agents[0]
    a.send(REQ_RUNDIR, data=b"\0")
    m.next_msg(a, 10, "RUNDIR")
    a.send(PAR_NAMES, data=b"X1\0X3\0")
    msg = m.next_msg(a, 10, "IO_ERROR")
    if check(msg is not None and msg[0] == IO_ERROR, "IO_ERROR for differing names: %r" % (msg[:4] if msg else None,)):
        check(b"X3" in msg[3] and b"X2" in msg[3], "IO_ERROR names X3 and X2: %r" % msg[3])
    m.wait(lambda: a.closed, 10, "the agent to close after IO_ERROR")


def scenario_bench(m, args):
    accept(m, args.agents)
    for a in m.agents:
        handshake(m, a, ["X2", "X1"], ["R2", "R1"], None, exact=False)
    runs = random_runs(args.runs, 11)
    t0 = time.monotonic()
    done = run_batch(m, 1, runs, ping=False)
    dt = time.monotonic() - t0
    check(len(done) == args.runs, "bench: every run back")
    print("RUNS_PER_SECOND %.3f" % (len(done) / dt), flush=True)
    terminate(m)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--scenario", default="full")
    ap.add_argument("--port-file", required=True)
    ap.add_argument("--agents", type=int, default=2)
    ap.add_argument("--rundir", default=None, help="the agents' working folder (RUNDIR)")
    ap.add_argument("--scratch", default=".", help="folder the test model writes its markers to")
    ap.add_argument("--runs", type=int, default=100)
    args = ap.parse_args()
    m = Master(0, None)
    with open(args.port_file + ".tmp", "w") as f:
        f.write("%d\n" % m.port)
    os.rename(args.port_file + ".tmp", args.port_file)
    log("listening on 127.0.0.1:%d" % m.port)
    {"full": scenario_full, "basic": scenario_basic, "mismatch": scenario_mismatch,
     "bench": scenario_bench}[args.scenario](m, args)
    print("master: %d failed checks" % len(failures), flush=True)
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
