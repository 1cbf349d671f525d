/* Runs one model, linked twice (Cranelift object as `mo`, C backend output as `mc`), from
 * THREADS threads at once, each with its own inputs, outputs and scratch (the ABI's rule),
 * and checks every threaded result bit for bit against a single-threaded pass over the same
 * cases. The single-threaded pass is written to argv[1] (batch, x, mo's probs, mc's probs per
 * case) so that compiler/tests/concurrency.rs can check it against Kiln's interpreter. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "mo.h"
#include "mc.h"

#define THREADS 8
#define ROUNDS 200
#define CASES (THREADS * ROUNDS)
#define MAX_BATCH 64

static int64_t batch_of(int c) { return 1 + (c * 7919) % MAX_BATCH; }

static void fill(int c, float *x, int64_t n) {
    uint64_t s = 0x9E3779B97F4A7C15ull * (uint64_t)(c + 1);
    for (int64_t i = 0; i < n; i++) {
        s = s * 6364136223846793005ull + 1442695040888963407ull;
        x[i] = (float)((s >> 40) & 0xFFFFFF) / 16777216.0f * 4.0f - 2.0f;
    }
}

static float *want_o[CASES], *want_c[CASES];

static int run_case(int c, float *x, float *po, float *pc, void *scratch_o, void *scratch_c) {
    int64_t b = batch_of(c);
    const int64_t dims[1] = {b};
    fill(c, x, (int64_t)mo_x_len(dims));
    int32_t so = mo_infer(b, x, mo_x_len(dims), po, mo_probs_len(dims), scratch_o,
                          mo_scratch_size(dims));
    int32_t sc = mc_infer(b, x, mc_x_len(dims), pc, mc_probs_len(dims), scratch_c,
                          mc_scratch_size(dims));
    if (so != KILN_OK || sc != KILN_OK) {
        fprintf(stderr, "case %d: status %d (object) %d (C)\n", c, so, sc);
        return 1;
    }
    return 0;
}

static void *worker(void *arg) {
    int t = (int)(intptr_t)arg;
    const int64_t maxd[1] = {MAX_BATCH};
    float *x = malloc(sizeof(float) * mo_x_len(maxd));
    float *po = malloc(sizeof(float) * mo_probs_len(maxd));
    float *pc = malloc(sizeof(float) * mc_probs_len(maxd));
    void *so = aligned_alloc(mo_SCRATCH_ALIGN, mo_scratch_size(maxd) + mo_SCRATCH_ALIGN);
    void *sc = aligned_alloc(mc_SCRATCH_ALIGN, mc_scratch_size(maxd) + mc_SCRATCH_ALIGN);
    intptr_t bad = 0;
    /* Thread t takes cases t, t + THREADS, ...: neighbours in time run different batches. */
    for (int r = 0; r < ROUNDS && !bad; r++) {
        int c = t + THREADS * r;
        const int64_t dims[1] = {batch_of(c)};
        if (run_case(c, x, po, pc, so, sc)) {
            bad = 1;
        } else if (memcmp(po, want_o[c], sizeof(float) * mo_probs_len(dims)) != 0 ||
                   memcmp(pc, want_c[c], sizeof(float) * mc_probs_len(dims)) != 0) {
            fprintf(stderr, "thread %d case %d: result differs from the single-threaded one\n", t, c);
            bad = 1;
        }
    }
    free(x); free(po); free(pc); free(so); free(sc);
    return (void *)bad;
}

int main(int argc, char **argv) {
    if (argc != 2) return 2;
    FILE *f = fopen(argv[1], "wb");
    if (!f) return 2;
    const int64_t maxd[1] = {MAX_BATCH};
    float *x = malloc(sizeof(float) * mo_x_len(maxd));
    void *so = aligned_alloc(mo_SCRATCH_ALIGN, mo_scratch_size(maxd) + mo_SCRATCH_ALIGN);
    void *sc = aligned_alloc(mc_SCRATCH_ALIGN, mc_scratch_size(maxd) + mc_SCRATCH_ALIGN);
    for (int c = 0; c < CASES; c++) {
        const int64_t dims[1] = {batch_of(c)};
        want_o[c] = malloc(sizeof(float) * mo_probs_len(dims));
        want_c[c] = malloc(sizeof(float) * mc_probs_len(dims));
        if (run_case(c, x, want_o[c], want_c[c], so, sc)) return 1;
        fwrite(dims, sizeof(int64_t), 1, f);
        fwrite(x, sizeof(float), mo_x_len(dims), f);
        fwrite(want_o[c], sizeof(float), mo_probs_len(dims), f);
        fwrite(want_c[c], sizeof(float), mc_probs_len(dims), f);
    }
    fclose(f);
    pthread_t th[THREADS];
    for (int t = 0; t < THREADS; t++)
        if (pthread_create(&th[t], NULL, worker, (void *)(intptr_t)t) != 0) return 2;
    int bad = 0;
    for (int t = 0; t < THREADS; t++) {
        void *r;
        pthread_join(th[t], &r);
        bad |= r != NULL;
    }
    if (bad) return 1;
    printf("threads: %d threads x %d rounds, object and C, all equal to the single-threaded pass\n",
           THREADS, ROUNDS);
    return 0;
}
