/* Where a 3x3 convolution's B operand should come from: the shim's AVX-512 register tile
 * (12 rows x 32 columns, 24 zmm accumulators, one broadcast and two vector FMAs per row
 * and k step) over k = 64 channels x 9 taps, with its vector operand read four ways, data
 * in L1/L2, timed alone (no packing counted):
 *   packed   - a packed panel row per k step: two aligned loads (what Kiln does today;
 *              building the panel costs about 11% of resnet18 besides);
 *   unalign  - one packed row per (channel, tap row) read at offsets 0, 1, 2 for the three
 *              horizontal taps, masked per tap (cuts the packing by 3; the loads cross
 *              cache lines);
 *   valignd  - the same row loaded aligned once, the three taps made with masked valignd;
 *   nchwc16  - direct convolution on a blocked NCHWc16 image: the broadcasts read image
 *              values in place (rows are 12 output pixels), the vectors are packed weights
 *              (columns are 32 output channels); nothing is packed at run time.
 * Prints GFLOP/s (2 flops per lane per FMA); compare with tools/peak/peak.c. Build, run:
 *   cc -O3 -mavx512f -mfma tools/peak/convtile.c -o convtile && ./convtile */
#include <immintrin.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#define CH 64         /* input channels */
#define K (CH * 9)    /* k steps */
#define WW 58         /* padded image row of the NCHWc16 image (56 + 2) */

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec * 1e-9;
}

#define ZERO                                                                               \
    __m512 lo[12], hi[12];                                                                 \
    for (int r = 0; r < 12; r++) lo[r] = hi[r] = _mm512_setzero_ps()
/* One k step: twelve broadcasts of av(r), two FMAs each with b0 and b1. */
#define STEP(av)                                                                           \
    _Pragma("GCC unroll 12") for (int r = 0; r < 12; r++) {                                \
        __m512 a_ = _mm512_set1_ps(av);                                                    \
        lo[r] = _mm512_fmadd_ps(a_, b0, lo[r]);                                            \
        hi[r] = _mm512_fmadd_ps(a_, b1, hi[r]);                                            \
    }
#define STORE                                                                              \
    for (int r = 0; r < 12; r++) {                                                         \
        _mm512_storeu_ps(c + r * 32, lo[r]);                                               \
        _mm512_storeu_ps(c + r * 32 + 16, hi[r]);                                          \
    }

__attribute__((noinline)) static void packed(const float *a, const float *b, float *c) {
    ZERO;
    for (int p = 0; p < K; p++) {
        __m512 b0 = _mm512_load_ps(b + p * 32), b1 = _mm512_load_ps(b + p * 32 + 16);
        STEP(a[p * 12 + r]);
    }
    STORE;
}

__attribute__((noinline)) static void unalign(const float *a, const float *w, float *c,
                                              const __mmask16 *m) {
    ZERO;
    const float *ap = a;
    for (int q = 0; q < CH * 3; q++, w += 48) {
        for (int t = 0; t < 3; t++, ap += 12) {
            __m512 b0 = _mm512_maskz_loadu_ps(m[2 * t], w + t);
            __m512 b1 = _mm512_maskz_loadu_ps(m[2 * t + 1], w + 16 + t);
            STEP(ap[r]);
        }
    }
    STORE;
}

#define ALIGNR(t, k, x, y) _mm512_castsi512_ps(_mm512_maskz_alignr_epi32(k, x, y, t))
__attribute__((noinline)) static void valignd(const float *a, const float *w, float *c,
                                              const __mmask16 *m) {
    ZERO;
    const float *ap = a;
    for (int q = 0; q < CH * 3; q++, w += 48) {
        __m512i v0 = _mm512_load_si512(w), v1 = _mm512_load_si512(w + 16),
                v2 = _mm512_load_si512(w + 32);
        { __m512 b0 = ALIGNR(0, m[0], v1, v0), b1 = ALIGNR(0, m[1], v2, v1); STEP(ap[r]); ap += 12; }
        { __m512 b0 = ALIGNR(1, m[2], v1, v0), b1 = ALIGNR(1, m[3], v2, v1); STEP(ap[r]); ap += 12; }
        { __m512 b0 = ALIGNR(2, m[4], v1, v0), b1 = ALIGNR(2, m[5], v2, v1); STEP(ap[r]); ap += 12; }
    }
    STORE;
}

__attribute__((noinline)) static void nchwc16(const float *x, const float *wt, float *c) {
    ZERO;
    for (int cb = 0; cb < CH / 16; cb++)
        for (int ti = 0; ti < 3; ti++)
            for (int tj = 0; tj < 3; tj++) {
                const float *xp = x + ((cb * 3 + ti) * WW + tj) * 16;
                for (int l = 0; l < 16; l++, wt += 32) {
                    __m512 b0 = _mm512_load_ps(wt), b1 = _mm512_load_ps(wt + 16);
                    STEP(xp[r * 16 + l]);
                }
            }
    STORE;
}

static float *filled(size_t n, int mod) {
    float *p = aligned_alloc(64, (n * 4 + 63) / 64 * 64);
    for (size_t i = 0; i < n; i++) p[i] = (float)(i % mod) * 0.01f;
    return p;
}

int main(void) {
    float *a = filled(K * 12, 7), *b = filled(K * 32, 5), *w = filled(CH * 3 * 48, 3);
    float *x = filled(CH / 16 * 3 * WW * 16, 11), *c = filled(12 * 32, 2);
    __mmask16 m[6] = {0xfffe, 0xffff, 0xffff, 0xffff, 0xffff, 0x7fff};
    const int n = 20000;
    const double gflop = 2.0 * 12 * 32 * K * n * 1e-9;
    float sum = 0;
    for (int rep = 0; rep < 3; rep++) {
        double t0 = now();
        for (int i = 0; i < n; i++) packed(a, b, c);
        double t1 = now();
        sum += c[5];
        for (int i = 0; i < n; i++) unalign(a, w, c, m);
        double t2 = now();
        sum += c[5];
        for (int i = 0; i < n; i++) valignd(a, w, c, m);
        double t3 = now();
        sum += c[5];
        for (int i = 0; i < n; i++) nchwc16(x, b, c);
        double t4 = now();
        sum += c[5];
        printf("GFLOP/s: packed %.1f  unalign %.1f  valignd %.1f  nchwc16 %.1f\n",
               gflop / (t1 - t0), gflop / (t2 - t1), gflop / (t3 - t2), gflop / (t4 - t3));
    }
    printf("(checksum %g)\n", sum);
    return 0;
}
