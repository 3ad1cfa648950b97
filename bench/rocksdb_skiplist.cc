// RocksDB's own memtable skiplist (SkipListRep over InlineSkipList, from Debian's librocksdb)
// driven through the README workload of bench/workload.ts, so the TypeScript path can be
// compared with the structure it rebuilds, in the same run:
//
//     bash bench/rocksdb_skiplist.sh [entries] [seed]      (builds, then runs)
//
// What it measures (one JSON line on stdout, the shape of bench/workload.ts's rows):
//   - put: each entry encoded the way RocksDB's MemTable::Add encodes it (varint32
//     internal-key length, user key, 8-byte trailer seq << 8 | type little-endian, varint32
//     value length, value) into `rep->Allocate()`, then `rep->InsertKey()`;
//   - get: `MemTableRep::Get()` with a LookupKey at the newest sequence and a callback that
//     does what RocksDB's SaveValue does for a Put (check the user key, read the tag, copy
//     the value out), the path RocksDB's MemTable::Get takes; every get must find its key
//     with the sequence it was written at and the exact value bytes;
//   - get of as many absent keys, one full ordered scan and 1000 range scans of 1000 entries
//     from seeks, through `rep->GetIterator()`;
//   - bytes per entry: the arena's blocks / entries (nativeBytesPerEntry, the skiplist's head
//     included) and the bytes handed out of them (arenaUsedBytesPerEntry).
//
// The workload is bench/workload.ts's, bit for bit: the same generator (mulberry32, as in
// tests/helpers.ts's Rng) and seed give the same 2n keys (keys n..2n-1 are the absent ones),
// then the same Fisher-Yates read order; every entry's value is the same 100 bytes 0..99,
// as workload.ts writes them, and entry i is written at sequence i + 1.
//
// The rep is created by the public `SkipListFactory::CreateMemTableRep`. What this file
// supplies itself, as RocksDB's MemTable does: the key comparator (RocksDB's
// BytewiseComparator on the user keys, then the trailer's sequence descending, like
// InternalKeyComparator::CompareKeySeq) and the allocator. RocksDB's Allocator interface
// (memory/allocator.h) is only forward-declared by the public headers, so it is declared
// here with the same virtual functions in the same order; the arena behind it is a plain
// bump allocator of 1 MiB blocks (RocksDB's memtable arena block size for a large write
// buffer), aligned allocations 16-byte aligned like RocksDB's Arena. It takes no lock,
// where a memtable's ConcurrentArena takes a spin lock per allocation: a small advantage to
// this side. LookupKey (db/lookup_key.h) is internal too: it is declared with the 7.8
// layout and built by librocksdb's own constructor.
#include <rocksdb/comparator.h>
#include <rocksdb/memtablerep.h>
#include <rocksdb/slice.h>
#include <rocksdb/types.h>

#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

namespace ROCKSDB_NAMESPACE {

// RocksDB 7.8's memory/allocator.h: the interface SkipListRep allocates through.
class Allocator {
 public:
  virtual ~Allocator() {}
  virtual char* Allocate(size_t bytes) = 0;
  virtual char* AllocateAligned(size_t bytes, size_t huge_page_size = 0,
                                Logger* logger = nullptr) = 0;
  virtual size_t BlockSize() const = 0;
};

// RocksDB 7.8's db/lookup_key.h: the layout SkipListRep::Get reads (memtable_key() is
// inline there: start_ to end_); the constructor is librocksdb's.
class LookupKey {
 public:
  LookupKey(const Slice& user_key, SequenceNumber sequence, const Slice* ts = nullptr);
  ~LookupKey() {
    if (start_ != space_) delete[] start_;
  }
  Slice memtable_key() const { return Slice(start_, static_cast<size_t>(end_ - start_)); }
  Slice user_key() const { return Slice(kstart_, static_cast<size_t>(end_ - kstart_ - 8)); }
  LookupKey(const LookupKey&) = delete;
  void operator=(const LookupKey&) = delete;

 private:
  const char* start_;
  const char* kstart_;
  const char* end_;
  char space_[200];
};
static_assert(sizeof(LookupKey) == 3 * sizeof(char*) + 200, "LookupKey layout of RocksDB 7.8");

}  // namespace ROCKSDB_NAMESPACE

