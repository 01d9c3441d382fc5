// cxx_stress.cpp - a multithreaded C++ workload for the real-program tests
// (run-cxx_stress.sh runs it with and without LD_PRELOAD=libnumapreload.so).
//
// 4 threads, each in rounds:
//   - builds std::string, std::vector, std::map and std::unordered_map objects
//     (many small allocations, reallocation by growth, node containers);
//   - allocates over-aligned objects: alignas(64), alignas(256) and
//     alignas(4096) types with new/new[], and raw ::operator new with
//     std::align_val_t, checking every alignment;
//   - hands a batch of heap objects to the next thread (a ring of mailboxes):
//     the receiving thread reads them, checks them and deletes them, so memory
//     is freed by another thread than the one that allocated it.
// Everything printed depends only on the data (never on addresses, timing or
// scheduling), so the output is the same with any correct allocator.
//
// Usage: cxx_stress [rounds]   (default 400). Exit status 0 on success; any
// failed check prints a message and exits 1.

#include <array>
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <new>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

namespace {

constexpr int kThreads = 4;

std::atomic<bool> g_failed{false};

void fail(const char *what, std::uint64_t a, std::uint64_t b)
{
    std::fprintf(stderr, "cxx_stress: FAILED: %s (%llu, %llu)\n", what,
                 static_cast<unsigned long long>(a), static_cast<unsigned long long>(b));
    g_failed.store(true);
    std::exit(1);
}

inline std::uint64_t mix(std::uint64_t h, std::uint64_t v)
{
    h ^= v + 0x9e3779b97f4a7c15ULL + (h << 6) + (h >> 2);
    return h * 0xff51afd7ed558ccdULL;
}

std::uint64_t hash_str(const std::string &s)
{
    std::uint64_t h = 1469598103934665603ULL;
    for (unsigned char c : s)
        h = (h ^ c) * 1099511628211ULL;
    return h;
}

template <std::size_t A> void check_align(const void *p, const char *what)
{
    if (reinterpret_cast<std::uintptr_t>(p) % A != 0)
        fail(what, reinterpret_cast<std::uintptr_t>(p), A);
}

struct alignas(64) Line {
    std::uint64_t v[8];
};
struct alignas(256) Block256 {
    std::uint64_t v[5];
};
struct alignas(4096) Page {
    std::uint64_t first;
    char body[5000];
    std::uint64_t last;
};

// What travels between threads: a heap object owning more heap objects.
struct Parcel {
    std::uint64_t seq;
    std::string text;
    std::vector<std::uint32_t> numbers;
    std::map<int, std::string> tree;
    std::unique_ptr<Line> line;
    std::unique_ptr<Page> page; // alignas(4096) through new
    std::uint64_t sum() const
    {
        std::uint64_t h = mix(seq, hash_str(text));
        for (auto n : numbers)
            h = mix(h, n);
        for (const auto &kv : tree)
            h = mix(mix(h, static_cast<std::uint64_t>(kv.first)), hash_str(kv.second));
        for (auto x : line->v)
            h = mix(h, x);
        if (page) {
            check_align<4096>(page.get(), "received Page alignment");
            if (page->first != seq || page->last != ~seq)
                fail("Page contents", page->first, seq);
            h = mix(h, static_cast<unsigned char>(page->body[seq % sizeof page->body]));
        }
        return h;
    }
};

struct Mailbox {
    std::mutex m;
    std::condition_variable cv;
    std::deque<std::vector<std::unique_ptr<Parcel>>> batches;
    int closed = 0;
};

std::array<Mailbox, kThreads> g_box;

std::unique_ptr<Parcel> make_parcel(int tid, std::uint64_t seq)
{
    auto p = std::make_unique<Parcel>();
    p->seq = seq;
    p->text = "parcel-" + std::to_string(tid) + "-" + std::to_string(seq);
    for (int i = 0; i < static_cast<int>(seq % 13); i++)
        p->text += std::string(1 + i * 7, static_cast<char>('a' + (seq + i) % 26));
    p->numbers.reserve(1);
    for (std::uint32_t i = 0; i < 10 + seq % 300; i++)
        p->numbers.push_back(static_cast<std::uint32_t>(seq * 2654435761u + i));
    for (int i = 0; i < static_cast<int>(seq % 17); i++)
        p->tree.emplace(static_cast<int>((seq * 31 + i * 7) % 101), std::string(20 + i * 3, 'x'));
    p->line.reset(new Line);
    check_align<64>(p->line.get(), "new Line (alignas 64)");
    for (int i = 0; i < 8; i++)
        p->line->v[i] = seq ^ (static_cast<std::uint64_t>(i) << 40);
    if (seq % 5 == 0) {
        p->page.reset(new Page);
        check_align<4096>(p->page.get(), "new Page (alignas 4096)");
        p->page->first = seq;
        p->page->last = ~seq;
        std::memset(p->page->body, static_cast<int>('A' + seq % 26), sizeof p->page->body);
    }
    return p;
}

// Local work of one round: containers and aligned objects allocated and
// freed by this thread.
std::uint64_t local_round(int tid, int round)
{
    std::uint64_t h = mix(static_cast<std::uint64_t>(tid), static_cast<std::uint64_t>(round));

    std::vector<std::string> words;
    for (int i = 0; i < 200; i++) {
        std::string w = "w" + std::to_string((round * 131 + i * 17 + tid) % 997);
        w.append(static_cast<std::size_t>((i * 13) % 90), static_cast<char>('a' + i % 26));
        words.push_back(std::move(w));
    }
    std::map<std::string, int> counts;
    std::unordered_map<std::string, std::vector<int>> where;
    for (int i = 0; i < static_cast<int>(words.size()); i++) {
        counts[words[i]]++;
        where[words[i].substr(0, 4)].push_back(i);
    }
    for (const auto &kv : counts)
        h = mix(mix(h, hash_str(kv.first)), static_cast<std::uint64_t>(kv.second));
    std::uint64_t uh = 0; // unordered_map iteration order is not portable: sum
    for (const auto &kv : where) {
        std::uint64_t e = hash_str(kv.first);
        for (int i : kv.second)
            e = mix(e, static_cast<std::uint64_t>(i));
        uh += e;
    }
    h = mix(h, uh);

    // Over-aligned arrays and objects.
    const std::size_t n64 = 1 + static_cast<std::size_t>(round % 37);
    std::unique_ptr<Line[]> lines(new Line[n64]);
    check_align<64>(lines.get(), "new Line[] (alignas 64)");
    std::unique_ptr<Block256[]> blocks(new Block256[3 + round % 5]);
    check_align<256>(blocks.get(), "new Block256[] (alignas 256)");
    for (std::size_t i = 0; i < n64; i++)
        lines[i].v[0] = i * 3 + static_cast<std::uint64_t>(round);
    for (int i = 0; i < 3 + round % 5; i++)
        blocks[i].v[4] = static_cast<std::uint64_t>(i + tid);
    h = mix(h, lines[n64 - 1].v[0] + blocks[2].v[4]);

    std::vector<std::unique_ptr<Page>> pages;
    for (int i = 0; i < 1 + round % 3; i++) {
        pages.emplace_back(new Page);
        check_align<4096>(pages.back().get(), "new Page (alignas 4096)");
        pages.back()->first = static_cast<std::uint64_t>(i);
    }
    h = mix(h, pages.size());

    // Raw aligned operator new / delete, several alignments and sizes.
    static const std::size_t aligns[] = {16, 32, 64, 128, 256, 512, 1024, 4096, 8192, 65536};
    for (std::size_t a : aligns) {
        std::size_t size = 1 + (static_cast<std::size_t>(round) * 977 + a) % 20000;
        void *p = ::operator new(size, std::align_val_t(a));
        if (reinterpret_cast<std::uintptr_t>(p) % a != 0)
            fail("operator new(size, align_val_t) alignment", reinterpret_cast<std::uintptr_t>(p),
                 a);
        std::memset(p, 0x5a, size);
        h = mix(h, static_cast<const unsigned char *>(p)[size - 1] + size);
        ::operator delete(p, size, std::align_val_t(a));
        void *q = ::operator new[](size / 2 + 1, std::align_val_t(a));
        if (reinterpret_cast<std::uintptr_t>(q) % a != 0)
            fail("operator new[](size, align_val_t) alignment", reinterpret_cast<std::uintptr_t>(q),
                 a);
        static_cast<char *>(q)[size / 2] = 1;
        ::operator delete[](q, std::align_val_t(a));
    }

    // A string grown by appends (realloc-like growth), then shrunk.
    std::string big;
    for (int i = 0; i < 300 + round % 200; i++)
        big += words[static_cast<std::size_t>(i) % words.size()];
    h = mix(h, hash_str(big));
    big.resize(big.size() / 3);
    big.shrink_to_fit();
    h = mix(h, hash_str(big));
    return h;
}

void worker(int tid, int rounds, std::uint64_t *result)
{
    std::uint64_t local = 0, received = 0, nreceived = 0;
    Mailbox &out = g_box[static_cast<std::size_t>((tid + 1) % kThreads)];
    Mailbox &in = g_box[static_cast<std::size_t>(tid)];
    for (int round = 0; round < rounds; round++) {
        local = mix(local, local_round(tid, round));

        std::vector<std::unique_ptr<Parcel>> batch;
        for (int i = 0; i < 8 + round % 9; i++)
            batch.push_back(make_parcel(tid, static_cast<std::uint64_t>(round) * 1000 +
                                                 static_cast<std::uint64_t>(i)));
        {
            std::lock_guard<std::mutex> lock(out.m);
            out.batches.push_back(std::move(batch));
        }
        out.cv.notify_one();

        // Drain what arrived so far (freed here, allocated by thread tid-1).
        std::deque<std::vector<std::unique_ptr<Parcel>>> got;
        {
            std::lock_guard<std::mutex> lock(in.m);
            got.swap(in.batches);
        }
        for (auto &b : got)
            for (auto &p : b) {
                received += p->sum(); // order independent: a sum
                nreceived++;
            }
    }
    {
        std::lock_guard<std::mutex> lock(out.m);
        out.closed = 1;
    }
    out.cv.notify_one();
    // Receive the rest until the sender closed its side.
    for (;;) {
        std::deque<std::vector<std::unique_ptr<Parcel>>> got;
        bool done;
        {
            std::unique_lock<std::mutex> lock(in.m);
            in.cv.wait(lock, [&] { return !in.batches.empty() || in.closed; });
            got.swap(in.batches);
            done = in.closed != 0;
        }
        for (auto &b : got)
            for (auto &p : b) {
                received += p->sum();
                nreceived++;
            }
        if (done) // the sender closed after its last batch, taken above
            break;
    }
    result[0] = local;
    result[1] = received;
    result[2] = nreceived;
}

} // namespace

int main(int argc, char **argv)
{
    int rounds = argc > 1 ? std::atoi(argv[1]) : 400;
    if (rounds <= 0) {
        std::fprintf(stderr, "usage: cxx_stress [rounds > 0]\n");
        return 2;
    }
    std::uint64_t results[kThreads][3] = {};
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; t++)
        threads.emplace_back(worker, t, rounds, results[t]);
    for (auto &th : threads)
        th.join();
    if (g_failed.load())
        return 1;

    std::uint64_t total = 0;
    for (int t = 0; t < kThreads; t++) {
        std::printf("thread %d: local %016llx received %016llx parcels %llu\n", t,
                    static_cast<unsigned long long>(results[t][0]),
                    static_cast<unsigned long long>(results[t][1]),
                    static_cast<unsigned long long>(results[t][2]));
        total = mix(mix(mix(total, results[t][0]), results[t][1]), results[t][2]);
    }
    std::printf("checksum %016llx\n", static_cast<unsigned long long>(total));
    return 0;
}
