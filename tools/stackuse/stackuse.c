/* Stack high-water mark of one inference: runs NAME_run (compiled with --name m) on a thread
 * whose stack is painted with 0xA5 and counts the bytes that changed. Static-shape models
 * only (dims = NULL), with NIN inputs and NOUT outputs of at most 4 Mi elements each (zeros).
 *
 *   kiln compile MODEL.onnx --name m -o DIR && kiln shim -o SHIM
 *   cc -O2 -DNIN=1 -DNOUT=1 -IDIR tools/stackuse/stackuse.c DIR/m.o SHIM/libkiln_shim.a \
 *      -lm -lpthread -o stackuse && ./stackuse
 */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "m.h"
#define STK (4u << 20)
static unsigned char *stk;
static int32_t rc;
static void *go(void *a) {
    (void)a;
    static float in[NIN][1 << 22], out[NOUT][1 << 22];
    const void *ins[NIN]; void *outs[NOUT]; uint64_t lens[NIN + NOUT + 1];
    for (int i = 0; i < NIN; i++) { ins[i] = in[i]; lens[i] = 1 << 22; }
    for (int i = 0; i < NOUT; i++) { outs[i] = out[i]; lens[NIN + i] = 1 << 22; }
    uint64_t ss = m_scratch_size(0);
    void *scratch = aligned_alloc(64, (ss + 63) / 64 * 64 + 64);
    lens[NIN + NOUT] = ss;
    rc = m_run(0, ins, outs, scratch, lens);
    return 0;
}
int main(void) {
    stk = aligned_alloc(4096, STK);
    memset(stk, 0xA5, STK);
    pthread_attr_t at; pthread_attr_init(&at);
    pthread_attr_setstack(&at, stk, STK);
    pthread_t t; pthread_create(&t, &at, go, 0); pthread_join(t, 0);
    size_t i = 0; while (i < STK && stk[i] == 0xA5) i++;
    printf("status %d, stack used %zu bytes (%.1f KiB)\n", rc, STK - i, (STK - i) / 1024.0);
    return 0;
}
