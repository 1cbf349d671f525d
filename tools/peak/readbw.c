/* Single-core read bandwidth for a buffer of a given size, read again and again (so it sits
 * in the cache level that holds it): the floor of a model whose time is reading its weights
 * once, e.g. a batch-1 MLP (mlp_mnist: 234752 f32 weights, 939008 bytes). AVX-512F loads
 * into four independent add chains; prints the best time per pass over 50 rounds and the
 * bandwidth. Build and run:
 *   cc -O2 -mavx512f tools/peak/readbw.c -o readbw && ./readbw 939008 */
#include <immintrin.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec * 1e-9;
}

int main(int argc, char **argv) {
    size_t bytes = argc > 1 ? strtoull(argv[1], 0, 10) : 939008;
    size_t n = (bytes / 256) * 64; /* floats, a multiple of 64 */
    if (n == 0) {
        fprintf(stderr, "readbw: at least 256 bytes\n");
        return 2;
    }
    float *a = aligned_alloc(64, n * sizeof(float));
    if (!a) return 1;
    for (size_t i = 0; i < n; i++) a[i] = (float)i * 1e-7f;
    int passes = (int)(2e8 / (n * sizeof(float))) + 1;
    __m512 s0 = _mm512_setzero_ps(), s1 = s0, s2 = s0, s3 = s0;
    double best = 1e30;
    for (int round = 0; round < 50; round++) {
        double t0 = now();
        for (int it = 0; it < passes; it++) {
            for (size_t i = 0; i < n; i += 64) {
                s0 = _mm512_add_ps(s0, _mm512_load_ps(a + i));
                s1 = _mm512_add_ps(s1, _mm512_load_ps(a + i + 16));
                s2 = _mm512_add_ps(s2, _mm512_load_ps(a + i + 32));
                s3 = _mm512_add_ps(s3, _mm512_load_ps(a + i + 48));
            }
        }
        double t = (now() - t0) / passes;
        if (t < best) best = t;
    }
    float r[16];
    _mm512_storeu_ps(r, _mm512_add_ps(_mm512_add_ps(s0, s1), _mm512_add_ps(s2, s3)));
    printf("%zu bytes: %.2f us per pass, %.1f GB/s (checksum %g)\n", n * sizeof(float),
           best * 1e6, n * sizeof(float) / best / 1e9, (double)r[0]);
    free(a);
    return 0;
}
