/* The C driver `kiln bench` links with a model's object file and the runtime shim, as a user
 * would (the model's header, NAME_run, caller-allocated buffers). argv[1] is a request file:
 * u32 n_dims, n_inputs, n_outputs, n_lens; i64 dims[n_dims]; u64 lens[n_lens]; per input a
 * u64 byte count and the bytes; per output a u64 byte count (native endianness). The scratch
 * area has lens[n_lens - 1] bytes. Runs once and prints `ready REPS` (or `error: ...`), then
 * for every line `MS` on stdin runs for MS milliseconds and prints one line of samples
 * (nanoseconds per call, the mean over REPS back-to-back calls, REPS chosen so that a sample
 * lasts about 20 us). KILN_BENCH_RUN is the model's NAME_run; with KILN_BENCH_THREADS > 1,
 * KILN_BENCH_RUN_PARALLEL (NAME_run_parallel) runs with a pool of that many threads
 * (pool.h). */
#define _POSIX_C_SOURCE 200809L
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include KILN_BENCH_HEADER

#ifndef KILN_BENCH_THREADS
#define KILN_BENCH_THREADS 1
#endif
#if KILN_BENCH_THREADS > 1
#include "pool.h"
static kiln_pool pool;
static kiln_parallel par;
#define CALL(d, ins, outs, scratch, lens) KILN_BENCH_RUN_PARALLEL(d, ins, outs, scratch, lens, &par)
#else
#define CALL(d, ins, outs, scratch, lens) KILN_BENCH_RUN(d, ins, outs, scratch, lens)
#endif

static uint64_t now_ns(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (uint64_t)t.tv_sec * 1000000000ull + (uint64_t)t.tv_nsec;
}

static void *alloc64(uint64_t n) {
    void *p = NULL;
    if (posix_memalign(&p, 64, n ? (size_t)n : 64) != 0) return NULL;
    memset(p, 0, n ? (size_t)n : 64);
    return p;
}

static int rd(FILE *f, void *p, size_t n) { return n == 0 || fread(p, 1, n, f) == n; }

int main(int argc, char **argv) {
    if (argc != 2) { fprintf(stderr, "usage: driver REQUEST\n"); return 2; }
    FILE *f = fopen(argv[1], "rb");
    if (!f) { perror(argv[1]); return 2; }
    uint32_t c[4];
    if (!rd(f, c, sizeof c)) { printf("error: short request\n"); return 0; }
    uint32_t nd = c[0], ni = c[1], no = c[2], nl = c[3];
    int64_t *dims = calloc(nd + 1, sizeof *dims);
    uint64_t *lens = calloc(nl + 1, sizeof *lens);
    const void **ins = calloc(ni + 1, sizeof *ins);
    void **outs = calloc(no + 1, sizeof *outs);
    if (!dims || !lens || !ins || !outs) { printf("error: out of memory\n"); return 0; }
    if (!rd(f, dims, nd * sizeof *dims) || !rd(f, lens, nl * sizeof *lens)) {
        printf("error: short request\n");
        return 0;
    }
    for (uint32_t i = 0; i < ni; i++) {
        uint64_t n;
        void *p;
        if (!rd(f, &n, sizeof n) || !(p = alloc64(n)) || !rd(f, p, (size_t)n)) {
            printf("error: short request\n");
            return 0;
        }
        ins[i] = p;
    }
    for (uint32_t i = 0; i < no; i++) {
        uint64_t n;
        if (!rd(f, &n, sizeof n) || !(outs[i] = alloc64(n))) {
            printf("error: short request\n");
            return 0;
        }
    }
    fclose(f);
    void *scratch = alloc64(nl ? lens[nl - 1] : 0);
#if KILN_BENCH_THREADS > 1
    if (kiln_pool_start(&pool, KILN_BENCH_THREADS) != 0) { printf("error: cannot start threads\n"); return 0; }
    par = kiln_pool_par(&pool);
#endif
    const int64_t *d = nd ? dims : NULL;
    uint64_t t0 = now_ns();
    int32_t st = CALL(d, ins, outs, scratch, lens);
    uint64_t one = now_ns() - t0;
    if (st != 0) { printf("error: status %d\n", (int)st); return 0; }
    t0 = now_ns();
    st = CALL(d, ins, outs, scratch, lens);
    one = now_ns() - t0;
    if (one == 0) one = 1;
    uint64_t reps = 20000 / one;
    if (reps < 1) reps = 1;
    if (reps > 100000) reps = 100000;
    printf("ready %llu\n", (unsigned long long)reps);
    fflush(stdout);
    char line[64];
    while (fgets(line, sizeof line, stdin)) {
        double ms = atof(line);
        uint64_t end = now_ns() + (uint64_t)(ms * 1e6);
        int first = 1;
        for (;;) {
            uint64_t a = now_ns();
            for (uint64_t r = 0; r < reps; r++) st |= CALL(d, ins, outs, scratch, lens);
            uint64_t b = now_ns();
            printf(first ? "%.1f" : " %.1f", (double)(b - a) / (double)reps);
            first = 0;
            if (b >= end) break;
        }
        printf("\n");
        fflush(stdout);
        if (st != 0) { printf("error: status %d\n", (int)st); return 0; }
    }
    return 0;
}
