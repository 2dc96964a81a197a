#!/usr/bin/env python3
"""make_case.py: writes the mf6_valley calibration case, a MODFLOW 6 model and its PEST control file.

usage:
  make_case.py OUTDIR [--truth]        write the case into OUTDIR (model inputs at the initial
                                       parameter values, or at the true ones with --truth)
  make_case.py --observe MF6 PP2GRID   run the true model once in a scratch folder, add seeded
                                       noise to the calibration targets and rewrite observed.csv
                                       beside this script
  make_case.py --check MF6 PP2GRID     exit 1 unless the true model still reproduces the
                                       simulated values in observed.csv (nothing is changed)

The case is described in README.md. Everything here is deterministic: the "true" parameter field
and the noise come from a seeded generator of this file's own (splitmix64 and Box-Muller), so the
same case is written on every machine. Python 3 standard library only.
"""

import csv
import math
import os
import shutil
import subprocess
import sys
import tempfile

NAME = "valley"
NLAY, NROW, NCOL = 3, 20, 25
DELR = DELC = 100.0  # m
HERE = os.path.dirname(os.path.abspath(__file__))
OBSERVED_CSV = os.path.join(HERE, "observed.csv")
SEED = 20261203

# Stress periods: a steady state, then two transient half-years of six 30-day steps.
PERIODS = [(1.0, 1, "steady"), (180.0, 6, "summer"), (180.0, 6, "winter")]
TIMES = [1.0] + [1.0 + 30.0 * k for k in range(1, 13)]  # the end of every time step, in days
MONTHS = ["m%02d" % k for k in range(13)]  # m00 = the steady state, m01..m12 = 30-day steps

# Base (initial) property values that the multipliers scale, by array.
BASE = {
    "hk1": 25.0, "hk2": 0.2, "hk3": 12.0,  # m/d
    "vk1": 2.5, "vk2": 0.002, "vk3": 1.2,  # m/d
    "ss1": 2e-5, "ss2": 1e-4, "ss3": 1e-5,  # 1/m
    "sy1": 0.15,
    "rch": 8e-4,  # m/d, about 290 mm/yr
}

# River: column 22, north reach rows 1-10, south reach rows 11-20 (stage falls 50.4 -> 48.5 m).
RIVER_COL = 22
RIVER_COND = 800.0  # m2/d per cell
# Drain: a wetland ditch along row 6, columns 6-15 of layer 1.
DRAIN_ROW, DRAIN_COLS = 6, range(6, 16)
DRAIN_COND = 150.0
# General head: regional inflow from the west (column 1) into layers 1 and 3.
GHB_HEAD = 55.5
# Wells: (name, layer, row, col, m3/d in the steady state, summer, winter).
WELLS = [
    ("pw1", 3, 9, 12, -1000.0, -1800.0, -1800.0),
    ("pw2", 3, 12, 14, -800.0, -1500.0, -1500.0),
    ("pw3", 3, 7, 16, 0.0, -1200.0, -1200.0),
    ("irr1", 1, 16, 8, 0.0, -800.0, 0.0),
]
# Observation wells: (name, layer, row, col). ow06/ow07/ow08 and ow10/ow11 are nested clusters.
OBS_WELLS = [
    ("ow01", 1, 3, 4), ("ow02", 1, 10, 6), ("ow03", 1, 17, 11), ("ow04", 1, 4, 19),
    ("ow05", 1, 14, 20), ("ow06", 1, 10, 13), ("ow07", 2, 10, 13), ("ow08", 3, 10, 13),
    ("ow09", 3, 4, 9), ("ow10", 1, 18, 17), ("ow11", 3, 18, 17), ("ow12", 3, 14, 5),
]
FORECAST_SITE = ("wetland", 1, 8, 17)  # a fen between the wellfield and the river; no well there
HEAD_TARGET_MONTHS = ("m00", "m03", "m06", "m12")
FLUX_TARGET_MONTHS = ("m00", "m12")
HEAD_SIGMA = 0.05  # m
FLUX_SIGMA = 0.1  # of the true flux
FORECASTS = ("wetland_m06", "riv_s_m06", "drn_m06")

