/*
 * touch_and_drop MIB - maps MIB MiB, writes every page, gives them back
 * (madvise MADV_DONTNEED) and exits: a peak that a madvise lowers before the
 * exit, which a count taken at the exit alone misses (startup_run --peak; its
 * test in bench/CMakeLists.txt).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

int main(int argc, char **argv)
{
    long mib = argc > 1 ? atol(argv[1]) : 0;
    if (mib <= 0 || mib > 1024) {
        fprintf(stderr, "usage: touch_and_drop MIB (1..1024)\n");
        return 2;
    }
    size_t size = (size_t)mib << 20;
    char *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) {
        perror("touch_and_drop: mmap");
        return 1;
    }
    memset(p, 1, size);
    if (madvise(p, size, MADV_DONTNEED) != 0) {
        perror("touch_and_drop: madvise");
        return 1;
    }
    return p[0]; /* 0: the pages read back as zero */
}
