/* linreg.c: model "linreg" compiled by Kiln. Generated: do not edit.
 * Entry: linreg_run (see linreg.h and the Kiln ABI). Self-contained C11: needs
 * neither linreg.h nor any Kiln file, only the kiln_shim library at link time and
 * the C math library (-lm).
 * Assumes a little-endian target with IEEE-754 float/double, 8-bit bytes, 32-bit int
 * and integer conversions that wrap (as gcc, clang and MSVC do), the default
 * floating-point rounding mode, and no floating-point contraction (set below). */
#include <stdint.h>
#include <string.h>
#include <math.h>

#if defined(__BYTE_ORDER__) && defined(__ORDER_LITTLE_ENDIAN__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "Kiln-generated C assumes a little-endian target"
#endif
#if defined(__clang__)
#pragma STDC FP_CONTRACT OFF
#pragma clang diagnostic ignored "-Wtautological-compare"
#elif defined(__GNUC__)
#pragma GCC optimize ("fp-contract=off")
#pragma GCC diagnostic ignored "-Wtype-limits"
#elif defined(_MSC_VER)
#pragma fp_contract (off)
#endif
/* The ISA the shim's kernels are chosen for: gcc/clang or MSVC (not ARM64EC) names */
#if defined(__x86_64__) || (defined(_M_X64) && !defined(_M_ARM64EC))
#define KILN_X86_64 1
#endif
#if (defined(__aarch64__) && defined(__ARM_NEON)) || defined(_M_ARM64)
#define KILN_NEON 1
#endif
_Static_assert(sizeof(int) == 4 && sizeof(float) == 4 && sizeof(double) == 8, "Kiln-generated C assumes 32-bit int and IEEE-754 float and double");

#ifndef KILN_PARALLEL_TYPE
#define KILN_PARALLEL_TYPE
typedef struct kiln_parallel {
    void (*run)(void *ctx, uint32_t n, void (*task)(void *arg, uint32_t i), void *arg);
    void *ctx;
    uint32_t threads;
} kiln_parallel;
#endif

/* kiln_shim f32 GEMM kernels (runtime-shim/src/gemm.rs): the same bits as the loops under #else */
void kiln_shim_sgemm_avx512(int64_t, int64_t, int64_t, const float *, int64_t, int64_t, const float *, int64_t, int64_t, const int64_t *, float *, int64_t, int32_t, const float *, const float *, int64_t, float, float, int64_t, int64_t, int64_t, int64_t, int32_t, int64_t, const kiln_parallel *);
void kiln_shim_sgemm_avx2(int64_t, int64_t, int64_t, const float *, int64_t, int64_t, const float *, int64_t, int64_t, const int64_t *, float *, int64_t, int32_t, const float *, const float *, int64_t, float, float, int64_t, int64_t, int64_t, int64_t, int32_t, int64_t, const kiln_parallel *);
void kiln_shim_sgemm_neon(int64_t, int64_t, int64_t, const float *, int64_t, int64_t, const float *, int64_t, int64_t, const int64_t *, float *, int64_t, int32_t, const float *, const float *, int64_t, float, float, int64_t, int64_t, int64_t, int64_t, int32_t, int64_t, const kiln_parallel *);
void kiln_shim_sgemm_x86_any(int64_t, int64_t, int64_t, const float *, int64_t, int64_t, const float *, int64_t, int64_t, const int64_t *, float *, int64_t, int32_t, const float *, const float *, int64_t, float, float, int64_t, int64_t, int64_t, int64_t, int32_t, int64_t, const kiln_parallel *);

static inline float kiln_from_bits_f32(uint32_t u) { float x; memcpy(&x, &u, sizeof x); return x; }
static inline float kiln_ld_f32(const uint8_t *p, int64_t i) { float v; memcpy(&v, p + i * (int64_t)sizeof v, sizeof v); return v; }
static inline void kiln_st_f32(uint8_t *p, int64_t i, float v) { memcpy(p + i * (int64_t)sizeof v, &v, sizeof v); }