# Pilot-point layouts: every third cell for conductivity, a coarser one for storage and recharge.
FINE_ROWS, FINE_COLS = range(2, 21, 3), range(2, 24, 3)  # 7 x 8 = 56
COARSE_ROWS, COARSE_COLS = (3, 10, 17), (3, 9, 15, 21)  # 3 x 4 = 12
NEAREST = 8  # pilot points informing each cell
RANGE = {"fine": 1000.0, "coarse": 1800.0}  # m, practical range of the exponential variogram

# Pilot-point arrays: (array, layout, lower, upper bound of the multiplier, true log10 mean, sd).
PP_ARRAYS = [
    ("hk1", "fine", 0.1, 10.0, 0.30, 0.30),
    ("hk2", "fine", 0.1, 10.0, -0.20, 0.30),
    ("hk3", "fine", 0.1, 10.0, -0.35, 0.30),
    ("vk2", "fine", 0.01, 100.0, 0.00, 0.30),
    ("ss1", "coarse", 0.1, 10.0, 0.40, 0.15),
    ("ss2", "coarse", 0.1, 10.0, 0.30, 0.15),
    ("ss3", "coarse", 0.1, 10.0, 0.50, 0.15),
    ("sy1", "coarse", 0.5, 2.0, -0.10, 0.05),
    ("rch", "coarse", 0.5, 2.0, 0.00, 0.08),
]
TIED_ARRAYS = [("vk1", "hk1"), ("vk3", "hk3")]  # vertical K keeps the anisotropy of its layer
VK2_WINDOW = ((1250.0, 1050.0), 450.0, 1.3)  # a sandy window in the till: centre, radius, +log10
# Scalar multipliers: (name, group, initial, lower, upper, true, meaning).
SCALARS = [
    ("rch_sp1", "rch", 1.0, 0.2, 3.0, 1.15, "recharge factor, steady state"),
    ("rch_sp2", "rch", 0.5, 0.05, 3.0, 0.30, "recharge factor, summer"),
    ("rch_sp3", "rch", 1.0, 0.2, 3.0, 1.40, "recharge factor, winter"),
    ("riv_n", "bnd", 1.0, 0.05, 20.0, 0.45, "river-bed conductance, north reach"),
    ("riv_s", "bnd", 1.0, 0.05, 20.0, 2.20, "river-bed conductance, south reach"),
    ("drn", "bnd", 1.0, 0.05, 20.0, 0.60, "wetland ditch conductance"),
    ("ghb_l1", "bnd", 1.0, 0.1, 10.0, 1.50, "western inflow conductance, layer 1"),
    ("ghb_l3", "bnd", 1.0, 0.1, 10.0, 0.70, "western inflow conductance, layer 3"),
]
GROUP_OF = {"hk": "hk", "vk": "vk", "ss": "ss", "sy": "sy", "rc": "rch"}


# ---------------------------------------------------------------------------------------------
# Deterministic random numbers

class Rng:
    """splitmix64 with Box-Muller normals: the same stream on every platform and Python."""
    MASK = (1 << 64) - 1

    def __init__(self, seed):
        self.s = seed & self.MASK

    def next64(self):
        self.s = (self.s + 0x9E3779B97F4A7C15) & self.MASK
        z = self.s
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & self.MASK
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & self.MASK
        return z ^ (z >> 31)

    def uniform(self):
        return ((self.next64() >> 11) + 0.5) / float(1 << 53)

    def normal(self):
        u1, u2 = self.uniform(), self.uniform()
        return math.sqrt(-2.0 * math.log(u1)) * math.cos(2.0 * math.pi * u2)


# ---------------------------------------------------------------------------------------------
# Grid and geostatistics

def cell_xy(row, col):
    """Centre of cell (row, col), 1-based; x east, y north, origin at the south-west corner."""
    return (col - 0.5) * DELR, (NROW - row + 0.5) * DELC


