//! RocksDB's full filter for SST files, `rocksdb.BuiltinBloomFilter` as RocksDB 6.x and later
//! write it with format_version 5: the cache-line-local bloom filter of RocksDB's
//! `util/bloom_impl.h` (`FastLocalBloomImpl`), sized and finished as
//! `table/block_based/filter_policy.cc` does. A filter block is
//!
//!     bits[len] ‖ 0xFF ‖ 0x00 ‖ num_probes ‖ 0x00 ‖ 0x00
//!
//! `len` a multiple of 64 (one cache line). A key's hash `h` is XXPH3-64 of the user key
//! (`xxph3.zig`); its low 32 bits pick the cache line (`(lo × lines) >> 32`), its high 32 bits
//! the probes within it: `num_probes` times bit `x >> 23` of the line, `x *= 0x9E3779B9`.
//! The size is ⌈n · millibits / 8000⌉ bytes rounded up to a cache line, n the distinct
//! consecutive hashes (a hash equal to the one before it is added once, as RocksDB's builder
//! does); `num_probes` comes from the millibits per key alone (RocksDB without
//! `optimize_filters_for_memory`).
//!
//! Reading follows RocksDB's `BloomFilterPolicy::GetFilterBitsReader`: a block of at most 5
//! bytes matches nothing; a block whose metadata this code does not know (a legacy bloom, a
//! Ribbon filter, other cache-line sizes) matches everything, so it never hides a key.
//!
//! Pure functions and a builder owned by one thread at a time; no shared state.
const std = @import("std");
const xxph3 = @import("xxph3.zig");

const Allocator = std.mem.Allocator;

/// The metaindex name of the block (RocksDB's `fullfilter.` and the policy's compatibility name)
/// and the `rocksdb.filter.policy` property of a table that has one.
pub const meta_name = "fullfilter.rocksdb.BuiltinBloomFilter";
pub const policy_name = "bloomfilter";
/// The bytes after the bits: the marker of newer implementations, the sub-implementation
/// (0: this one), the probes (with the cache-line size in the top 3 bits: 0 = 64 bytes), and
/// two zero bytes.
pub const metadata_len = 5;
/// Probes stay within one cache line of this many bytes (RocksDB's only FastLocalBloom size).
pub const cache_line_len = 64;
/// RocksDB caps the bit array here (`FastLocalBloomBitsBuilder::CalculateSpace`): the largest
/// multiple of a cache line that a u32 length holds.
pub const bits_len_max: u64 = 0xffffffc0;
/// The millibits per key accepted: 1 bit per key (RocksDB raises less, but 0.5, to 1) up to
/// 100 (RocksDB lowers more to 100).
pub const millibits_per_key_min: u32 = 1000;
pub const millibits_per_key_max: u32 = 100_000;
/// The first metadata byte of a filter in this format (RocksDB writes it as `char(-1)`).
const marker_new_impl: u8 = 0xff;
/// The second: FastLocalBloom among the newer implementations.
const sub_impl_fast_local: u8 = 0;
/// Probes RocksDB reads (it writes at most 24).
const probes_read_max = 30;
/// Multiplying by this moves to the next probe (the 32-bit golden ratio).
const probe_step: u32 = 0x9E3779B9;

/// RocksDB's `FastLocalBloomImpl::ChooseNumProbes`: the most accurate probe count for the
/// millibits per key, from RocksDB's measurements of this implementation.
pub fn numProbes(millibits_per_key: u32) u32 {
    const m = millibits_per_key;
    if (m <= 2080) return 1;
    if (m <= 3580) return 2;
    if (m <= 5100) return 3;
    if (m <= 6640) return 4;
    if (m <= 8300) return 5;
    if (m <= 10070) return 6;
    if (m <= 11720) return 7;
    if (m <= 14001) return 8;
    if (m <= 16050) return 9;
    if (m <= 18300) return 10;
    if (m <= 22001) return 11;
    if (m <= 25501) return 12;
    if (m > 50000) return 24;
    return (m - 1) / 2000 - 1;
}

/// The bytes of the bit array for `entries` distinct hashes.
pub fn bitsLen(entries: u64, millibits_per_key: u32) u64 {
    std.debug.assert(millibits_per_key <= millibits_per_key_max);
    const raw = @min((entries * millibits_per_key + 7999) / 8000, bits_len_max);
    return (raw + cache_line_len - 1) & ~@as(u64, cache_line_len - 1);
}

/// The bytes of the filter block for `entries` distinct hashes (the metadata included).
pub fn filterLen(entries: u64, millibits_per_key: u32) u64 {
    return bitsLen(entries, millibits_per_key) + metadata_len;
}

/// A key's hash, as the filter adds and probes it.
pub fn keyHash(user_key: []const u8) u64 {
    return xxph3.hash64(user_key);
}

