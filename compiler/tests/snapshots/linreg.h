/* linreg.h: C interface of model "linreg", compiled by Kiln. Generated: do not edit.
 *
 * int32_t linreg_run(dims, inputs, outputs, scratch, lens) runs the model: dims holds the
 * 1 symbolic dimension values (may be NULL if there are none), inputs and outputs the
 * buffers (row-major, aligned to their element type), scratch linreg_scratch_size(dims)
 * bytes aligned to linreg_SCRATCH_ALIGN, lens the element count of every input then every
 * output, then the scratch size in bytes. It returns KILN_OK or a KILN_ERR_* status (then
 * the outputs are unspecified), after validating dims, then lengths, before computing.
 * It is re-entrant and thread-safe and allocates nothing. Booleans are uint8_t holding
 * 0 or 1.
 *
 * linreg_run_parallel(dims, inputs, outputs, scratch, lens, par) is the same with the
 * caller's parallel-for (kiln_parallel below; NULL runs on the calling thread): large
 * matrix products and convolutions are split over par->threads parts that par->run
 * may run on other threads (each needs about 70 KiB of stack). The results are the same
 * bits for every thread count. */
#ifndef KILN_H_linreg
#define KILN_H_linreg

#include <stdint.h>

/* The caller's parallel-for: run(ctx, n, task, arg) calls task(arg, i) exactly once for
 * every i in [0, n), on any threads and in any order, and returns when all have
 * returned (a plain loop is valid); threads is the most parts a call is split into. */
#ifndef KILN_PARALLEL_TYPE
#define KILN_PARALLEL_TYPE
typedef struct kiln_parallel {
    void (*run)(void *ctx, uint32_t n, void (*task)(void *arg, uint32_t i), void *arg);
    void *ctx;
    uint32_t threads;
} kiln_parallel;
#endif

#ifdef __cplusplus
extern "C" {
#endif

#ifndef KILN_STATUS_CODES
#define KILN_STATUS_CODES
#define KILN_OK 0         /* success */
#define KILN_ERR_DIM 1    /* a dim value is negative or above its NAME_DIM_MAX_<dim> */
#define KILN_ERR_LENGTH 2 /* a buffer is shorter than the model needs */
#define KILN_ERR_INDEX 3  /* an index taken from the data is out of range */
#define KILN_ERR_VALUE 4  /* another run-time value made the computation impossible */
#endif

#define linreg_NUM_INPUTS 1
#define linreg_NUM_OUTPUTS 1
#define linreg_NUM_DIMS 1
#define linreg_SCRATCH_ALIGN 64
#define linreg_DIM_N 0 /* symbolic dim "N" */
#define linreg_DIM_MAX_N INT64_C(2147483647)

/* input 0: "X", float (f32), shape [N, 2]: linreg_X_len(dims) elements */
static inline uint64_t linreg_X_len(const int64_t *dims) {
    (void)dims;
    return (uint64_t)((int64_t)(UINT64_C(2) * ((uint64_t)dims[0])));
}
/* output 0: "y", float (f32), shape [N]: linreg_y_len(dims) elements */
static inline uint64_t linreg_y_len(const int64_t *dims) {
    (void)dims;
    return (uint64_t)dims[0];
}
/* bytes of scratch needed (for dims in range) */
static inline uint64_t linreg_scratch_size(const int64_t *dims) {
    (void)dims;
    return (uint64_t)((int64_t)(UINT64_C(64) * ((uint64_t)dims[0])));
}

int32_t linreg_run(const int64_t *dims, const void *const *inputs, void *const *outputs, void *scratch, const uint64_t *lens);
int32_t linreg_run_parallel(const int64_t *dims, const void *const *inputs, void *const *outputs, void *scratch, const uint64_t *lens, const kiln_parallel *par);

/* linreg_run with one argument per dim, buffer and length. */
static inline int32_t linreg_infer(int64_t N, const float *X, uint64_t X_len, float *y, uint64_t y_len, void *scratch, uint64_t scratch_len) {
    const int64_t kiln_dims[1] = {N};
    const void *const kiln_inputs[1] = {X};
    void *const kiln_outputs[1] = {y};
    const uint64_t kiln_lens[3] = {X_len, y_len, scratch_len};
    return linreg_run(kiln_dims, kiln_inputs, kiln_outputs, scratch, kiln_lens);
}

#ifdef __cplusplus
}
#endif

#endif /* KILN_H_linreg */