def elevations(row, col):
    """Top of layer 1 and the bottoms of layers 1-3 (m above datum)."""
    fx, fy = (col - 1) / (NCOL - 1), (row - 1) / (NROW - 1)
    top = 57.0 - 6.0 * fx - 1.0 * fy + 0.4 * math.sin(math.pi * fx * 3.0) * math.cos(math.pi * fy)
    bot1 = 32.0 - 2.0 * fx
    bot2 = bot1 - 5.0
    return top, bot1, bot2, bot2 - 30.0


def river_stage(row):
    return 50.4 - 1.9 * (row - 1) / (NROW - 1)


def drain_elevation(col):
    return 53.0 - 0.25 * (col - DRAIN_COLS[0])


def layout(which):
    rows, cols = (FINE_ROWS, FINE_COLS) if which == "fine" else (COARSE_ROWS, COARSE_COLS)
    return [(r, c) for r in rows for c in cols]


def covariance(d, rng_m):
    return math.exp(-3.0 * d / rng_m)


def solve(a, b):
    """Solves a x = b by Gaussian elimination with partial pivoting (a and b are copied)."""
    n = len(b)
    m = [row[:] + [b[i]] for i, row in enumerate(a)]
    for k in range(n):
        p = max(range(k, n), key=lambda i: abs(m[i][k]))
        m[k], m[p] = m[p], m[k]
        for i in range(k + 1, n):
            f = m[i][k] / m[k][k]
            for j in range(k, n + 1):
                m[i][j] -= f * m[k][j]
    x = [0.0] * n
    for i in range(n - 1, -1, -1):
        x[i] = (m[i][n] - sum(m[i][j] * x[j] for j in range(i + 1, n))) / m[i][i]
    return x


def kriging_factors(which):
    """Ordinary-kriging weights of the NEAREST pilot points for every cell, row by row."""
    pts = [cell_xy(r, c) for r, c in layout(which)]
    a_range = RANGE[which]
    out = []
    for row in range(1, NROW + 1):
        for col in range(1, NCOL + 1):
            x, y = cell_xy(row, col)
            near = sorted(range(len(pts)), key=lambda i: (math.hypot(pts[i][0] - x, pts[i][1] - y), i))
            near = near[:NEAREST]
            n = len(near)
            a = [[0.0] * (n + 1) for _ in range(n + 1)]
            b = [0.0] * (n + 1)
            for i, pi in enumerate(near):
                for j, pj in enumerate(near):
                    d = math.hypot(pts[pi][0] - pts[pj][0], pts[pi][1] - pts[pj][1])
                    a[i][j] = covariance(d, a_range)
                a[i][n] = a[n][i] = 1.0
                b[i] = covariance(math.hypot(pts[pi][0] - x, pts[pi][1] - y), a_range)
            b[n] = 1.0
            w = solve(a, b)[:n]
            out.append([(pi + 1, wi) for pi, wi in zip(near, w)])
    return out


def cholesky(c):
    n = len(c)
    l = [[0.0] * n for _ in range(n)]
    for i in range(n):
        for j in range(i + 1):
            s = c[i][j] - sum(l[i][k] * l[j][k] for k in range(j))
            l[i][j] = math.sqrt(s) if i == j else s / l[j][j]
    return l


def true_log_field(array, which, mean, sd, stream):
    """log10 of the true multipliers at the pilot points: correlated normal, seeded per array."""
    pts = [cell_xy(r, c) for r, c in layout(which)]
    n = len(pts)
    c = [[covariance(math.hypot(p[0] - q[0], p[1] - q[1]), RANGE[which]) + (1e-9 if p == q else 0.0)
          for q in pts] for p in pts]
    l = cholesky(c)
    rng = Rng(SEED + 7919 * stream)
    z = [rng.normal() for _ in range(n)]
    field = [mean + sd * sum(l[i][k] * z[k] for k in range(i + 1)) for i in range(n)]
    if array == "vk2":
        (cx, cy), radius, lift = VK2_WINDOW
        field = [f + (lift if math.hypot(p[0] - cx, p[1] - cy) <= radius else 0.0)
                 for f, p in zip(field, pts)]
    return field


# ---------------------------------------------------------------------------------------------
# Parameters

