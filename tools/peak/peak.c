/* Single-core f32 FMA peak: 12 independent accumulator registers, each updated by a
 * vector FMA per iteration (enough independent chains to cover FMA latency x issue width
 * on current x86_64 cores), for AVX-512F and AVX2, timed with CLOCK_MONOTONIC. Prints
 * GFLOP/s, counting 2 flops per lane per FMA. Build and run:
 *   cc -O2 -mavx512f -mavx2 -mfma tools/peak/peak.c -o peak && ./peak */
#include <immintrin.h>
#include <stdio.h>
#include <time.h>

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec * 1e-9;
}

#define ITERS 100000000L
#define STEP(F, x) x = F(x, a, b)
#define TWELVE(F) STEP(F, x0); STEP(F, x1); STEP(F, x2); STEP(F, x3); STEP(F, x4); STEP(F, x5); \
    STEP(F, x6); STEP(F, x7); STEP(F, x8); STEP(F, x9); STEP(F, x10); STEP(F, x11)

static double run512(void) {
    __m512 a = _mm512_set1_ps(0.999999f), b = _mm512_set1_ps(1e-7f);
    /* Distinct starting values: equal chains would be merged by the compiler. */
    __m512 x0 = _mm512_set1_ps(0.0f), x1 = _mm512_set1_ps(1.0f), x2 = _mm512_set1_ps(2.0f),
           x3 = _mm512_set1_ps(3.0f), x4 = _mm512_set1_ps(4.0f), x5 = _mm512_set1_ps(5.0f),
           x6 = _mm512_set1_ps(6.0f), x7 = _mm512_set1_ps(7.0f), x8 = _mm512_set1_ps(8.0f),
           x9 = _mm512_set1_ps(9.0f), x10 = _mm512_set1_ps(10.0f), x11 = _mm512_set1_ps(11.0f);
    double t0 = now();
    for (long it = 0; it < ITERS; it++) {
        TWELVE(_mm512_fmadd_ps);
    }
    double t = now() - t0;
    __m512 s = _mm512_add_ps(_mm512_add_ps(_mm512_add_ps(x0, x1), _mm512_add_ps(x2, x3)),
                             _mm512_add_ps(_mm512_add_ps(x4, x5), _mm512_add_ps(x6, x7)));
    s = _mm512_add_ps(s, _mm512_add_ps(_mm512_add_ps(x8, x9), _mm512_add_ps(x10, x11)));
    fprintf(stderr, "(checksum %g)\n", _mm512_reduce_add_ps(s));
    return 2.0 * 16 * 12 * ITERS / t * 1e-9;
}

static double run256(void) {
    __m256 a = _mm256_set1_ps(0.999999f), b = _mm256_set1_ps(1e-7f);
    __m256 x0 = _mm256_set1_ps(0.0f), x1 = _mm256_set1_ps(1.0f), x2 = _mm256_set1_ps(2.0f),
           x3 = _mm256_set1_ps(3.0f), x4 = _mm256_set1_ps(4.0f), x5 = _mm256_set1_ps(5.0f),
           x6 = _mm256_set1_ps(6.0f), x7 = _mm256_set1_ps(7.0f), x8 = _mm256_set1_ps(8.0f),
           x9 = _mm256_set1_ps(9.0f), x10 = _mm256_set1_ps(10.0f), x11 = _mm256_set1_ps(11.0f);
    double t0 = now();
    for (long it = 0; it < ITERS; it++) {
        TWELVE(_mm256_fmadd_ps);
    }
    double t = now() - t0;
    __m256 s = _mm256_add_ps(_mm256_add_ps(_mm256_add_ps(x0, x1), _mm256_add_ps(x2, x3)),
                             _mm256_add_ps(_mm256_add_ps(x4, x5), _mm256_add_ps(x6, x7)));
    s = _mm256_add_ps(s, _mm256_add_ps(_mm256_add_ps(x8, x9), _mm256_add_ps(x10, x11)));
    float v[8];
    _mm256_storeu_ps(v, s);
    fprintf(stderr, "(checksum %g)\n", v[0] + v[7]);
    return 2.0 * 8 * 12 * ITERS / t * 1e-9;
}

int main(void) {
    double p512 = 0, p256 = 0;
    for (int r = 0; r < 3; r++) {
        double x = run512(), y = run256();
        if (x > p512) p512 = x;
        if (y > p256) p256 = y;
    }
    printf("peak f32 FMA, one core: AVX-512 %.1f GFLOP/s, AVX2 %.1f GFLOP/s\n", p512, p256);
    return 0;
}