namespace {

using ROCKSDB_NAMESPACE::Allocator;
using ROCKSDB_NAMESPACE::Logger;
using ROCKSDB_NAMESPACE::LookupKey;
using ROCKSDB_NAMESPACE::MemTableRep;
using ROCKSDB_NAMESPACE::Slice;

constexpr size_t key_size = 16;
constexpr size_t value_size = 100;
constexpr size_t range_length = 1000;
constexpr size_t range_scans = 1000;
constexpr uint8_t type_value = 0x1;                            // RocksDB's kTypeValue
constexpr uint64_t sequence_max = (uint64_t{1} << 56) - 1;     // RocksDB's kMaxSequenceNumber
constexpr size_t arena_block_size = 1 << 20;
constexpr size_t align_unit = alignof(std::max_align_t);       // RocksDB's Arena kAlignUnit

// The bump arena: aligned allocations from the front of the block, unaligned ones from the
// back (as RocksDB's Arena), anything over a quarter block in a block of its own.
class BumpArena final : public Allocator {
 public:
  ~BumpArena() override {
    for (char* b : blocks_) delete[] b;
  }
  char* Allocate(size_t bytes) override {
    if (bytes > remaining_) return Fallback(bytes);
    remaining_ -= bytes;
    return aligned_ptr_ + remaining_;
  }
  char* AllocateAligned(size_t bytes, size_t, Logger*) override {
    size_t mod = reinterpret_cast<uintptr_t>(aligned_ptr_) & (align_unit - 1);
    size_t slop = mod == 0 ? 0 : align_unit - mod;
    if (bytes + slop > remaining_) return Fallback(bytes);
    char* result = aligned_ptr_ + slop;
    aligned_ptr_ += bytes + slop;
    remaining_ -= bytes + slop;
    return result;
  }
  size_t BlockSize() const override { return arena_block_size; }
  size_t BytesAllocated() const { return bytes_allocated_; }
  size_t BytesUsed() const { return bytes_allocated_ - remaining_; }

 private:
  char* NewBlock(size_t bytes) {
    char* b = new char[bytes];  // operator new[] is 16-byte aligned on x86-64
    blocks_.push_back(b);
    bytes_allocated_ += bytes;
    return b;
  }
  // Returns an aligned allocation (good for either kind), starting a new block if it is small.
  char* Fallback(size_t bytes) {
    if (bytes > arena_block_size / 4) return NewBlock(bytes);
    aligned_ptr_ = NewBlock(arena_block_size);
    remaining_ = arena_block_size - bytes;
    char* result = aligned_ptr_;
    aligned_ptr_ += bytes;
    return result;
  }
  std::vector<char*> blocks_;
  char* aligned_ptr_ = nullptr;  // the next aligned byte; unaligned ones end at +remaining_
  size_t remaining_ = 0;
  size_t bytes_allocated_ = 0;
};

uint64_t DecodeFixed64(const char* p) {
  uint64_t v;
  std::memcpy(&v, p, 8);  // little-endian host (x86-64), as RocksDB's encoding
  return v;
}

char* EncodeVarint32(char* p, uint32_t v) {
  while (v >= 0x80) {
    *p++ = static_cast<char>(v | 0x80);
    v >>= 7;
  }
  *p++ = static_cast<char>(v);
  return p;
}

const char* DecodeVarint32(const char* p, uint32_t* v) {
  uint32_t result = 0;
  for (int shift = 0; shift <= 28; shift += 7) {
    uint32_t byte = static_cast<unsigned char>(*p++);
    result |= (byte & 0x7f) << shift;
    if ((byte & 0x80) == 0) break;
  }
  *v = result;
  return p;
}

size_t VarintLength(uint64_t v) {
  size_t len = 1;
  for (; v >= 0x80; v >>= 7) len++;
  return len;
}

// An entry's internal key (user key + trailer), from its length prefix.
Slice InternalKey(const char* entry) {
  uint32_t len;
  const char* p = DecodeVarint32(entry, &len);
  return Slice(p, len);
}

// RocksDB's MemTable::KeyComparator: user keys by the user comparator (bytewise here), then
// the sequence number descending.
class KeyComparator final : public MemTableRep::KeyComparator {
 public:
  int operator()(const char* a, const char* b) const override {
    return CompareKeySeq(InternalKey(a), InternalKey(b));
  }
  int operator()(const char* a, const Slice& b) const override {
    return CompareKeySeq(InternalKey(a), b);
  }