class Par:
    def __init__(self, name, group, init, lower, upper, truth, tied=None):
        self.name, self.group, self.init = name, group, init
        self.lower, self.upper, self.truth, self.tied = lower, upper, truth, tied


def parameters():
    """Every parameter in control-file order, and the pilot points of each array."""
    pars, points = [], {}
    for stream, (array, which, lo, hi, mean, sd) in enumerate(PP_ARRAYS):
        field = true_log_field(array, which, mean, sd, stream)
        names = []
        for k, lf in enumerate(field):
            # keep the truth inside the bounds, with a margin
            lf = min(max(lf, math.log10(lo) + 0.1), math.log10(hi) - 0.1)
            name = "%s_%03d" % (array, k + 1)
            pars.append(Par(name, GROUP_OF[array[:2]], 1.0, lo, hi, float("%.6g" % 10 ** lf)))
            names.append(name)
        points[array] = (which, names)
    by_name = {p.name: p for p in pars}
    for child, parent in TIED_ARRAYS:
        which, pnames = points[parent]
        names = []
        for pn in pnames:
            name = child + pn[len(parent):]
            pars.append(Par(name, "vk", 1.0, 0.1, 10.0, by_name[pn].truth, tied=pn))
            names.append(name)
        points[child] = (which, names)
    for name, group, init, lo, hi, truth, _ in SCALARS:
        pars.append(Par(name, group, init, lo, hi, truth))
    return pars, points


# ---------------------------------------------------------------------------------------------
# Model input files. Each writer takes `val(name)`, which returns a parameter's text: a template
# marker when the file is a template, a number when it is the model input itself.

MARK = "~"


def marker(width):
    return lambda name: MARK + " " + name.ljust(width - 3) + MARK


def value_of(values, width):
    return lambda name: ("%.10g" % values[name]).rjust(width)


def block(name, lines, suffix=""):
    return "BEGIN %s%s\n%sEND %s\n" % (name, suffix, "".join("  %s\n" % l for l in lines), name)


def pp_file(array, points, val):
    which, names = points[array]
    out = []
    for name, (r, c) in zip(names, layout(which)):
        x, y = cell_xy(r, c)
        out.append("%-10s %9.1f %9.1f  1  %s\n" % (name, x, y, val(name)))
    return "".join(out)


def rcha_file(val):
    text = block("options", ["READASARRAYS"])
    for k in range(len(PERIODS)):
        text += block("period", ["RECHARGE", "  OPEN/CLOSE rch.txt FACTOR %s" % val("rch_sp%d" % (k + 1))],
                      " %d" % (k + 1))
    return text


def riv_file(val):
    rows = []
    for row in range(1, NROW + 1):
        stage = river_stage(row)
        reach = "riv_n" if row <= 10 else "riv_s"
        rows.append("1 %2d %2d %8.3f %8.1f %8.3f %s %s" % (row, RIVER_COL, stage, RIVER_COND,
                                                         stage - 1.5, val(reach), reach))
    return (block("options", ["AUXILIARY mult", "AUXMULTNAME mult", "BOUNDNAMES",
                              "OBS6 FILEIN %s.riv.obs" % NAME])
            + block("dimensions", ["MAXBOUND %d" % len(rows)]) + block("period", rows, " 1"))


def drn_file(val):
    rows = ["1 %2d %2d %8.3f %8.1f %s drn" % (DRAIN_ROW, c, drain_elevation(c), DRAIN_COND, val("drn"))
            for c in DRAIN_COLS]
    return (block("options", ["AUXILIARY mult", "AUXMULTNAME mult", "BOUNDNAMES",
                              "OBS6 FILEIN %s.drn.obs" % NAME])
            + block("dimensions", ["MAXBOUND %d" % len(rows)]) + block("period", rows, " 1"))


