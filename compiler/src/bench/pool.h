/* A small thread pool implementing Kiln's parallel-for (kiln_parallel, docs/abi.md): the
 * pool `kiln bench --threads` and the test drivers hand to NAME_run_parallel, and an example
 * of what a caller writes. POSIX threads and C11 atomics.
 *
 * kiln_pool_start(&pool, threads) starts threads - 1 workers (the caller is the last one);
 * kiln_pool_par(&pool) gives the kiln_parallel to pass; kiln_pool_stop(&pool) joins them.
 * Each run publishes a job (task, arg, n) and a new generation; every worker copies the job,
 * takes indices from a shared counter until none is left, and reports that it is out of the
 * job; run returns when all tasks ran and every worker is out, so no worker ever reads a
 * job that is being replaced. Idle workers spin for a while (a model's next GEMM call is
 * usually microseconds away), then sleep on a condition variable. */
#ifndef KILN_POOL_H
#define KILN_POOL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#ifndef KILN_PARALLEL_TYPE
#define KILN_PARALLEL_TYPE
typedef struct kiln_parallel {
    void (*run)(void *ctx, uint32_t n, void (*task)(void *arg, uint32_t i), void *arg);
    void *ctx;
    uint32_t threads;
} kiln_parallel;
#endif

#define KILN_POOL_MAX 64
#define KILN_POOL_SPIN 200000

typedef struct kiln_pool {
    pthread_t workers[KILN_POOL_MAX];
    uint32_t nworkers;
    pthread_mutex_t mu;
    pthread_cond_t wake;
    atomic_uint gen;
    atomic_int quit;
    /* The job of generation `gen`: written before gen is bumped, read after. */
    void (*task)(void *arg, uint32_t i);
    void *arg;
    uint32_t n;
    atomic_uint next;
    atomic_uint out;
} kiln_pool;

static inline void kiln_pool_pause(void) {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    __asm__ __volatile__("yield");
#endif
}

static void kiln_pool_tasks(kiln_pool *p, void (*task)(void *, uint32_t), void *arg, uint32_t n) {
    for (;;) {
        uint32_t i = atomic_fetch_add(&p->next, 1);
        if (i >= n) return;
        task(arg, i);
    }
}

static void *kiln_pool_main(void *v) {
    kiln_pool *p = (kiln_pool *)v;
    unsigned seen = 0;
    for (;;) {
        unsigned g = atomic_load(&p->gen);
        for (long k = 0; g == seen && k < KILN_POOL_SPIN; k++) {
            kiln_pool_pause();
            g = atomic_load(&p->gen);
        }
        if (g == seen) {
            pthread_mutex_lock(&p->mu);
            while ((g = atomic_load(&p->gen)) == seen && !atomic_load(&p->quit))
                pthread_cond_wait(&p->wake, &p->mu);
            pthread_mutex_unlock(&p->mu);
        }
        if (atomic_load(&p->quit)) return NULL;
        seen = g;
        kiln_pool_tasks(p, p->task, p->arg, p->n);
        atomic_fetch_add(&p->out, 1);
    }
}

/* kiln_parallel.run */
static void kiln_pool_run(void *ctx, uint32_t n, void (*task)(void *, uint32_t), void *arg) {
    kiln_pool *p = (kiln_pool *)ctx;
    if (p->nworkers == 0 || n <= 1) {
        for (uint32_t i = 0; i < n; i++) task(arg, i);
        return;
    }
    p->task = task;
    p->arg = arg;
    p->n = n;
    atomic_store(&p->next, 0);
    atomic_store(&p->out, 0);
    pthread_mutex_lock(&p->mu);
    atomic_fetch_add(&p->gen, 1);
    pthread_cond_broadcast(&p->wake);
    pthread_mutex_unlock(&p->mu);
    kiln_pool_tasks(p, task, arg, n);
    while (atomic_load(&p->out) < p->nworkers) kiln_pool_pause();
}

/* Starts threads - 1 workers; returns 0, or -1 if a thread could not be created (the pool
 * then runs everything on the caller). */
static int kiln_pool_start(kiln_pool *p, uint32_t threads) {
    p->nworkers = 0;
    atomic_init(&p->gen, 0);
    atomic_init(&p->quit, 0);
    atomic_init(&p->next, 0);
    atomic_init(&p->out, 0);
    p->task = 0;
    p->arg = 0;
    p->n = 0;
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->wake, NULL);
    if (threads > KILN_POOL_MAX) threads = KILN_POOL_MAX;
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    /* The kernels use about 90 KiB of a worker's stack. */
    pthread_attr_setstacksize(&attr, 1 << 20);
    for (uint32_t i = 1; i < threads; i++) {
        if (pthread_create(&p->workers[p->nworkers], &attr, kiln_pool_main, p) != 0) {
            pthread_attr_destroy(&attr);
            return -1;
        }
        p->nworkers++;
    }
    pthread_attr_destroy(&attr);
    return 0;
}

static kiln_parallel kiln_pool_par(kiln_pool *p) {
    kiln_parallel par;
    par.run = kiln_pool_run;
    par.ctx = p;
    par.threads = p->nworkers + 1;
    return par;
}

static void kiln_pool_stop(kiln_pool *p) {
    pthread_mutex_lock(&p->mu);
    atomic_store(&p->quit, 1);
    pthread_cond_broadcast(&p->wake);
    pthread_mutex_unlock(&p->mu);
    for (uint32_t i = 0; i < p->nworkers; i++) pthread_join(p->workers[i], NULL);
    p->nworkers = 0;
}

#endif
