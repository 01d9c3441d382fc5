/* options_probe.c - allocates through numa-alloc and prints what it got; run by test_options. */
#include "numa_alloc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(void)
{
    char *p = malloc(1000);
    char *big = malloc(5 << 20);
    if (!p || !big)
        return 2;
    memset(p, 1, 1000);
    memset(big, 1, 5 << 20);
    printf("ok node=%d\n", numa_ptr_node(p));
    free(p);
    free(big);
    return 0;
}