/// The byte offset of `h`'s cache line in a bit array of `bits_len` bytes (RocksDB's
/// `FastRange32` of the low half over the number of lines).
inline fn lineOf(h: u64, bits_len: u32) u32 {
    const lines: u64 = bits_len / cache_line_len;
    const lo: u64 = @as(u32, @truncate(h));
    return @intCast(((lo * lines) >> 32) * cache_line_len);
}

fn addHash(bits: []u8, h: u64, probes: u32) void {
    std.debug.assert(bits.len > 0 and bits.len % cache_line_len == 0);
    const line = bits[lineOf(h, @intCast(bits.len))..][0..cache_line_len];
    var x: u32 = @truncate(h >> 32);
    for (0..probes) |_| {
        const bit = x >> 23; // 9 bits: one of the line's 512
        line[bit >> 3] |= @as(u8, 1) << @intCast(bit & 7);
        x *%= probe_step;
    }
}

/// Writes the filter of `hashes` (in the order added, no hash equal to the one before it) into
/// `out`, which is `filterLen(hashes.len, millibits_per_key)` bytes.
pub fn build(out: []u8, hashes: []const u64, millibits_per_key: u32) void {
    buildWith(out, hashes.len, millibits_per_key, Native{ .items = hashes });
}

/// `build` for hashes stored as u64 little-endian bytes (8 per hash).
pub fn buildFromLittleEndian(out: []u8, hashes: []const u8, millibits_per_key: u32) void {
    std.debug.assert(hashes.len % 8 == 0);
    buildWith(out, hashes.len / 8, millibits_per_key, LittleEndian{ .bytes = hashes });
}

const Native = struct {
    items: []const u64,
    inline fn get(self: Native, i: usize) u64 {
        return self.items[i];
    }
};

const LittleEndian = struct {
    bytes: []const u8,
    inline fn get(self: LittleEndian, i: usize) u64 {
        return std.mem.readInt(u64, self.bytes[i * 8 ..][0..8], .little);
    }
};

fn buildWith(out: []u8, count: usize, millibits_per_key: u32, hashes: anytype) void {
    std.debug.assert(millibits_per_key >= millibits_per_key_min and millibits_per_key <= millibits_per_key_max);
    std.debug.assert(out.len == filterLen(count, millibits_per_key));
    const len = out.len - metadata_len;
    const probes = numProbes(millibits_per_key);
    @memset(out, 0);
    if (len > 0) for (0..count) |i| addHash(out[0..len], hashes.get(i), probes);
    out[len] = marker_new_impl;
    out[len + 1] = sub_impl_fast_local;
    out[len + 2] = @intCast(probes);
    std.debug.assert(out[len + 3] == 0 and out[len + 4] == 0);
}

/// What a filter block says, read from its metadata.
pub const Reader = union(enum) {
    /// Nothing was added (or the block is too short to hold anything): no key matches.
    none,
    /// A format this code does not probe: every key may match.
    all,
    /// A filter to probe: its bit array and probe count.
    bloom: struct { bits: []const u8, probes: u32 },

    pub fn init(block: []const u8) Reader {
        if (block.len <= metadata_len) return .none;
        const len = block.len - metadata_len;
        const meta = block[len..];
        if (meta[0] != marker_new_impl or meta[1] != sub_impl_fast_local) return .all;
        const log2_line = (meta[2] >> 5) + 6; // bytes per cache line, as a power of 2
        const probes = meta[2] & 31;
        if (probes < 1 or probes > probes_read_max or meta[3] != 0 or meta[4] != 0) return .all;
        if (log2_line != 6 or len % cache_line_len != 0) return .all;
        return .{ .bloom = .{ .bits = block[0..len], .probes = probes } };
    }

    /// Whether a key of hash `h` may have been added (false: it was not).
    pub fn mayMatchHash(self: Reader, h: u64) bool {
        return switch (self) {
            .none => false,
            .all => true,
            .bloom => |b| blk: {
                const line = b.bits[lineOf(h, @intCast(b.bits.len))..][0..cache_line_len];
                var x: u32 = @truncate(h >> 32);
                for (0..b.probes) |_| {
                    const bit = x >> 23;
                    if (line[bit >> 3] & (@as(u8, 1) << @intCast(bit & 7)) == 0) break :blk false;
                    x *%= probe_step;
                }
                break :blk true;
            },
        };
    }

    pub fn mayMatch(self: Reader, user_key: []const u8) bool {
        return self.mayMatchHash(keyHash(user_key));
    }
};

