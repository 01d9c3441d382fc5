/*
 * parse.h - the one decimal parser of the library (sysfs and procfs files,
 * option values, file names), without libc's strtoul: no locale, no errno,
 * no leading spaces or sign, and a bound instead of wrapping around; and a
 * prefix test.
 */
#ifndef NUMA_ALLOC_PARSE_H
#define NUMA_ALLOC_PARSE_H

#include <stddef.h>
#include <stdint.h>

/*
 * Where `s` goes on after `prefix`, or NULL if it does not start with it.
 * A loop, not strncmp: start-up code uses it, see base/bytes.h.
 */
static inline const char *parse_skip(const char *s, const char *prefix)
{
    while (*prefix && *s == *prefix) {
        s++;
        prefix++;
    }
    return *prefix ? NULL : s;
}

/*
 * Reads the unsigned decimal number that s starts with (one digit or more,
 * leading zeros allowed, nothing skipped before it) into *out and returns
 * the first character after its digits. NULL, *out untouched, when s does
 * not start with a digit or the number exceeds max (any number of digits:
 * nothing overflows). What follows the digits is the caller's to check.
 */
static inline const char *parse_decimal(const char *s, uint64_t max, uint64_t *out)
{
    uint64_t v = 0;
    if (*s < '0' || *s > '9')
        return NULL;
    for (; *s >= '0' && *s <= '9'; s++) {
        unsigned digit = (unsigned)(*s - '0');
        if (digit > max || v > (max - digit) / 10u)
            return NULL;
        v = v * 10u + digit;
    }
    *out = v;
    return s;
}

#endif
