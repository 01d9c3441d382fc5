/* libc_heap.c - glibc's allocator, for when numa-alloc could not start; see libc_heap.h. */
#define _GNU_SOURCE
#include "core/libc_heap.h"

#include "base/lock.h"
#include "base/os.h"
#include "base/parse.h"
#include "core/layout.h"

#include <dlfcn.h>
#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>

/*
 * glibc's implementations of the malloc family, under its __libc_ names
 * (GLIBC_2.2.5, x86-64). Not referenced by name: the library exports those
 * names itself (interpose/malloc.c), so a reference would find ours. They
 * are looked up once, when the start fails (libc_heap_init), with their
 * version, which no name of ours has (a versioned lookup skips an
 * unversioned definition), among the definitions after ours (RTLD_NEXT);
 * dlvsym allocates nothing when it finds them. It is weak: in a static program
 * (libnumapreload.a) it is absent, as is a C library to ask, and the blocks
 * come from mmap_heap below.
 */
extern void *dlvsym(void *handle, const char *name, const char *version) __attribute__((weak));

static struct {
    void *(*malloc)(size_t size);
    void *(*calloc)(size_t count, size_t size);
    void *(*realloc)(void *ptr, size_t size);
    void *(*memalign)(size_t alignment, size_t size);
    void (*free)(void *ptr);
} glibc; /* all set, or all NULL; written once, before glibc_found is */

static na_lock_t glibc_lock = NA_LOCK_INIT;
static int glibc_looked_up, glibc_found; /* under glibc_lock, read with acquire */

#define GLIBC_VERSION "GLIBC_2.2.5"

static void *glibc_function(const char *name)
{
    return dlvsym(RTLD_NEXT, name, GLIBC_VERSION);
}

static void look_up_glibc(void)
{
    if (!dlvsym)
        return;
    void *found[] = {glibc_function("__libc_malloc"), glibc_function("__libc_calloc"),
                     glibc_function("__libc_realloc"), glibc_function("__libc_memalign"),
                     glibc_function("__libc_free")};
    for (size_t i = 0; i < sizeof found / sizeof found[0]; i++)
        if (!found[i])
            return; /* not glibc: the mappings below serve */
    /* POSIX's dlsym contract: a data pointer converts to a function pointer. */
    memcpy(&glibc.malloc, &found[0], sizeof found[0]);
    memcpy(&glibc.calloc, &found[1], sizeof found[1]);
    memcpy(&glibc.realloc, &found[2], sizeof found[2]);
    memcpy(&glibc.memalign, &found[3], sizeof found[3]);
    memcpy(&glibc.free, &found[4], sizeof found[4]);
    __atomic_store_n(&glibc_found, 1, __ATOMIC_RELEASE);
}

/*
 * Where glibc's main arena grows (brk): from the kernel's start of the brk
 * heap (/proc/self/stat's start_brk, field 47, read with glibc's functions)
 * to the program break now. Nothing of ours lies there (the heaps map). 0:
 * not known (no /proc), and no block is taken for glibc's.
 */
static uintptr_t brk_start;

#define STAT_START_BRK_FIELD 47

static uintptr_t read_brk_start(void)
{
    char stat[1024];
    if (os_read_file("/proc/self/stat", stat, sizeof stat) <= 0)
        return 0;
    const char *s = strrchr(stat, ')'); /* the command, which may hold anything, ends there */
    if (!s)
        return 0;
    for (unsigned field = 2; field < STAT_START_BRK_FIELD; field++) {
        s = strchr(s, ' ');
        if (!s)
            return 0;
        s++;
    }
    uint64_t at;
    return parse_decimal(s, UINTPTR_MAX, &at) ? (uintptr_t)at : 0;
}

void libc_heap_init(void)
{
    if (__atomic_load_n(&glibc_looked_up, __ATOMIC_ACQUIRE))
        return;
    na_lock(&glibc_lock);
    if (!glibc_looked_up) {
        look_up_glibc();
        brk_start = read_brk_start();
        __atomic_store_n(&glibc_looked_up, 1, __ATOMIC_RELEASE);
    }
    na_unlock(&glibc_lock);
}

/* glibc's blocks are at least this aligned (MALLOC_ALIGNMENT on x86-64). */
#define LIBC_MIN_ALIGNMENT 16

static bool have_libc_heap(void)
{
    return __atomic_load_n(&glibc_found, __ATOMIC_ACQUIRE) != 0;
}

/*
 * The static program's last resort: a mapping per block, the two words
 * before the block holding the mapping's start and length. Slow and a page
 * per block at least, but correct at any page size and under any limit
 * that leaves room for the blocks themselves: only a failed start uses it.
 */
struct mmap_block {
    void *base;
    size_t length;
};

static struct mmap_block *mmap_header(const void *ptr)
{
    return (struct mmap_block *)ptr - 1;
}