def ghb_file(val):
    rows = []
    for lay, k, par in ((1, BASE["hk1"], "ghb_l1"), (3, BASE["hk3"], "ghb_l3")):
        for row in range(1, NROW + 1):
            e = elevations(row, 1)
            thick = (GHB_HEAD - e[1]) if lay == 1 else (e[2] - e[3])
            cond = k * thick * DELC / 200.0  # the aquifer over 200 m west of the model edge
            rows.append("%d %2d  1 %8.3f %8.2f %s ghb_l%d" % (lay, row, GHB_HEAD, cond, val(par), lay))
    return (block("options", ["AUXILIARY mult", "AUXMULTNAME mult", "BOUNDNAMES"])
            + block("dimensions", ["MAXBOUND %d" % len(rows)]) + block("period", rows, " 1"))


def static_files():
    """The model inputs that no parameter touches: name: text."""
    f = {}
    f["mfsim.nam"] = (block("options", []) + block("timing", ["TDIS6 %s.tdis" % NAME])
                      + block("models", ["gwf6 %s.nam %s" % (NAME, NAME)]) + block("exchanges", [])
                      + block("solutiongroup", ["ims6 %s.ims %s" % (NAME, NAME)], " 1"))
    f[NAME + ".tdis"] = (block("options", ["TIME_UNITS days"])
                         + block("dimensions", ["NPER %d" % len(PERIODS)])
                         + block("perioddata", ["%.1f %d 1.0" % (p[0], p[1]) for p in PERIODS]))
    # A loose closure, as in everyday use: 1 mm on heads.
    f[NAME + ".ims"] = (block("options", ["PRINT_OPTION summary"])
                        + block("nonlinear", ["OUTER_DVCLOSE 1.0e-3", "OUTER_MAXIMUM 50"])
                        + block("linear", ["INNER_MAXIMUM 100", "INNER_DVCLOSE 1.0e-4",
                                           "INNER_RCLOSE 1.0e-2", "LINEAR_ACCELERATION cg"]))
    f[NAME + ".nam"] = block("options", []) + block("packages", [
        "DIS6 %s.dis dis" % NAME, "IC6 %s.ic ic" % NAME, "NPF6 %s.npf npf" % NAME,
        "STO6 %s.sto sto" % NAME, "RCH6 %s.rcha rcha" % NAME, "WEL6 %s.wel wel" % NAME,
        "RIV6 %s.riv riv" % NAME, "DRN6 %s.drn drn" % NAME, "GHB6 %s.ghb ghb" % NAME,
        "OC6 %s.oc oc" % NAME, "OBS6 %s.obs head_obs" % NAME])
    elev = [[elevations(r, c) for c in range(1, NCOL + 1)] for r in range(1, NROW + 1)]

    def internal(k):
        return ["  INTERNAL FACTOR 1.0"] + ["    " + " ".join("%.3f" % elev[r][c][k] for c in range(NCOL))
                                           for r in range(NROW)]
    f[NAME + ".dis"] = (block("options", ["LENGTH_UNITS meters"])
                        + block("dimensions", ["NLAY %d" % NLAY, "NROW %d" % NROW, "NCOL %d" % NCOL])
                        + block("griddata", ["DELR", "  CONSTANT %.1f" % DELR, "DELC",
                                             "  CONSTANT %.1f" % DELC, "TOP"] + internal(0)
                                + ["BOTM LAYERED"] + internal(1) + internal(2) + internal(3)))
    f[NAME + ".ic"] = block("options", []) + block("griddata", ["STRT", "  CONSTANT 52.0"])
    f[NAME + ".npf"] = (block("options", ["SAVE_SPECIFIC_DISCHARGE"])
                        + block("griddata", ["ICELLTYPE LAYERED", "  CONSTANT 1", "  CONSTANT 0",
                                             "  CONSTANT 0", "K LAYERED"]
                                + ["  OPEN/CLOSE hk%d.txt" % k for k in (1, 2, 3)] + ["K33 LAYERED"]
                                + ["  OPEN/CLOSE vk%d.txt" % k for k in (1, 2, 3)]))
    f[NAME + ".sto"] = (block("options", [])
                        + block("griddata", ["ICONVERT LAYERED", "  CONSTANT 1", "  CONSTANT 0",
                                             "  CONSTANT 0", "SS LAYERED"]
                                + ["  OPEN/CLOSE ss%d.txt" % k for k in (1, 2, 3)]
                                + ["SY LAYERED", "  OPEN/CLOSE sy1.txt", "  CONSTANT 0.1",
                                   "  CONSTANT 0.1"])
                        + block("period", ["STEADY-STATE"], " 1") + block("period", ["TRANSIENT"], " 2"))
    wel = block("options", ["BOUNDNAMES"]) + block("dimensions", ["MAXBOUND %d" % len(WELLS)])
    for k in range(len(PERIODS)):
        wel += block("period", ["%d %2d %2d %9.1f %s" % (w[1], w[2], w[3], w[4 + k], w[0])
                                for w in WELLS if w[4 + k] != 0.0], " %d" % (k + 1))
    f[NAME + ".wel"] = wel
    f[NAME + ".oc"] = (block("options", ["HEAD FILEOUT %s.hds" % NAME])
                       + block("period", ["SAVE HEAD LAST", "PRINT BUDGET LAST"], " 1"))
    sites = OBS_WELLS + [FORECAST_SITE]
    f[NAME + ".obs"] = (block("options", ["DIGITS 12"])
                        + block("continuous", ["%s HEAD %d %d %d" % s for s in sites],
                                " FILEOUT %s.heads.csv" % NAME))
    f[NAME + ".riv.obs"] = (block("options", ["DIGITS 12"])
                            + block("continuous", ["riv_n RIV riv_n", "riv_s RIV riv_s"],
                                    " FILEOUT %s.riv.csv" % NAME))
    f[NAME + ".drn.obs"] = (block("options", ["DIGITS 12"])
                            + block("continuous", ["drn DRN drn"], " FILEOUT %s.drn.csv" % NAME))
    return f


