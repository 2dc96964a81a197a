#!/usr/bin/python3
"""A minimal PANTHER agent that behaves like PEST++'s (SPEC.md 5.4-5.5), for the throughput
baseline: answers the handshake, runs the Rosenbrock case's model for each START_RUN (writes
par.dat as the template does, runs the command, reads out.dat), sends RUN_FINISHED and READY,
then sleeps panther_poll_interval (1 s) as a PEST++ agent does after every run.

usage: pestpp_like_agent.py HOST:PORT WORKDIR MODEL_COMMAND [POLL_INTERVAL]"""
import os
import socket
import struct
import subprocess
import sys
import time

CODE = bytes([1, 3, 5, 7, 9])
HEADER = struct.Struct("=qIqq1001s")


def send(s, t, g=0, r=0, desc=b"", data=b""):
    s.sendall(CODE + HEADER.pack(1029 + len(data), t, g, r, desc[:1000].ljust(1001, b"\0")) + data)


def recv_exact(s, n):
    b = b""
    while len(b) < n:
        c = s.recv(n - len(b))
        if not c:
            raise EOFError
        b += c
    return b


def main():
    host, port = sys.argv[1].rsplit(":", 1)
    os.chdir(sys.argv[2])
    cmd = sys.argv[3]
    poll = float(sys.argv[4]) if len(sys.argv) > 4 else 1.0
    while True:
        try:
            s = socket.create_connection((host, int(port)))
            break
        except OSError:
            time.sleep(poll)
    pars = obs = []
    try:
        while True:
            recv_exact(s, 5)
            size, t, g, r, desc = HEADER.unpack(recv_exact(s, 1029))
            data = recv_exact(s, size - 1029)
            if t == 4:
                send(s, 5, data=os.getcwd().encode())
            elif t == 8:
                pars = [n.decode() for n in data.split(b"\0") if n]
            elif t == 9:
                obs = [n.decode() for n in data.split(b"\0") if n]
            elif t == 6:
                send(s, 7)
            elif t == 15:
                send(s, 15)
            elif t == 14:
                return
            elif t == 10:
                v = dict(zip(pars, struct.unpack("=%dd" % len(pars), data)))
                t0 = time.monotonic()
                with open("par.dat", "w") as f:
                    f.write("%-21.14g %-21.14g\n" % (v["X1"], v["X2"]))
                for name in ("out.dat",):
                    if os.path.exists(name):
                        os.unlink(name)
                rc = subprocess.call(cmd, shell=False)
                out = {}
                if rc == 0:
                    for line in open("out.dat"):
                        k, x = line.split()
                        out[k.upper()] = float(x)
                if rc != 0 or set(out) != set(obs):
                    send(s, 12, g, r, b"group_id:%d run_id:%d failed" % (g, r))
                else:
                    payload = struct.pack("=%dd" % (len(pars) + len(obs) + 1),
                                          *([v[p] for p in pars] + [out[o] for o in obs] +
                                            [time.monotonic() - t0]))
                    send(s, 11, g, r, b"run complete", payload)
                send(s, 3, desc=b"ready")
                time.sleep(poll)  # PantherAgent: w_sleep(poll_interval) after each run
    except EOFError:
        return


if __name__ == "__main__":
    main()