static void *mmap_heap_alloc(size_t size, size_t alignment)
{
    if (alignment < LIBC_MIN_ALIGNMENT)
        alignment = LIBC_MIN_ALIGNMENT;
    size_t extra = sizeof(struct mmap_block) + alignment;
    if (size > SIZE_MAX / 4 || alignment > SIZE_MAX / 4) {
        errno = ENOMEM;
        return NULL;
    }
    size_t length = size + extra;
    void *base = mmap(NULL, length, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (base == MAP_FAILED) {
        errno = ENOMEM;
        return NULL;
    }
    uintptr_t start =
        ((uintptr_t)base + sizeof(struct mmap_block) + alignment - 1) & ~(uintptr_t)(alignment - 1);
    *mmap_header((void *)start) = (struct mmap_block){base, length};
    return (void *)start; /* fresh anonymous memory: already zero */
}

static size_t mmap_heap_usable_size(const void *ptr)
{
    const struct mmap_block *block = mmap_header(ptr);
    return (size_t)((const char *)block->base + block->length - (const char *)ptr);
}

static void mmap_heap_free(void *ptr)
{
    struct mmap_block block = *mmap_header(ptr);
    munmap(block.base, block.length);
}

void *libc_heap_alloc(size_t size, size_t alignment, bool zero)
{
    if (!have_libc_heap())
        return mmap_heap_alloc(size, alignment);
    if (alignment <= LIBC_MIN_ALIGNMENT)
        return zero ? glibc.calloc(1, size) : glibc.malloc(size);
    void *ptr = glibc.memalign(alignment, size);
    if (ptr && zero)
        memset(ptr, 0, size);
    return ptr;
}

void libc_heap_free(void *ptr)
{
    if (have_libc_heap())
        glibc.free(ptr);
    else if (ptr)
        mmap_heap_free(ptr);
}

void *libc_heap_realloc(void *ptr, size_t size)
{
    if (have_libc_heap())
        return glibc.realloc(ptr, size);
    if (!ptr)
        return mmap_heap_alloc(size, 0);
    if (size == 0) {
        mmap_heap_free(ptr);
        return NULL;
    }
    size_t old = mmap_heap_usable_size(ptr);
    if (size <= old)
        return ptr;
    void *moved = mmap_heap_alloc(size, 0);
    if (moved) {
        memcpy(moved, ptr, old);
        mmap_heap_free(ptr);
    }
    return moved;
}

/*
 * glibc exports no __libc_ name for malloc_usable_size, and its public name
 * resolves to ours: read the chunk header as glibc's musable() does
 * (malloc/malloc.c; the layout has not changed since glibc 2.0). The size
 * word precedes the block, its low 3 bits are flags. An mmapped chunk
 * (bit 1) has two header words of overhead; any other chunk one, and it is
 * in use when the next chunk's PREV_INUSE bit (bit 0) is set.
 */
#define CHUNK_PREV_INUSE ((size_t)1)
#define CHUNK_IS_MMAPPED ((size_t)2)
#define CHUNK_FLAG_BITS  ((size_t)7)

/*
 * A block of glibc's reaches us from a library that called glibc's malloc
 * (RTLD_DEEPBIND, the constructors of one). It is taken for glibc's only when
 * its header says which of glibc's three kinds of chunk it is and where that
 * kind lives agrees: a chunk of the main arena in the brk heap, a chunk glibc
 * mapped on its own, or a chunk of a thread arena's heap. Anything else is
 * left alone: glibc's free would abort on it, or unmap memory not its own.
 */
#define CHUNK_NON_MAIN_ARENA ((size_t)4)
#define CHUNK_HEADER_BYTES   (2 * sizeof(size_t))

/* A main-arena chunk in use, in the brk heap [brk_start, now), whose pages are all mapped. */
static bool main_arena_chunk_in_use(uintptr_t at, uintptr_t now)
{
    size_t header = ((const size_t *)at)[-1], chunk = header & ~CHUNK_FLAG_BITS;
    if ((header & (CHUNK_IS_MMAPPED | CHUNK_NON_MAIN_ARENA)) || chunk < 2 * CHUNK_HEADER_BYTES ||
        chunk % LIBC_MIN_ALIGNMENT || chunk > now - at)
        return false;
    return (*(const size_t *)(at + chunk - sizeof(size_t)) & CHUNK_PREV_INUSE) != 0;
}

/*
 * A chunk glibc mapped on its own (over its mmap threshold): prev_size is
 * the gap from the mapping's start, which with the chunk's size spans whole
 * pages, all mapped, none of the region's. These are the checks glibc's
 * free makes before it unmaps (munmap_chunk), and one it does not.
 */
static bool mapped_chunk(uintptr_t at, size_t prev_size, size_t header)
{
    size_t page = os_page_size(), chunk = header & ~CHUNK_FLAG_BITS;
    uintptr_t offset = at & (page - 1);
    if ((header & CHUNK_NON_MAIN_ARENA) || chunk < page || prev_size > at - CHUNK_HEADER_BYTES ||
        chunk > SIZE_MAX - prev_size || (offset & (offset - 1)))
        return false;
    uintptr_t start = at - CHUNK_HEADER_BYTES - prev_size;
    size_t length = prev_size + chunk;
    if ((start | length) & (page - 1) || length > UINTPTR_MAX - start)
        return false;
    if (start < na_region.base + na_region.size && na_region.base < start + length)
        return false;
    return os_range_mapped((const void *)start, length);
}

/*
 * A thread arena's memory is heaps of at most 64 MiB (HEAP_MAX_SIZE), each
 * aligned to that size and headed by a heap_info whose first words have kept
 * this layout since glibc 2.3; the first heap of an arena (prev NULL) holds
 * the arena itself right after its heap_info (32 bytes, 48 since glibc 2.35).
 * glibc's tunable glibc.malloc.hugetlb shrinks the heaps: no block is then
 * taken for a thread arena's (the arena check fails).
 */
#define GLIBC_HEAP_MAX_SIZE    ((uintptr_t)64 << 20)
#define GLIBC_HEAP_INFO_OLD    32
#define GLIBC_HEAP_INFO_235    48
#define GLIBC_HEAP_CHAIN_LIMIT 4096 /* 256 GiB in one arena */

struct glibc_heap_info {
    uintptr_t arena, prev;
    size_t size; /* bytes of the heap in use, from its start */
};

static bool thread_arena_chunk_in_use(uintptr_t at, size_t header)
{
    uintptr_t chunk_at = at - CHUNK_HEADER_BYTES, heap = chunk_at & ~(GLIBC_HEAP_MAX_SIZE - 1);
    size_t chunk = header & ~CHUNK_FLAG_BITS, next_header;
    struct glibc_heap_info info;
    if (chunk < 2 * CHUNK_HEADER_BYTES || chunk % LIBC_MIN_ALIGNMENT || heap == 0 ||
        chunk_at < heap + GLIBC_HEAP_INFO_OLD ||
        !os_read_memory((const void *)heap, &info, sizeof info) || info.size > GLIBC_HEAP_MAX_SIZE)
        return false;
    uintptr_t heap_end = heap + info.size; /* the next chunk's header lies before it */
    if (chunk_at >= heap_end || heap_end - chunk_at < chunk + CHUNK_HEADER_BYTES ||
        !os_read_memory((const void *)(chunk_at + chunk + sizeof(size_t)), &next_header,
                        sizeof next_header) ||
        !(next_header & CHUNK_PREV_INUSE))
        return false;
    uintptr_t arena = info.arena;
    for (unsigned i = 0; i < GLIBC_HEAP_CHAIN_LIMIT; i++) {
        if (!info.prev) /* the arena's first heap */
            return arena == heap + GLIBC_HEAP_INFO_OLD || arena == heap + GLIBC_HEAP_INFO_235;
        heap = info.prev;
        if (heap & (GLIBC_HEAP_MAX_SIZE - 1) ||
            !os_read_memory((const void *)heap, &info, sizeof info) || info.arena != arena)
            return false;
    }
    return false;
}

bool libc_heap_owns(const void *ptr)
{
    uintptr_t at = (uintptr_t)ptr, now;
    if (at % LIBC_MIN_ALIGNMENT || at < CHUNK_HEADER_BYTES)
        return false;
    libc_heap_init();
    if (!have_libc_heap())
        return false;
    if (brk_start && at >= brk_start + CHUNK_HEADER_BYTES && at < (now = os_program_break()))
        return main_arena_chunk_in_use(at, now);
    size_t header[2]; /* prev_size, size */
    if (!os_read_memory((const char *)ptr - CHUNK_HEADER_BYTES, header, sizeof header))
        return false;
    if (header[1] & CHUNK_IS_MMAPPED)
        return mapped_chunk(at, header[0], header[1]);
    if (header[1] & CHUNK_NON_MAIN_ARENA)
        return thread_arena_chunk_in_use(at, header[1]);
    return false;
}

size_t libc_heap_usable_size(const void *ptr)
{
    if (!ptr)
        return 0;
    if (!have_libc_heap())
        return mmap_heap_usable_size(ptr);
    size_t header = ((const size_t *)ptr)[-1];
    size_t chunk = header & ~CHUNK_FLAG_BITS;
    if (header & CHUNK_IS_MMAPPED)
        return chunk - 2 * sizeof(size_t);
    const size_t *next_header = (const size_t *)((const char *)ptr - sizeof(size_t) + chunk);
    return (*next_header & CHUNK_PREV_INUSE) ? chunk - sizeof(size_t) : 0;
}