def factor_file():
    out = ["# Ordinary-kriging factors of the pilot points (make_case.py): exponential variogram,",
           "# %d nearest pilot points a cell. Read by pp2grid for every model run." % NEAREST,
           "grid %d %d" % (NROW, NCOL)]
    for which in ("fine", "coarse"):
        out.append("factors %s %d" % (which, len(layout(which))))
        for cell in kriging_factors(which):
            out.append("%d  %s" % (len(cell), " ".join("%d %.6f" % iw for iw in cell)))
    for array, which, *_ in PP_ARRAYS:
        out.append("array %s.txt pp_%s.dat %g %s" % (array, array, BASE[array], which))
    for child, parent in TIED_ARRAYS:
        out.append("array %s.txt pp_%s.dat %g %s" % (child, child, BASE[child], layout_of(parent)))
    return "\n".join(out) + "\n"


def layout_of(array):
    return next(p[1] for p in PP_ARRAYS if p[0] == array)


def templated_files(points, val):
    """The model inputs written from templates: (model input, text)."""
    out = [("pp_%s.dat" % a, pp_file(a, points, val)) for a in list(points)]
    out += [(NAME + ".rcha", rcha_file(val)), (NAME + ".riv", riv_file(val)),
            (NAME + ".drn", drn_file(val)), (NAME + ".ghb", ghb_file(val))]
    return out


# ---------------------------------------------------------------------------------------------
# Observations

def observation_names():
    """(name, group, is_target) for every observation, in the order the instruction files read."""
    out = []
    for m in MONTHS:
        for name, lay, _, _ in OBS_WELLS:
            out.append(("%s_%s" % (name, m), "hds_l%d" % lay, m in HEAD_TARGET_MONTHS))
        out.append(("%s_%s" % (FORECAST_SITE[0], m), "forecast", False))
    for m in MONTHS:
        for reach in ("riv_n", "riv_s"):
            out.append(("%s_%s" % (reach, m), "riv", m in FLUX_TARGET_MONTHS))
    for m in MONTHS:
        out.append(("drn_%s" % m, "drn", m in FLUX_TARGET_MONTHS))
    return out


def weight(name, group, target, truth):
    if not target:
        return 0.0
    if group.startswith("hds"):
        return 1.0 / HEAD_SIGMA
    return float("%.3g" % (1.0 / (FLUX_SIGMA * abs(truth))))


