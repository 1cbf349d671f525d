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

#define KILN_SHIM_ABI_VERSION 1u

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

#ifdef __cplusplus
}
#endif

#endif /* KILN_SHIM_H */
