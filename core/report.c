/* report.c - misuse reports; see report.h. */
#include "core/report.h"

#include "core/os.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static uint64_t failed_writes;

void report_failed_write(void)
{
    __atomic_add_fetch(&failed_writes, 1, __ATOMIC_RELAXED);
}

uint64_t report_failed_writes(void)
{
    return __atomic_load_n(&failed_writes, __ATOMIC_RELAXED);
}

int report_output_fd(void)
{
    return 2;
}

/* One message, in one write so that lines from threads do not interleave. */
static void say(const char *msg, size_t len)
{
    int fd = report_output_fd();
    if (fd < 0 || os_write_all(fd, msg, len) != 0)
        report_failed_write();
}

void report_pointer(const char *what, const void *ptr)
{
    char msg[160] = "numa-alloc: ";
    size_t len = strlen(msg), what_len = strlen(what);
    if (what_len > sizeof msg - len - 24)
        what_len = sizeof msg - len - 24;
    memcpy(msg + len, what, what_len);
    len += what_len;
    memcpy(msg + len, ": 0x", 4);
    len += 4;
    uintptr_t v = (uintptr_t)ptr;
    for (int shift = 60; shift >= 0; shift -= 4)
        msg[len++] = "0123456789abcdef"[(v >> shift) & 15u];
    msg[len++] = '\n';
    msg[len] = '\0';
    say(msg, len);
}

void report_invalid_pointer(const char *what, const void *ptr)
{
    report_pointer(what, ptr);
    abort();
}

void report_warning(const char *msg)
{
    char line[640] = "numa-alloc: ";
    size_t len = strlen(line), msg_len = strlen(msg);
    if (msg_len > sizeof line - len - 2)
        msg_len = sizeof line - len - 2;
    memcpy(line + len, msg, msg_len);
    len += msg_len;
    line[len++] = '\n';
    say(line, len);
}

#ifdef NUMA_ALLOC_DEBUG /* NA_ASSERT's and the heap check's report: debug builds only */
static char *append_decimal(char *out, unsigned long v)
{
    char digits[24];
    int n = 0;
    do
        digits[n++] = (char)('0' + v % 10);
    while ((v /= 10) != 0);
    while (n > 0)
        *out++ = digits[--n];
    return out;
}

void report_assert_failed(const char *file, int line, const char *expr)
{
    char where[24];
    *append_decimal(where, line > 0 ? (unsigned long)line : 0) = '\0';
    os_write_stderr("numa-alloc: assertion failed: ");
    os_write_stderr(file);
    os_write_stderr(":");
    os_write_stderr(where);
    os_write_stderr(": ");
    os_write_stderr(expr);
    os_write_stderr("\n");
    abort();
}
#endif