def instruction_files():
    heads = ["pif ~", "l1"]
    for m in MONTHS:
        heads.append("l1 !dum! " + " ".join("!%s_%s!" % (s[0], m) for s in OBS_WELLS + [FORECAST_SITE]))
    riv = ["pif ~", "l1"] + ["l1 !dum! !riv_n_%s! !riv_s_%s!" % (m, m) for m in MONTHS]
    drn = ["pif ~", "l1"] + ["l1 !dum! !drn_%s!" % m for m in MONTHS]
    return [(NAME + ".heads.csv", heads), (NAME + ".riv.csv", riv), (NAME + ".drn.csv", drn)]


def read_csv_outputs(folder):
    """Simulated values by observation name, from mf6's observation CSV files."""
    sim = {}
    for fname, cols in ((NAME + ".heads.csv", [s[0] for s in OBS_WELLS + [FORECAST_SITE]]),
                        (NAME + ".riv.csv", ["riv_n", "riv_s"]), (NAME + ".drn.csv", ["drn"])):
        with open(os.path.join(folder, fname)) as f:
            rows = list(csv.reader(f))[1:]
        if len(rows) != len(MONTHS):
            sys.exit("make_case.py: %s has %d rows, expected %d" % (fname, len(rows), len(MONTHS)))
        for m, t, row in zip(MONTHS, TIMES, rows):
            if abs(float(row[0]) - t) > 1e-6:
                sys.exit("make_case.py: %s: time %s where %g was expected" % (fname, row[0], t))
            for c, v in zip(cols, row[1:]):
                sim["%s_%s" % (c, m)] = float(v)
    return sim


def read_observed():
    with open(OBSERVED_CSV) as f:
        rows = [r for r in csv.reader(f) if r and not r[0].startswith("#")]
    return {r[0]: (float(r[1]), float(r[2]), float(r[3])) for r in rows[1:]}


# ---------------------------------------------------------------------------------------------
# The control file

def control_file(pars, obs, templates, instructions):
    """obs: list of (name, value, weight, group)."""
    groups = ["hk", "vk", "ss", "sy", "rch", "bnd"]
    obs_groups = []
    for o in obs:
        if o[3] not in obs_groups:
            obs_groups.append(o[3])
    noptmax = 6
    lines = ["pcf", "* control data", "restart estimation",
             "%d %d %d 0 %d" % (len(pars), len(obs), len(groups), len(obs_groups)),
             "%d %d single point 1 0 0" % (len(templates), len(instructions)),
             "10.0 -3.0 0.3 0.03 10", "10.0 10.0 0.001", "0.1",
             "%d 0.01 3 3 0.01 3" % noptmax, "0 0 0",
             "* singular value decomposition", "1", "60 1.0e-6", "0",
             "* parameter groups"]
    for g in groups:
        lines.append("%-4s relative 0.02 1.0e-6 always_2 2.0 parabolic" % g)
    lines.append("* parameter data")
    for p in pars:
        trans = "tied" if p.tied else "log"
        lines.append("%-10s %-4s factor %12.6g %10.4g %10.4g %-4s 1.0 0.0" %
                     (p.name, trans, p.init, p.lower, p.upper, p.group))
    for p in pars:
        if p.tied:
            lines.append("%-10s %s" % (p.name, p.tied))
    lines.append("* observation groups")
    lines += obs_groups
    lines.append("* observation data")
    for name, value, w, group in obs:
        lines.append("%-12s %18.10g %10.4g %s" % (name, value, w, group))
    lines += ["* model command line", "./pp2grid", "mf6", "* model input/output"]
    lines += ["%s %s" % t for t in templates] + ["%s %s" % i for i in instructions]
    lines += ["++forecasts(%s)" % ",".join(FORECASTS),
              "++n_iter_base(-1)", "++n_iter_super(3)", "++max_n_super(30)",
              "++glm_normal_form(prior)", "++max_run_fail(1)"]
    return "\n".join(lines) + "\n"


# ---------------------------------------------------------------------------------------------

def write(folder, name, text):
    with open(os.path.join(folder, name), "w") as f:
        f.write(text)


