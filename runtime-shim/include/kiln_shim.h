/*
 * kiln_shim.h - C declarations of the Kiln runtime math shim (crate kiln-shim).
 *
 * Every Kiln backend calls these functions instead of the platform libm, so all backends
 * produce bit-identical results. f32 variants carry an `f` suffix. Keep in sync with
 * runtime-shim/src/lib.rs (checked by runtime-shim/tests/header.rs).
 */
#ifndef KILN_SHIM_H
#define KILN_SHIM_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define KILN_SHIM_ABI_VERSION 10u

/* The caller's parallel-for (runtime-shim/src/parallel.rs): run(ctx, n, task, arg) calls
 * task(arg, i) exactly once for every i in [0, n), on any threads, and returns when all have
 * returned; threads is the most parts a call is split into. Also defined by model headers. */
#ifndef KILN_PARALLEL_TYPE
#define KILN_PARALLEL_TYPE
typedef struct kiln_parallel {
    void (*run)(void *ctx, uint32_t n, void (*task)(void *arg, uint32_t i), void *arg);
    void *ctx;
    uint32_t threads;
} kiln_parallel;
#endif

uint32_t kiln_shim_abi_version(void);
float kiln_shim_expf(float);
double kiln_shim_exp(double);
float kiln_shim_logf(float);
double kiln_shim_log(double);
float kiln_shim_tanhf(float);
double kiln_shim_tanh(double);
float kiln_shim_powf(float, float);
double kiln_shim_pow(double, double);
float kiln_shim_erff(float);
double kiln_shim_erf(double);
float kiln_shim_sinf(float);
double kiln_shim_sin(double);
float kiln_shim_cosf(float);
double kiln_shim_cos(double);
float kiln_shim_tanf(float);
double kiln_shim_tan(double);
float kiln_shim_asinf(float);
double kiln_shim_asin(double);
float kiln_shim_acosf(float);
double kiln_shim_acos(double);
float kiln_shim_atanf(float);
double kiln_shim_atan(double);
float kiln_shim_sinhf(float);
double kiln_shim_sinh(double);
float kiln_shim_coshf(float);
double kiln_shim_cosh(double);
float kiln_shim_asinhf(float);
double kiln_shim_asinh(double);
float kiln_shim_acoshf(float);
double kiln_shim_acosh(double);
float kiln_shim_atanhf(float);
double kiln_shim_atanh(double);
float kiln_shim_fmodf(float, float);
double kiln_shim_fmod(double, double);
float kiln_shim_fmaf(float, float, float);
double kiln_shim_fma(double, double, double);

/* f32 GEMM used by generated code (see runtime-shim/src/gemm.rs for the contract):
 * C[i,j] = (accumulate ? C[i,j] : 0), then fma(A[i,p], B[p,j], C[i,j]) for p in order, with
 * A[i,p] = a[i*a_rs + p*a_cs], B[p,j] = b[p*b_rs + j*b_cs], C[i,j] = c[i*c_rs + j], then
 * + bias[i], + res[i*res_rs + j] (res_rs 0: a row vector for every row) and the lo/hi clamp.
 * Arguments: m, n, k, a, a_rs, a_cs, b, b_rs, b_cs, conv, c, c_rs, accumulate, bias, res,
 * res_rs, lo, hi, groups, a_gs, b_gs, c_gs, max, a_panel, par. AVX2 + FMA code on x86_64
 * (call it only on CPUs with both), plain loops elsewhere; the same bits either way. par is
 * NULL or the caller's parallel-for (kiln_parallel), over which a large call is split. */