 private:
  int CompareKeySeq(const Slice& a, const Slice& b) const {
    int r = user_->Compare(Slice(a.data(), a.size() - 8), Slice(b.data(), b.size() - 8));
    if (r != 0) return r;
    uint64_t an = DecodeFixed64(a.data() + a.size() - 8) >> 8;
    uint64_t bn = DecodeFixed64(b.data() + b.size() - 8) >> 8;
    return an > bn ? -1 : an < bn ? 1 : 0;
  }
  const ROCKSDB_NAMESPACE::Comparator* user_ = ROCKSDB_NAMESPACE::BytewiseComparator();
};

// tests/helpers.ts's Rng (mulberry32), bit for bit.
class Rng {
 public:
  explicit Rng(uint32_t seed) : state_(seed) {}
  uint32_t U32() {
    uint32_t t = state_ += 0x6d2b79f5u;
    t = (t ^ (t >> 15)) * (t | 1);
    t ^= t + (t ^ (t >> 7)) * (t | 61);
    return t ^ (t >> 14);
  }
  // Math.floor((u32 / 2^32) * n) in doubles, as the TypeScript does.
  uint32_t Below(uint32_t n) {
    return static_cast<uint32_t>(std::floor(U32() / 4294967296.0 * static_cast<double>(n)));
  }

 private:
  uint32_t state_;
};

// What a get hands its callback, and what the callback found (RocksDB's Saver, for Puts).
struct Saver {
  Slice user_key;
  bool found = false;
  uint64_t sequence = 0;
  std::string value;
};

// RocksDB's SaveValue for the Put case: the first entry at or after the lookup key decides.
bool SaveValue(void* arg, const char* entry) {
  Saver* s = static_cast<Saver*>(arg);
  uint32_t key_length;
  const char* key = DecodeVarint32(entry, &key_length);
  if (Slice(key, key_length - 8) != s->user_key) return false;
  uint64_t tag = DecodeFixed64(key + key_length - 8);
  if ((tag & 0xff) == type_value) {
    uint32_t len;
    const char* v = DecodeVarint32(key + key_length, &len);
    s->value.assign(v, len);
    s->found = true;
    s->sequence = tag >> 8;
  }
  return false;
}

double Now() {
  return std::chrono::duration<double, std::nano>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

[[noreturn]] void Fail(const char* what, size_t i) {
  std::fprintf(stderr, "rocksdb_skiplist: %s (at %zu)\n", what, i);
  std::exit(1);
}

}  // namespace

int main(int argc, char** argv) {
  const size_t n = argc > 1 ? std::strtoull(argv[1], nullptr, 10) : 1000000;
  const uint32_t seed = argc > 2 ? static_cast<uint32_t>(std::strtoul(argv[2], nullptr, 10)) : 42;
  if (n == 0 || n > (size_t{1} << 30)) Fail("entries must be in 1..2^30", n);

  // bench/data.ts's makeKeys(2n, seed), then workload.ts's shuffle from the same generator.
  Rng rng(seed);
  std::vector<unsigned char> keys(2 * n * key_size);
  for (size_t b = 0; b < keys.size(); b += 4) {
    uint32_t r = rng.U32();
    for (int k = 0; k < 4; k++) keys[b + k] = static_cast<unsigned char>(r >> (8 * k));
  }
  auto key = [&](size_t i) {
    return Slice(reinterpret_cast<const char*>(&keys[i * key_size]), key_size);
  };
  std::vector<uint32_t> order(n);
  for (size_t i = 0; i < n; i++) order[i] = static_cast<uint32_t>(i);
  for (size_t i = n - 1; i > 0; i--) std::swap(order[i], order[rng.Below(static_cast<uint32_t>(i + 1))]);
  char value[value_size];
  for (size_t i = 0; i < value_size; i++) value[i] = static_cast<char>(i);

  KeyComparator cmp;
  BumpArena arena;
  ROCKSDB_NAMESPACE::SkipListFactory factory;
  std::unique_ptr<MemTableRep> rep(factory.CreateMemTableRep(cmp, &arena, nullptr, nullptr));

  // Put: MemTable::Add's encoding and insert.
  const uint32_t internal_key_size = key_size + 8;
  const size_t encoded_len = VarintLength(internal_key_size) + internal_key_size +
                             VarintLength(value_size) + value_size;
  double t0 = Now();
  for (size_t i = 0; i < n; i++) {
    char* buf = nullptr;
    ROCKSDB_NAMESPACE::KeyHandle handle = rep->Allocate(encoded_len, &buf);
    char* p = EncodeVarint32(buf, internal_key_size);
    std::memcpy(p, key(i).data(), key_size);
    p += key_size;
    uint64_t packed = (static_cast<uint64_t>(i + 1) << 8) | type_value;
    std::memcpy(p, &packed, 8);
    p += 8;
    p = EncodeVarint32(p, value_size);
    std::memcpy(p, value, value_size);
    if (!rep->InsertKey(handle)) Fail("InsertKey refused an entry (key and sequence exist)", i);
  }
  const double put_ns = Now() - t0;

  // Get: every stored key, in another random order, through MemTableRep::Get.
  size_t found_bytes = 0;
  uint64_t checksum = 0;
  t0 = Now();
  for (size_t j = 0; j < n; j++) {
    const size_t i = order[j];
    LookupKey lk(key(i), sequence_max);
    Saver s;
    s.user_key = lk.user_key();
    rep->Get(lk, &s, SaveValue);
    if (!s.found) Fail("a stored key was not found", i);
    if (s.sequence != i + 1) Fail("a get found the wrong sequence", i);
    if (s.value.size() != value_size || std::memcmp(s.value.data(), value, value_size) != 0) {
      Fail("a get found the wrong value bytes", i);
    }
    found_bytes += s.value.size();
    for (unsigned char c : s.value) checksum = checksum * 31 + c;
  }
  const double get_ns = Now() - t0;

  // Get of absent keys (n..2n-1).
  size_t miss_found = 0;
  t0 = Now();
  for (size_t j = 0; j < n; j++) {
    LookupKey lk(key(n + order[j]), sequence_max);
    Saver s;
    s.user_key = lk.user_key();
    rep->Get(lk, &s, SaveValue);
    miss_found += s.found ? 1 : 0;
  }
  const double miss_ns = Now() - t0;
  if (miss_found != 0) Fail("absent keys were found", miss_found);

  // One full ordered scan, counting entries with a non-empty value.
  std::unique_ptr<MemTableRep::Iterator> it(rep->GetIterator());
  size_t scanned = 0;
  std::string previous;
  t0 = Now();
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    Slice ik = InternalKey(it->key());
    uint32_t len;
    DecodeVarint32(ik.data() + ik.size(), &len);
    scanned += len > 0 ? 1 : 0;
  }
  const double scan_ns = Now() - t0;
  if (scanned != n) Fail("the scan saw a different number of entries", scanned);
  for (it->SeekToFirst(); it->Valid(); it->Next()) {  // untimed: the order is the comparator's
    Slice ik = InternalKey(it->key());
    std::string k(ik.data(), ik.size() - 8);
    if (!previous.empty() && previous >= k) Fail("the scan is not in ascending key order", 0);
    previous = std::move(k);
  }

