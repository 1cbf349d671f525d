/* A C program that links two models compiled by Kiln (object files + the runtime shim) and
 * runs them on their test inputs: linreg_seed (symbolic N) and mlp_mnist (symbolic batch).
 * Inputs and expected outputs are .npy files written by run.sh from the models' test data.
 * Prints the outputs and the largest difference from the expected values; exits 1 if any
 * difference exceeds the tolerance. Everything is allocated by the caller: Kiln's code does
 * not allocate. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "linreg_seed.h"
#include "mlp_mnist.h"

typedef struct {
    float *data;
    int64_t shape[8];
    int rank;
    uint64_t len;
} array;

/* Minimal .npy reader: little-endian float32, C order (what run.sh writes). */
static int load_npy(const char *dir, const char *name, array *a) {
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "rb");
    if (!f) { perror(path); return -1; }
    unsigned char magic[10];
    if (fread(magic, 1, 10, f) != 10 || memcmp(magic, "\x93NUMPY", 6) != 0 || magic[6] != 1) {
        fprintf(stderr, "%s: not a version 1 .npy file\n", path);
        fclose(f);
        return -1;
    }
    size_t hlen = (size_t)magic[8] | ((size_t)magic[9] << 8);
    char header[65536];
    if (hlen >= sizeof header || fread(header, 1, hlen, f) != hlen) { fclose(f); return -1; }
    header[hlen] = 0;
    if (!strstr(header, "'<f4'") || strstr(header, "'fortran_order': True")) {
        fprintf(stderr, "%s: expected float32 in C order\n", path);
        fclose(f);
        return -1;
    }
    const char *s = strstr(header, "'shape': (");
    if (!s) { fclose(f); return -1; }
    s += strlen("'shape': (");
    a->rank = 0;
    a->len = 1;
    while (*s && *s != ')' && a->rank < 8) {
        char *end;
        long long v = strtoll(s, &end, 10);
        if (end == s) break;
        a->shape[a->rank++] = v;
        a->len *= (uint64_t)v;
        s = end;
        while (*s == ',' || *s == ' ') s++;
    }
    a->data = malloc(a->len * sizeof(float) + 1);
    if (!a->data || fread(a->data, sizeof(float), a->len, f) != a->len) { fclose(f); return -1; }
    fclose(f);
    return 0;
}

static double report(const char *model, const float *got, const array *want, int64_t cols) {
    double worst = 0.0;
    printf("%s:\n", model);
    for (uint64_t i = 0; i < want->len; i++) {
        double d = fabs((double)got[i] - (double)want->data[i]);
        double tol = 1e-5 + 1e-3 * fabs((double)want->data[i]);
        if (d / tol > worst) worst = d / tol;
        printf(" %9.6f", got[i]);
        if ((int64_t)(i + 1) % cols == 0) printf("\n");
    }
    return worst;
}

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: %s DATA_DIR\n", argv[0]);
        return 2;
    }
    const char *dir = argv[1];
    array lx, ly, mx, my;
    if (load_npy(dir, "linreg_x.npy", &lx) || load_npy(dir, "linreg_y.npy", &ly) ||
        load_npy(dir, "mlp_x.npy", &mx) || load_npy(dir, "mlp_y.npy", &my))
        return 2;

    /* linreg_seed: X is (N, 2), predictions (N). */
    int64_t N = lx.shape[0];
    int64_t dims_l[linreg_seed_NUM_DIMS > 0 ? linreg_seed_NUM_DIMS : 1] = {N};
    uint64_t scratch_l = linreg_seed_scratch_size(dims_l);
    void *scratch = aligned_alloc(64, scratch_l ? (scratch_l + 63) / 64 * 64 : 64);
    float *pred = malloc((size_t)N * sizeof(float));
    int32_t st = linreg_seed_infer(N, lx.data, lx.len, pred, (uint64_t)N, scratch, scratch_l);
    if (st != KILN_OK) { fprintf(stderr, "linreg_seed failed: status %d\n", st); return 1; }
    double w1 = report("linreg_seed predictions", pred, &ly, 1);

    /* A wrong length is refused, not overrun. */
    int32_t short_st = linreg_seed_infer(N, lx.data, lx.len - 1, pred, (uint64_t)N, scratch, scratch_l);
    printf("short input buffer -> status %d (expected %d)\n", short_st, KILN_ERR_LENGTH);
    free(scratch);

    /* mlp_mnist: input (batch, 784), output (batch, 10). */
    int64_t B = mx.shape[0];
    int64_t dims_m[mlp_mnist_NUM_DIMS > 0 ? mlp_mnist_NUM_DIMS : 1] = {B};
    uint64_t scratch_m = mlp_mnist_scratch_size(dims_m);
    scratch = aligned_alloc(64, scratch_m ? (scratch_m + 63) / 64 * 64 : 64);
    float *out = malloc((size_t)B * 10 * sizeof(float));
    st = mlp_mnist_infer(B, mx.data, mx.len, out, (uint64_t)B * 10, scratch, scratch_m);
    if (st != KILN_OK) { fprintf(stderr, "mlp_mnist failed: status %d\n", st); return 1; }
    double w2 = report("mlp_mnist output", out, &my, 10);
    free(scratch);

    int ok = w1 <= 1.0 && w2 <= 1.0 && short_st == KILN_ERR_LENGTH;
    printf("%s\n", ok ? "OK: outputs match the reference" : "MISMATCH");
    return ok ? 0 : 1;
}
