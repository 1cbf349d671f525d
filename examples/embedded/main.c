/* A bare-metal program for a Cortex-M4F microcontroller (thumbv7em-none-eabihf): two models
 * compiled by Kiln to C (`kiln compile --emit c --target thumbv7em-none-eabihf`), linked
 * with the runtime shim built for the same triple (`kiln shim --target ...`, no_std) and
 * newlib. No heap: inputs, outputs and scratch are static arrays. The test inputs and
 * expected outputs come from testdata.h, written by build.sh from the models' test data.
 *
 * Output goes through ARM semihosting (newlib's rdimon), e.g. to a debugger; main returns 0
 * when every output matches the reference. On a real board, link with the board's memory
 * map (a linker script) instead of newlib's default. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>

#include "linreg_seed.h"
#include "mlp_mnist.h"
#include "testdata.h"

/* Scratch for the larger of the two models at the test batch sizes (checked below). */
static uint8_t scratch[16384] __attribute__((aligned(64)));
static float linreg_out[LINREG_N];
static float mlp_out[MLP_BATCH * 10];

static int compare(const char *name, const float *got, const float *want, int n) {
    float worst = 0.0f;
    for (int i = 0; i < n; i++) {
        float d = fabsf(got[i] - want[i]);
        float tol = 1e-6f + 1e-4f * fabsf(want[i]);
        if (!(d <= tol)) {
            printf("%s: element %d is %g, expected %g\n", name, i, (double)got[i], (double)want[i]);
            return 1;
        }
        if (d > worst) worst = d;
    }
    printf("%s: %d outputs match the reference (max abs diff %g)\n", name, n, (double)worst);
    return 0;
}

int main(void) {
    int bad = 0;
    int64_t dims[1] = {LINREG_N};
    if (linreg_seed_scratch_size(dims) > sizeof scratch) return 2;
    int32_t st = linreg_seed_infer(LINREG_N, linreg_x, linreg_seed_X_len(dims), linreg_out,
                                   linreg_seed_predictions_len(dims), scratch, sizeof scratch);
    if (st != KILN_OK) { printf("linreg_seed: status %d\n", (int)st); return 1; }
    bad |= compare("linreg_seed", linreg_out, linreg_y, LINREG_N);

    dims[0] = MLP_BATCH;
    if (mlp_mnist_scratch_size(dims) > sizeof scratch) return 2;
    st = mlp_mnist_infer(MLP_BATCH, mlp_x, mlp_mnist_input_len(dims), mlp_out,
                         mlp_mnist_output_len(dims), scratch, sizeof scratch);
    if (st != KILN_OK) { printf("mlp_mnist: status %d\n", (int)st); return 1; }
    bad |= compare("mlp_mnist", mlp_out, mlp_y, MLP_BATCH * 10);
    printf(bad ? "embedded: MISMATCH\n" : "embedded: OK\n");
    return bad;
}