void kiln_shim_sgemm_avx2(int64_t, int64_t, int64_t, const float *, int64_t, int64_t, const float *, int64_t, int64_t, const int64_t *, float *, int64_t, int32_t, const float *, const float *, int64_t, float, float, int64_t, int64_t, int64_t, int64_t, int32_t, int64_t, const kiln_parallel *);
/* The same with AVX-512F code on x86_64 (call it only on CPUs with AVX-512F). */
void kiln_shim_sgemm_avx512(int64_t, int64_t, int64_t, const float *, int64_t, int64_t, const float *, int64_t, int64_t, const int64_t *, float *, int64_t, int32_t, const float *, const float *, int64_t, float, float, int64_t, int64_t, int64_t, int64_t, int32_t, int64_t, const kiln_parallel *);
/* The same with NEON code on aarch64 (since ABI 5). */
void kiln_shim_sgemm_neon(int64_t, int64_t, int64_t, const float *, int64_t, int64_t, const float *, int64_t, int64_t, const int64_t *, float *, int64_t, int32_t, const float *, const float *, int64_t, float, float, int64_t, int64_t, int64_t, int64_t, int32_t, int64_t, const kiln_parallel *);
/* The same for any x86_64 CPU: the AVX-512F kernel, the AVX2 + FMA one or the plain loops,
 * chosen at run time from CPUID and XGETBV (read once); plain loops elsewhere (since ABI 9). */
void kiln_shim_sgemm_x86_any(int64_t, int64_t, int64_t, const float *, int64_t, int64_t, const float *, int64_t, int64_t, const int64_t *, float *, int64_t, int32_t, const float *, const float *, int64_t, float, float, int64_t, int64_t, int64_t, int64_t, int32_t, int64_t, const kiln_parallel *);

/* y[k] = kiln_shim_expf(x[k] - m) for k < n, bit for bit (x and y may be the same buffer):
 * AVX-512F code on x86_64 (call it only on CPUs with AVX-512F), the plain loop elsewhere. */
void kiln_shim_vexpf_sub_avx512(const float *, float *, int64_t, float);
/* y[k] = 1 / (1 + kiln_shim_expf(-x[k])) for k < n (Sigmoid), bit for bit (since ABI 5):
 * AVX-512F code on x86_64 (call it only on CPUs with AVX-512F), the plain loop elsewhere. */
void kiln_shim_vsigmoidf_avx512(const float *, float *, int64_t);
/* y[k] = kiln_shim_tanhf(x[k]) and y[k] = kiln_shim_erff(x[k]) for k < n, bit for bit
 * (since ABI 6): AVX-512F code on x86_64 (call them only on CPUs with AVX-512F), the plain
 * loops elsewhere. */
void kiln_shim_vtanhf_avx512(const float *, float *, int64_t);
void kiln_shim_verff_avx512(const float *, float *, int64_t);
/* The four functions above with AVX2 code on x86_64 (call them only on CPUs with AVX2), the
 * plain loops elsewhere; the same bits (since ABI 6). */
void kiln_shim_vexpf_sub_avx2(const float *, float *, int64_t, float);
void kiln_shim_vsigmoidf_avx2(const float *, float *, int64_t);
void kiln_shim_vtanhf_avx2(const float *, float *, int64_t);
void kiln_shim_verff_avx2(const float *, float *, int64_t);
/* The same four with NEON code on aarch64, the plain loops elsewhere; the same bits (since
 * ABI 8). */
void kiln_shim_vexpf_sub_neon(const float *, float *, int64_t, float);
void kiln_shim_vsigmoidf_neon(const float *, float *, int64_t);
void kiln_shim_vtanhf_neon(const float *, float *, int64_t);
void kiln_shim_verff_neon(const float *, float *, int64_t);
/* The same four for any x86_64 CPU: AVX-512F, AVX2 or the plain loops, chosen at run time
 * (CPUID, read once); the plain loops elsewhere (since ABI 9). */
void kiln_shim_vexpf_sub_x86_any(const float *, float *, int64_t, float);
void kiln_shim_vsigmoidf_x86_any(const float *, float *, int64_t);
void kiln_shim_vtanhf_x86_any(const float *, float *, int64_t);
void kiln_shim_verff_x86_any(const float *, float *, int64_t);

#ifdef __cplusplus
}
#endif

#endif /* KILN_SHIM_H */
