/* The least-squares Rosenbrock case of SPEC §1.16 as control-file text (25 lines), shared by
 * the unit tests of the reader and of the option support table. */
#ifndef PR_TEST_ROSEN_PST_H
#define PR_TEST_ROSEN_PST_H

#define ROSEN_PST                                                                                  \
    "pcf\n"                                                                                        \
    "* control data\n"                                                                             \
    "restart estimation\n"                                                                         \
    "2 2 1 0 1\n"                                                                                  \
    "1 1 single point 1\n"                                                                         \
    "10.0 -2.0 0.3 0.01 10\n"                                                                      \
    "10.0 10.0 0.001\n"                                                                            \
    "0.1\n"                                                                                        \
    "50 0.005 4 4 0.005 4\n"                                                                       \
    "0 0 0\n"                                                                                      \
    "* parameter groups\n"                                                                         \
    "xg relative 0.01 0.0001 switch 2.0 parabolic\n"                                               \
    "* parameter data\n"                                                                           \
    "x1 none relative -1.2 -5.0 5.0 xg 1.0 0.0 1\n"                                                \
    "x2 none relative  1.0 -5.0 5.0 xg 1.0 0.0 1\n"                                                \
    "* observation groups\n"                                                                       \
    "resid\n"                                                                                      \
    "* observation data\n"                                                                         \
    "r1 0.0 1.0 resid\n"                                                                           \
    "r2 0.0 1.0 resid\n"                                                                           \
    "* model command line\n"                                                                       \
    "python3 rosen_ls.py\n"                                                                        \
    "* model input/output\n"                                                                       \
    "par.dat.tpl par.dat\n"                                                                        \
    "out.dat.ins out.dat\n"

#endif