/* 128 bytes of weights, little-endian */
static const _Alignas(64) unsigned char linreg_weights[128] =
    "\000\000\000\077\000\000\000\077\000\000\000\000\000\000\000\000\000\000\000\000\000\000\000\000\000\000\000\000\000\000\000\000\000\000\000\000\000\000\000\000\000\000\000\000\000\000\000\000\000\000\000\000\000\000\000\000\000\000\000\000\000\000\000\000"
    "\000\000\200\077\000\000\000\000\000\000\000\000\000\000\000\000\000\000\000\000\000\000\000\000\000\000\000\000\000\000\000\000\000\000\000\000\000\000\000\000\000\000\000\000\000\000\000\000\000\000\000\000\000\000\000\000\000\000\000\000\000\000\000\000";

/* kernel 0: linreg_check */
static int32_t linreg_k0(const int64_t *dims, const void *const *inputs, void *const *outputs, uint8_t *scratch, const uint64_t *lens, const kiln_parallel *par) {
    (void)dims; (void)inputs; (void)outputs; (void)scratch; (void)lens; (void)par;
    if (((uint8_t)(((uint8_t)(dims[0] < INT64_C(0))) | ((uint8_t)(dims[0] > INT64_C(2147483647)))))) {
        return 1;
    }
    if (((uint8_t)(((int64_t)lens[0]) < ((int64_t)(UINT64_C(2) * ((uint64_t)dims[0])))))) {
        return 2;
    }
    if (((uint8_t)(((int64_t)lens[1]) < dims[0]))) {
        return 2;
    }
    if (((uint8_t)(((int64_t)lens[2]) < ((int64_t)(UINT64_C(64) * ((uint64_t)dims[0])))))) {
        return 2;
    }
    return 0;
}

/* kernel 1: 0_matmul */
static int32_t linreg_k1(const int64_t *dims, const void *const *inputs, void *const *outputs, uint8_t *scratch, const uint64_t *lens, const kiln_parallel *par) {
    (void)dims; (void)inputs; (void)outputs; (void)scratch; (void)lens; (void)par;
    const float *b0 = (const float *)inputs[0]; /* X: f32 */
    const uint8_t *b1 = linreg_weights + 0; /* w: f32 */
    uint8_t *b3 = scratch + INT64_C(0); /* xw: f32 */
#if defined(KILN_X86_64) && defined(__AVX512F__) && !defined(KILN_NO_SGEMM_KERNEL)
    kiln_shim_sgemm_avx512(dims[0], INT64_C(1), INT64_C(2), (const float *)(const void *)b0 + (INT64_C(0)), INT64_C(2), INT64_C(1), (const float *)(const void *)b1 + (INT64_C(0)), INT64_C(1), INT64_C(1), (const int64_t *)0, (float *)(void *)b3 + (INT64_C(0)), INT64_C(1), 0, (const float *)0, (const float *)0, INT64_C(1), kiln_from_bits_f32(0xff800000u), kiln_from_bits_f32(0x7f800000u), INT64_C(1), INT64_C(0), INT64_C(0), INT64_C(0), 0, INT64_C(0), par);
#elif defined(KILN_X86_64) && defined(__AVX2__) && defined(__FMA__) && !defined(KILN_NO_SGEMM_KERNEL)
    kiln_shim_sgemm_avx2(dims[0], INT64_C(1), INT64_C(2), (const float *)(const void *)b0 + (INT64_C(0)), INT64_C(2), INT64_C(1), (const float *)(const void *)b1 + (INT64_C(0)), INT64_C(1), INT64_C(1), (const int64_t *)0, (float *)(void *)b3 + (INT64_C(0)), INT64_C(1), 0, (const float *)0, (const float *)0, INT64_C(1), kiln_from_bits_f32(0xff800000u), kiln_from_bits_f32(0x7f800000u), INT64_C(1), INT64_C(0), INT64_C(0), INT64_C(0), 0, INT64_C(0), par);
#elif defined(KILN_NEON) && !defined(KILN_NO_SGEMM_KERNEL)
    kiln_shim_sgemm_neon(dims[0], INT64_C(1), INT64_C(2), (const float *)(const void *)b0 + (INT64_C(0)), INT64_C(2), INT64_C(1), (const float *)(const void *)b1 + (INT64_C(0)), INT64_C(1), INT64_C(1), (const int64_t *)0, (float *)(void *)b3 + (INT64_C(0)), INT64_C(1), 0, (const float *)0, (const float *)0, INT64_C(1), kiln_from_bits_f32(0xff800000u), kiln_from_bits_f32(0x7f800000u), INT64_C(1), INT64_C(0), INT64_C(0), INT64_C(0), 0, INT64_C(0), par);
#elif defined(KILN_X86_64) && !defined(KILN_NO_SGEMM_KERNEL)
    kiln_shim_sgemm_x86_any(dims[0], INT64_C(1), INT64_C(2), (const float *)(const void *)b0 + (INT64_C(0)), INT64_C(2), INT64_C(1), (const float *)(const void *)b1 + (INT64_C(0)), INT64_C(1), INT64_C(1), (const int64_t *)0, (float *)(void *)b3 + (INT64_C(0)), INT64_C(1), 0, (const float *)0, (const float *)0, INT64_C(1), kiln_from_bits_f32(0xff800000u), kiln_from_bits_f32(0x7f800000u), INT64_C(1), INT64_C(0), INT64_C(0), INT64_C(0), 0, INT64_C(0), par);
#else
    {
        for (int64_t v0 = INT64_C(0), v0_end = dims[0]; v0 < v0_end; v0++) {
            int64_t v2 = v0;
            float v3 = 0x0p+0f;
            int64_t v4 = ((int64_t)(((uint64_t)v0) * UINT64_C(2)));
            for (int64_t v5 = INT64_C(0), v5_end = INT64_C(2); v5 < v5_end; v5++) {
                v3 = fmaf(b0[((int64_t)(((uint64_t)v4) + ((uint64_t)v5)))], kiln_ld_f32(b1, v5), v3);
            }
            kiln_st_f32(b3, v2, v3);
        }
    }
#endif
    return 0;
}