  // Range scans: 1000 entries from seeks to stored keys, in the read order.
  const size_t scans = std::min(range_scans, n);
  size_t ranged = 0;
  t0 = Now();
  for (size_t j = 0; j < scans; j++) {
    LookupKey lk(key(order[j]), sequence_max);
    size_t c = 0;
    for (it->Seek(lk.user_key(), lk.memtable_key().data()); it->Valid() && c < range_length;
         it->Next()) {
      Slice ik = InternalKey(it->key());
      uint32_t len;
      DecodeVarint32(ik.data() + ik.size(), &len);
      c += len > 0 ? 1 : 0;
    }
    ranged += c;
  }
  const double range_ns = Now() - t0;
  it.reset();

  if (found_bytes != n * value_size) Fail("gets found a different number of value bytes", found_bytes);
  const double native_bytes = static_cast<double>(arena.BytesAllocated());
  const double used_bytes = static_cast<double>(arena.BytesUsed());
  std::printf(
      "{\"runtime\":\"c++\",\"impl\":\"rocksdb-skiplist\",\"n\":%zu,\"entries\":%zu,"
      "\"putNsPerOp\":%.1f,\"getNsPerOp\":%.1f,\"getMissNsPerOp\":%.1f,\"scanNsPerEntry\":%.1f,"
      "\"rangeUsPerScan\":%.1f,\"rangeEntries\":%zu,\"nativeBytesPerEntry\":%.1f,"
      "\"arenaUsedBytesPerEntry\":%.1f,"
      "\"valueBytesRead\":%zu,\"valueChecksum\":%llu}\n",
      n, scanned, put_ns / n, get_ns / n, miss_ns / n, scan_ns / n, range_ns / scans / 1000,
      ranged, native_bytes / n, used_bytes / n, found_bytes, static_cast<unsigned long long>(checksum));
  return 0;
}