/// Collects the hashes of a table's user keys in the order they come and writes the filter
/// block (what RocksDB's `FullFilterBlockBuilder` with a FastLocalBloom builder does).
pub const Builder = struct {
    hashes: std.ArrayList(u64) = .empty,
    millibits_per_key: u32,

    pub fn init(millibits_per_key: u32) Builder {
        std.debug.assert(millibits_per_key >= millibits_per_key_min and millibits_per_key <= millibits_per_key_max);
        return .{ .millibits_per_key = millibits_per_key };
    }

    pub fn deinit(self: *Builder, gpa: Allocator) void {
        self.hashes.deinit(gpa);
    }

    /// Adds a user key; a key whose hash equals the last one's (the same key again) adds nothing.
    pub fn addKey(self: *Builder, gpa: Allocator, user_key: []const u8) error{OutOfMemory}!void {
        const h = keyHash(user_key);
        if (self.hashes.items.len > 0 and self.hashes.items[self.hashes.items.len - 1] == h) return;
        try self.hashes.append(gpa, h);
    }

    /// The distinct hashes added: RocksDB's `rocksdb.num.filter_entries`.
    pub fn entries(self: *const Builder) u64 {
        return self.hashes.items.len;
    }

    /// Appends the filter block's contents to `out`.
    pub fn finish(self: *const Builder, gpa: Allocator, out: *std.ArrayList(u8)) error{OutOfMemory}!void {
        const n: usize = @intCast(filterLen(self.hashes.items.len, self.millibits_per_key));
        const at = out.items.len;
        try out.resize(gpa, at + n);
        build(out.items[at..], self.hashes.items, self.millibits_per_key);
    }
};

const testing = std.testing;

test "numProbes follows RocksDB's table (10 bits per key: 6 probes)" {
    try testing.expectEqual(@as(u32, 6), numProbes(10_000));
    try testing.expectEqual(@as(u32, 5), numProbes(7_500));
    try testing.expectEqual(@as(u32, 1), numProbes(1_000));
    try testing.expectEqual(@as(u32, 12), numProbes(28_000));
    try testing.expectEqual(@as(u32, 13), numProbes(28_001));
    try testing.expectEqual(@as(u32, 23), numProbes(50_000));
    try testing.expectEqual(@as(u32, 24), numProbes(50_001));
}

test "filter sizes: RocksDB's 3003 keys at 10 bits per key take 3781 bytes" {
    try testing.expectEqual(@as(u64, 3781), filterLen(3003, 10_000));
    try testing.expectEqual(@as(u64, 1285), filterLen(1000, 10_000));
    try testing.expectEqual(@as(u64, 325), filterLen(300, 7_500));
    try testing.expectEqual(@as(u64, 64 + 5), filterLen(1, 10_000));
    try testing.expectEqual(@as(u64, 5), filterLen(0, 10_000));
}

test "a built filter finds every key it holds and few others; its metadata is RocksDB's" {
    const gpa = testing.allocator;
    var b = Builder.init(10_000);
    defer b.deinit(gpa);
    var key: [16]u8 = undefined;
    const n = 5000;
    for (0..n) |i| {
        const k = std.fmt.bufPrint(&key, "key{d:0>8}", .{i}) catch unreachable;
        try b.addKey(gpa, k);
        try b.addKey(gpa, k); // a second version of the key: added once
    }
    try testing.expectEqual(@as(u64, n), b.entries());
    var out: std.ArrayList(u8) = .empty;
    defer out.deinit(gpa);
    try b.finish(gpa, &out);
    const f = out.items;
    try testing.expectEqual(filterLen(n, 10_000), f.len);
    try testing.expectEqualSlices(u8, &.{ 0xff, 0, 6, 0, 0 }, f[f.len - 5 ..]);
    const r = Reader.init(f);
    try testing.expect(r == .bloom);
    for (0..n) |i| {
        const k = std.fmt.bufPrint(&key, "key{d:0>8}", .{i}) catch unreachable;
        try testing.expect(r.mayMatch(k));
    }
    var false_positives: usize = 0;
    for (n..2 * n) |i| {
        const k = std.fmt.bufPrint(&key, "key{d:0>8}", .{i}) catch unreachable;
        false_positives += @intFromBool(r.mayMatch(k));
    }
    // About 1% at 10 bits per key (RocksDB: 0.957%); a broken probe gives 0% or far more.
    try testing.expect(false_positives > 0 and false_positives < n / 40);
}

test "the reader refuses nothing: short blocks match nothing, unknown metadata everything" {
    try testing.expect(Reader.init("") == .none);
    try testing.expect(Reader.init(&.{ 0xff, 0, 6, 0, 0 }) == .none);
    var block: [64 + 5]u8 = @splat(0);
    block[64] = 0xff;
    block[66] = 6;
    try testing.expect(Reader.init(&block) == .bloom);
    try testing.expect(!Reader.init(&block).mayMatch("anything")); // no bit set
    block[66] = 0; // no probes
    try testing.expect(Reader.init(&block) == .all);
    block[66] = 6 | (1 << 5); // 128-byte lines
    try testing.expect(Reader.init(&block) == .all);
    block[66] = 6;
    block[65] = 1; // another sub-implementation
    try testing.expect(Reader.init(&block) == .all);
    block[65] = 0;
    block[64] = 0xfe; // Ribbon
    try testing.expect(Reader.init(&block) == .all);
    block[64] = 6; // a legacy bloom (its probes in the first byte)
    try testing.expect(Reader.init(&block) == .all);
    try testing.expect(Reader.init(&block).mayMatch("anything"));
}
