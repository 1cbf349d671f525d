#!/usr/bin/env python3
"""Write runtime-shim/tests/data/reference.txt: inputs and their exact function values.

Not part of the build; run by hand (needs mpmath):
    python3 runtime-shim/tools/gen_reference.py > runtime-shim/tests/data/reference.txt

Each line is `name x y hi lo`: x and y (y = 0 for one-argument functions) are the bit
patterns of the f64 inputs in hex, hi + lo is the exact value of the function at those
inputs (computed with mpmath at 300+ bits) as a double-double, hi the correctly rounded
f64 result. tests/accuracy.rs measures fractional-ulp errors against it. Half of the inputs
of every function are exactly representable in f32 (marked by name suffix `:32`), and are
also used to check the f32 functions.
"""
import math
import random
import struct

import mpmath
from mpmath import mp, mpf

mp.prec = 320
PER_FN = 300


def hexbits(x):
    return "%016x" % struct.unpack("<Q", struct.pack("<d", x))[0]


def to_f32(x):
    """x rounded to f32 (inf when out of range)."""
    try:
        return struct.unpack("<f", struct.pack("<f", x))[0]
    except OverflowError:
        return math.inf


def logu(r, lo, hi, signed=True):
    m = 2.0 ** r.uniform(lo, hi)
    return -m if signed and r.random() < 0.5 else m


def dd(v):
    hi = float(v)
    if math.isinf(hi) or hi == 0.0:
        return hi, 0.0
    return hi, float(v - mpf(hi))


def gens():
    pio2 = math.pi / 2
    return {
        "exp": (mpmath.exp, [lambda r: r.uniform(-745, 709.7), lambda r: r.uniform(-1, 1),
                             lambda r: r.uniform(-104, 88), lambda r: logu(r, -60, 0)]),
        "log": (mpmath.log, [lambda r: logu(r, -1074, 1024, False), lambda r: 1 + logu(r, -50, -1),
                             lambda r: r.uniform(0.5, 2), lambda r: logu(r, -149, 128, False)]),
        "tanh": (mpmath.tanh, [lambda r: r.uniform(-20, 20), lambda r: r.uniform(-1, 1),
                               lambda r: logu(r, -30, 3)]),
        "erf": (mpmath.erf, [lambda r: r.uniform(-6, 6), lambda r: r.uniform(-1.5, 1.5),
                             lambda r: logu(r, -30, 2)]),
        "sin": (mpmath.sin, [lambda r: r.uniform(-10, 10), lambda r: logu(r, -30, 1023),
                             lambda r: round(r.uniform(-1e6, 1e6)) * pio2, lambda r: logu(r, -10, 128)]),
        "cos": (mpmath.cos, [lambda r: r.uniform(-10, 10), lambda r: logu(r, -30, 1023),
                             lambda r: round(r.uniform(-1e6, 1e6)) * pio2, lambda r: logu(r, -10, 128)]),
        "tan": (mpmath.tan, [lambda r: r.uniform(-10, 10), lambda r: logu(r, -30, 1023),
                             lambda r: round(r.uniform(-1e6, 1e6)) * pio2, lambda r: logu(r, -10, 128)]),
        "asin": (mpmath.asin, [lambda r: r.uniform(-1, 1), lambda r: logu(r, -40, 0),
                               lambda r: math.copysign(1 - logu(r, -53, -1, False), r.uniform(-1, 1))]),
        "acos": (mpmath.acos, [lambda r: r.uniform(-1, 1), lambda r: logu(r, -40, 0),
                               lambda r: math.copysign(1 - logu(r, -53, -1, False), r.uniform(-1, 1))]),
        "atan": (mpmath.atan, [lambda r: r.uniform(-10, 10), lambda r: logu(r, -60, 1023),
                               lambda r: r.uniform(-1, 1)]),
        "sinh": (mpmath.sinh, [lambda r: r.uniform(-710, 710), lambda r: r.uniform(-3, 3),
                               lambda r: logu(r, -30, 0), lambda r: r.uniform(-89, 89)]),
        "cosh": (mpmath.cosh, [lambda r: r.uniform(-710, 710), lambda r: r.uniform(-3, 3),
                               lambda r: logu(r, -30, 0), lambda r: r.uniform(-89, 89)]),
        "asinh": (mpmath.asinh, [lambda r: r.uniform(-5, 5), lambda r: logu(r, -60, 1023),
                                 lambda r: r.uniform(-1, 1)]),
        "acosh": (mpmath.acosh, [lambda r: r.uniform(1, 5), lambda r: 1 + logu(r, -50, 1, False),
                                 lambda r: logu(r, 0, 1023, False)]),
        "atanh": (mpmath.atanh, [lambda r: r.uniform(-1, 1), lambda r: logu(r, -40, 0),
                                 lambda r: math.copysign(1 - logu(r, -53, -1, False), r.uniform(-1, 1))]),
    }


def gen_pow(r):
    k = r.randrange(5)
    if k == 0:
        return logu(r, -10, 10, False), r.uniform(-30, 30)
    if k == 1:
        return 1 + logu(r, -40, -3), logu(r, 0, 40)
    if k == 2:
        return -logu(r, -5, 5, False), float(round(r.uniform(-40, 40)))
    if k == 3:
        x = logu(r, -20, 20, False)
        return x, r.uniform(-1070, 1020) / math.log2(x)
    return r.uniform(0, 4), r.uniform(-8, 8)


def gen_fmod(r):
    k = r.randrange(3)
    if k == 0:
        return r.uniform(-100, 100), r.uniform(-10, 10)
    if k == 1:
        return logu(r, -1074, 1024), logu(r, -1074, 1024)
    return logu(r, -140, 128), logu(r, -140, 128)


def emit(name, x, y, v):
    hi, lo = dd(v)
    print(f"{name} {hexbits(x)} {hexbits(y)} {hexbits(hi)} {hexbits(lo)}")


def main():
    r = random.Random(20240607)
    for name, (fn, parts) in gens().items():
        for i in range(PER_FN):
            x = parts[i % len(parts)](r)
            f32 = i % 2 == 1
            if f32:
                x = to_f32(x)
                if math.isinf(x):
                    continue
            emit(name + (":32" if f32 else ""), x, 0.0, fn(mpf(x)))
    for name, gen, fn in (("pow", gen_pow, lambda x, y: mpmath.power(x, y)),
                          ("fmod", gen_fmod, None)):
        for i in range(PER_FN):
            x, y = gen(r)
            f32 = i % 2 == 1
            if f32:
                x, y = to_f32(x), to_f32(y)
                if math.isinf(x) or math.isinf(y) or y == 0:
                    continue
            # C's fmod is exact (and mpmath.fmod takes the sign of y), so use the former
            v = fn(mpf(x), mpf(y)) if fn is not None else mpf(math.fmod(x, y))
            emit(name + (":32" if f32 else ""), x, y, v)


main()