def write_model(folder, pars, points, values):
    """The model inputs, parameterised ones at `values`, into folder."""
    for name, text in static_files().items():
        write(folder, name, text)
    write(folder, "pp2grid.fac", factor_file())
    for name, text in templated_files(points, value_of(values, 20)):
        write(folder, name, text)


def write_case(out, truth):
    os.makedirs(out, exist_ok=True)
    pars, points = parameters()
    values = {p.name: (p.truth if truth else p.init) for p in pars}
    write_model(out, pars, points, values)
    templates = []
    for name, text in templated_files(points, marker(20)):
        write(out, name + ".tpl", "ptf %s\n" % MARK + text)
        templates.append((name + ".tpl", name))
    instructions = []
    for name, lines in instruction_files():
        write(out, name + ".ins", "\n".join(lines) + "\n")
        instructions.append((name + ".ins", name))
    observed = read_observed()
    obs = []
    for name, group, target in observation_names():
        if name not in observed:
            sys.exit("make_case.py: %s is not in %s; rerun with --observe" % (name, OBSERVED_CSV))
        sim, noise, value = observed[name]
        obs.append((name, value, weight(name, group, target, sim), group))
    write(out, NAME + ".pst", control_file(pars, obs, templates, instructions))
    shutil.copy(OBSERVED_CSV, os.path.join(out, "observed.csv"))
    write(out, "truth.par", "single point\n" + "".join(
        "%-10s %18.10g 1.0 0.0\n" % (p.name, p.truth) for p in pars))


def run_truth(mf6, pp2grid):
    """Runs the true model in a scratch folder; returns the simulated values by name."""
    pars, points = parameters()
    scratch = tempfile.mkdtemp(prefix="mf6_valley.")
    try:
        write_model(scratch, pars, points, {p.name: p.truth for p in pars})
        for cmd in ([os.path.abspath(pp2grid)], [os.path.abspath(mf6)]):
            r = subprocess.run(cmd, cwd=scratch, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
            if r.returncode != 0:
                sys.exit("make_case.py: %s failed:\n%s" % (cmd[0], r.stdout.decode()[-2000:]))
        return read_csv_outputs(scratch)
    finally:
        shutil.rmtree(scratch)


def observe(mf6, pp2grid):
    sim = run_truth(mf6, pp2grid)
    rng = Rng(SEED + 1)
    rows = []
    for name, group, target in observation_names():
        w = weight(name, group, target, sim[name])
        noise = float("%.6g" % (rng.normal() / w)) if w > 0 else 0.0
        rows.append((name, sim[name], noise, sim[name] + noise))
    with open(OBSERVED_CSV, "w") as f:
        f.write("# make_case.py --observe: the true model's simulated value, the noise added "
                "(zero for zero-weight observations) and the observed value\n")
        f.write("obsnme,simulated,noise,observed\n")
        for name, s, n, v in rows:
            f.write("%s,%.10g,%.6g,%.10g\n" % (name, s, n, v))


def check(mf6, pp2grid):
    """Another mf6 build may converge to a slightly different iterate: 1e-4 relative (5 mm of
    head, a tenth of the head noise) is allowed."""
    sim = run_truth(mf6, pp2grid)
    bad = 0
    for name, (s, _, _) in read_observed().items():
        if abs(sim[name] - s) > 1e-4 * max(1.0, abs(s)):
            print("%s: simulated %.10g, observed.csv says %.10g" % (name, sim[name], s))
            bad += 1
    print("%d of %d simulated values differ from observed.csv" % (bad, len(read_observed())))
    sys.exit(1 if bad else 0)


def main(argv):
    if len(argv) == 3 and argv[0] in ("--observe", "--check"):
        (observe if argv[0] == "--observe" else check)(argv[1], argv[2])
    elif len(argv) in (1, 2) and not argv[0].startswith("-") and argv[1:] in ([], ["--truth"]):
        write_case(argv[0], argv[1:] == ["--truth"])
    else:
        sys.exit(__doc__.strip().split("\n\n")[0])


if __name__ == "__main__":
    main(sys.argv[1:])