/* kernel 2: 1_add */
static int32_t linreg_k2(const int64_t *dims, const void *const *inputs, void *const *outputs, uint8_t *scratch, const uint64_t *lens, const kiln_parallel *par) {
    (void)dims; (void)inputs; (void)outputs; (void)scratch; (void)lens; (void)par;
    const uint8_t *b2 = linreg_weights + 64; /* b: f32 */
    uint8_t *b3 = scratch + INT64_C(0); /* xw: f32 */
    float *b4 = (float *)outputs[0]; /* y: f32 */
    for (int64_t v0 = INT64_C(0), v0_end = dims[0]; v0 < v0_end; v0++) {
        b4[v0] = (kiln_ld_f32(b3, v0) + kiln_ld_f32(b2, INT64_C(0)));
    }
    return 0;
}

int32_t linreg_run_parallel(const int64_t *dims, const void *const *inputs, void *const *outputs, void *scratch, const uint64_t *lens, const kiln_parallel *par);
int32_t linreg_run(const int64_t *dims, const void *const *inputs, void *const *outputs, void *scratch, const uint64_t *lens);
int32_t linreg_run(const int64_t *dims, const void *const *inputs, void *const *outputs, void *scratch, const uint64_t *lens) {
    return linreg_run_parallel(dims, inputs, outputs, scratch, lens, (const kiln_parallel *)0);
}

int32_t linreg_run_parallel(const int64_t *dims, const void *const *inputs, void *const *outputs, void *scratch, const uint64_t *lens, const kiln_parallel *par) {
    int32_t status;
    uint8_t *s = (uint8_t *)scratch;
    (void)linreg_weights;
    (void)s;
    if ((status = linreg_k0(dims, inputs, outputs, s, lens, par)) != 0) return status;
    if ((status = linreg_k1(dims, inputs, outputs, s, lens, par)) != 0) return status;
    if ((status = linreg_k2(dims, inputs, outputs, s, lens, par)) != 0) return status;
    (void)status;
    return 0;
}
