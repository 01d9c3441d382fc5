/*
 * string_shim.c - preloaded before the library by test_footprint.sh: the C
 * library's string functions the library imports, clock_gettime, and an
 * open of /proc/self/status through syscall(), each counting the calls that
 * come from libnumapreload (by return address). At exit it prints
 *
 *   string calls N [FUNCTION...]
 *
 * A program that calls none of them itself, such as `true`, must see N = 0:
 * start-up code calling them faults in libc text that such a program does not
 * have resident (base/bytes.h, base/vdso.h, docs/architecture.md,
 * *Footprint*), and the status file costs the kernel more than the one
 * get_mempolicy call that answers instead (policy/topology.c). Not linked
 * with the library; its own loops hide their pattern from the compiler, which
 * would turn them into calls to the functions they define.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#define KEEP(p) __asm__("" : : "r"(p) : "memory")

static unsigned calls;
static const char *names[16];

static void note(const char *name, void *from)
{
    Dl_info info;
    if (!dladdr(from, &info) || !info.dli_fname)
        return;
    for (const char *f = info.dli_fname; *f; f++) { /* "libnumapreload" in the path */
        const char *a = f, *b = "libnumapreload";
        while (*b && *a == *b) {
            a++;
            b++;
        }
        if (!*b) {
            if (calls < sizeof names / sizeof names[0])
                names[calls] = name;
            calls++;
            return;
        }
    }
}

#define NOTE(name) note(name, __builtin_return_address(0))

void *memset(void *d, int c, size_t n)
{
    NOTE("memset");
    for (size_t i = 0; i < n; i++) {
        ((unsigned char *)d)[i] = (unsigned char)c;
        KEEP(d);
    }
    return d;
}

void *memcpy(void *d, const void *s, size_t n)
{
    NOTE("memcpy");
    for (size_t i = 0; i < n; i++) {
        ((unsigned char *)d)[i] = ((const unsigned char *)s)[i];
        KEEP(d);
    }
    return d;
}

void *memmove(void *d, const void *s, size_t n)
{
    NOTE("memmove");
    unsigned char *dd = d;
    const unsigned char *ss = s;
    if (dd < ss)
        for (size_t i = 0; i < n; i++) {
            dd[i] = ss[i];
            KEEP(d);
        }
    else
        for (size_t i = n; i-- > 0;) {
            dd[i] = ss[i];
            KEEP(d);
        }
    return d;
}

int memcmp(const void *a, const void *b, size_t n)
{
    NOTE("memcmp");
    const unsigned char *x = a, *y = b;
    for (size_t i = 0; i < n; i++)
        if (x[i] != y[i])
            return x[i] - y[i];
    return 0;
}

size_t strlen(const char *s)
{
    NOTE("strlen");
    size_t n = 0;
    while (s[n])
        n++;
    return n;
}

size_t strnlen(const char *s, size_t max)
{
    NOTE("strnlen");
    size_t n = 0;
    while (n < max && s[n])
        n++;
    return n;
}

int strncmp(const char *a, const char *b, size_t n)
{
    NOTE("strncmp");
    for (size_t i = 0; i < n; i++)
        if (a[i] != b[i] || !a[i])
            return (unsigned char)a[i] - (unsigned char)b[i];
    return 0;
}

int strcmp(const char *a, const char *b)
{
    NOTE("strcmp");
    while (*a && *a == *b) {
        a++;
        b++;
    }
    return (unsigned char)*a - (unsigned char)*b;
}

char *strchr(const char *s, int c)
{
    NOTE("strchr");
    for (;; s++) {
        if (*s == (char)c)
            return (char *)s;
        if (!*s)
            return NULL;
    }
}

char *strrchr(const char *s, int c)
{
    NOTE("strrchr");
    const char *last = NULL;
    for (;; s++) {
        if (*s == (char)c)
            last = s;
        if (!*s)
            return (char *)last;
    }
}

char *strcpy(char *d, const char *s)
{
    NOTE("strcpy");
    size_t i = 0;
    do {
        d[i] = s[i];
        KEEP(d);
    } while (s[i++]);
    return d;
}

char *strstr(const char *h, const char *n)
{
    NOTE("strstr");
    for (; *h; h++) {
        size_t i = 0;
        while (n[i] && h[i] == n[i])
            i++;
        if (!n[i])
            return (char *)h;
    }
    return *n ? NULL : (char *)h;
}

/* The library reads its clocks in the vDSO (base/vdso.c): a call here is one through libc. */
int clock_gettime(clockid_t id, struct timespec *ts)
{
    NOTE("clock_gettime");
    return (int)syscall(SYS_clock_gettime, id, ts);
}

/* The system call itself, for syscall() below (x86-64; elsewhere the C library's). */
static long raw_syscall(long nr, const long *a)
{
#if defined(__x86_64__)
    register long r10 __asm__("r10") = a[3];
    register long r8 __asm__("r8") = a[4];
    register long r9 __asm__("r9") = a[5];
    long ret;
    __asm__ volatile("syscall"
                     : "=a"(ret)
                     : "a"(nr), "D"(a[0]), "S"(a[1]), "d"(a[2]), "r"(r10), "r"(r8), "r"(r9)
                     : "rcx", "r11", "memory");
    if (ret < 0 && ret > -4096) {
        errno = (int)-ret;
        return -1;
    }
    return ret;
#else
    long (*next)(long, ...) = (long (*)(long, ...))dlsym(RTLD_NEXT, "syscall");
    return next(nr, a[0], a[1], a[2], a[3], a[4], a[5]);
#endif
}

/* Same text as `want` (no libc call: this shim counts those). */
static int same(const char *s, const char *want)
{
    while (*want && *s == *want) {
        s++;
        want++;
    }
    return *s == *want;
}

long syscall(long nr, ...)
{
    long a[6];
    va_list ap;
    va_start(ap, nr);
    for (int i = 0; i < 6; i++)
        a[i] = va_arg(ap, long);
    va_end(ap);
    if (nr == SYS_openat && a[1] && same((const char *)a[1], "/proc/self/status"))
        NOTE("open:/proc/self/status");
    return raw_syscall(nr, a);
}

__attribute__((destructor(101))) static void report(void)
{
    char line[256] = "string calls ";
    size_t len = 13;
    char digits[12];
    int nd = 0;
    unsigned v = calls;
    do
        digits[nd++] = (char)('0' + v % 10);
    while ((v /= 10) && nd < 11);
    while (nd > 0)
        line[len++] = digits[--nd];
    for (unsigned i = 0; i < calls && i < sizeof names / sizeof names[0]; i++) {
        line[len++] = ' ';
        for (const char *p = names[i]; *p && len < sizeof line - 2; p++)
            line[len++] = *p;
    }
    line[len++] = '\n';
    (void)!write(STDERR_FILENO, line, len);
}
