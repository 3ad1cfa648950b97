//! The hash of RocksDB's full filters: XXPH3, the 2019 preview of XXH3 (xxHash 0.7.2) that
//! RocksDB keeps as `util/xxph3.h` and calls through `Hash64`/`GetSliceHash64` with seed 0.
//! It differs from released XXH3 (`std.hash.XxHash3`, which RocksDB uses for block checksums)
//! at every length, and RocksDB changed its empty-input case (a hash of the secret, not 0).
//! Only the seed-0, default-secret variant is here: nothing else reads or writes filters.
//!
//! Pure functions; no state; any thread.
const std = @import("std");

const prime32_1: u64 = 0x9E3779B1;
const prime32_2: u64 = 0x85EBCA77;
const prime32_3: u64 = 0xC2B2AE3D;
const prime64_1: u64 = 0x9E3779B185EBCA87;
const prime64_2: u64 = 0xC2B2AE3D27D4EB4F;
const prime64_3: u64 = 0x165667B19E3779F9;
const prime64_4: u64 = 0x85EBCA77C2B2AE63;
const prime64_5: u64 = 0x27D4EB2F165667C5;

/// XXPH3's default secret (192 bytes).
const secret = [192]u8{
    0xb8, 0xfe, 0x6c, 0x39, 0x23, 0xa4, 0x4b, 0xbe, 0x7c, 0x01, 0x81, 0x2c, 0xf7, 0x21, 0xad, 0x1c,
    0xde, 0xd4, 0x6d, 0xe9, 0x83, 0x90, 0x97, 0xdb, 0x72, 0x40, 0xa4, 0xa4, 0xb7, 0xb3, 0x67, 0x1f,
    0xcb, 0x79, 0xe6, 0x4e, 0xcc, 0xc0, 0xe5, 0x78, 0x82, 0x5a, 0xd0, 0x7d, 0xcc, 0xff, 0x72, 0x21,
    0xb8, 0x08, 0x46, 0x74, 0xf7, 0x43, 0x24, 0x8e, 0xe0, 0x35, 0x90, 0xe6, 0x81, 0x3a, 0x26, 0x4c,
    0x3c, 0x28, 0x52, 0xbb, 0x91, 0xc3, 0x00, 0xcb, 0x88, 0xd0, 0x65, 0x8b, 0x1b, 0x53, 0x2e, 0xa3,
    0x71, 0x64, 0x48, 0x97, 0xa2, 0x0d, 0xf9, 0x4e, 0x38, 0x19, 0xef, 0x46, 0xa9, 0xde, 0xac, 0xd8,
    0xa8, 0xfa, 0x76, 0x3f, 0xe3, 0x9c, 0x34, 0x3f, 0xf9, 0xdc, 0xbb, 0xc7, 0xc7, 0x0b, 0x4f, 0x1d,
    0x8a, 0x51, 0xe0, 0x4b, 0xcd, 0xb4, 0x59, 0x31, 0xc8, 0x9f, 0x7e, 0xc9, 0xd9, 0x78, 0x73, 0x64,
    0xea, 0xc5, 0xac, 0x83, 0x34, 0xd3, 0xeb, 0xc3, 0xc5, 0x81, 0xa0, 0xff, 0xfa, 0x13, 0x63, 0xeb,
    0x17, 0x0d, 0xdd, 0x51, 0xb7, 0xf0, 0xda, 0x49, 0xd3, 0x16, 0x55, 0x26, 0x29, 0xd4, 0x68, 0x9e,
    0x2b, 0x16, 0xbe, 0x58, 0x7d, 0x47, 0xa1, 0xfc, 0x8f, 0xf8, 0xb8, 0xd1, 0x7a, 0xd0, 0x31, 0xce,
    0x45, 0xcb, 0x3a, 0x8f, 0x95, 0x16, 0x04, 0x28, 0xaf, 0xd7, 0xfb, 0xca, 0xbb, 0x4b, 0x40, 0x7e,
};

/// Bytes of input per stripe of the long-input loop, and secret bytes each stripe moves on.
const stripe_len = 64;
const secret_consume_rate = 8;
/// Inputs longer than this take the long-input loop (XXPH3_MIDSIZE_MAX).
const midsize_max = 240;

fn r32(b: []const u8, at: usize) u64 {
    return std.mem.readInt(u32, b[at..][0..4], .little);
}

fn r64(b: []const u8, at: usize) u64 {
    return std.mem.readInt(u64, b[at..][0..8], .little);
}

/// The 128-bit product of a and b, its halves xored.
fn fold64(a: u64, b: u64) u64 {
    const p = @as(u128, a) * b;
    return @as(u64, @truncate(p)) ^ @as(u64, @truncate(p >> 64));
}

fn avalanche(h0: u64) u64 {
    var h = h0 ^ (h0 >> 37);
    h *%= prime64_3;
    return h ^ (h >> 32);
}

fn mix16(input: []const u8, at: usize, secret_at: usize) u64 {
    return fold64(r64(input, at) ^ r64(&secret, secret_at), r64(input, at + 8) ^ r64(&secret, secret_at + 8));
}

fn upTo16(b: []const u8) u64 {
    const n = b.len;
    if (n > 8) {
        const lo = r64(b, 0) ^ r64(&secret, 0);
        const hi = r64(b, n - 8) ^ r64(&secret, 8);
        return avalanche(@as(u64, n) +% lo +% hi +% fold64(lo, hi));
    }
    if (n >= 4) {
        const keyed = (r32(b, 0) | (r32(b, n - 4) << 32)) ^ r64(&secret, 0);
        const mixed = @as(u64, n) +% (keyed ^ (keyed >> 51)) *% prime32_1;
        return avalanche((mixed ^ (mixed >> 47)) *% prime64_2);
    }
    if (n > 0) {
        const combined: u64 = @as(u64, b[0]) | (@as(u64, b[n >> 1]) << 8) | (@as(u64, b[n - 1]) << 16) | (@as(u64, n) << 24);
        return avalanche((combined ^ r32(&secret, 0)) *% prime64_1);
    }
    return fold64(r64(&secret, 0), prime64_2); // RocksDB's change: not 0 for empty input
}

fn upTo128(b: []const u8) u64 {
    const n = b.len;
    var acc: u64 = @as(u64, n) *% prime64_1;
    if (n > 32) {
        if (n > 64) {
            if (n > 96) {
                acc +%= mix16(b, 48, 96);
                acc +%= mix16(b, n - 64, 112);
            }
            acc +%= mix16(b, 32, 64);
            acc +%= mix16(b, n - 48, 80);
        }
        acc +%= mix16(b, 16, 32);
        acc +%= mix16(b, n - 32, 48);
    }
    acc +%= mix16(b, 0, 0);
    acc +%= mix16(b, n - 16, 16);
    return avalanche(acc);
}

fn upTo240(b: []const u8) u64 {
    const n = b.len;
    var acc: u64 = @as(u64, n) *% prime64_1;
    var i: usize = 0;
    while (i < 8) : (i += 1) acc +%= mix16(b, 16 * i, 16 * i);
    acc = avalanche(acc);
    while (i < n / 16) : (i += 1) acc +%= mix16(b, 16 * i, 16 * (i - 8) + 3);
    acc +%= mix16(b, n - 16, 136 - 17);
    return avalanche(acc);
}

/// One 64-byte stripe into the accumulators (the 64-bit-accumulator variant).
fn accumulate512(acc: *[8]u64, input: []const u8, secret_at: usize) void {
    for (acc, 0..) |*a, i| {
        const data = r64(input, 8 * i);
        const key = data ^ r64(&secret, secret_at + 8 * i);
        a.* +%= data;
        a.* +%= (key & 0xFFFF_FFFF) * (key >> 32);
    }
}

fn scramble(acc: *[8]u64) void {
    for (acc, 0..) |*a, i| {
        var x = a.* ^ (a.* >> 47);
        x ^= r64(&secret, secret.len - stripe_len + 8 * i);
        a.* = x *% prime32_1;
    }
}

fn long(b: []const u8) u64 {
    std.debug.assert(b.len > midsize_max);
    var acc = [8]u64{ prime32_3, prime64_1, prime64_2, prime64_3, prime64_4, prime32_2, prime64_5, prime32_1 };
    const rounds = (secret.len - stripe_len) / secret_consume_rate;
    const block_len = stripe_len * rounds;
    const blocks = b.len / block_len;
    var at: usize = 0;
    for (0..blocks) |_| {
        for (0..rounds) |s| accumulate512(&acc, b[at + s * stripe_len ..], s * secret_consume_rate);
        scramble(&acc);
        at += block_len;
    }
    const stripes = (b.len - at) / stripe_len;
    for (0..stripes) |s| accumulate512(&acc, b[at + s * stripe_len ..], s * secret_consume_rate);
    if (b.len % stripe_len != 0) accumulate512(&acc, b[b.len - stripe_len ..], secret.len - stripe_len - 7);
    var result: u64 = @as(u64, b.len) *% prime64_1;
    for (0..4) |i| {
        result +%= fold64(acc[2 * i] ^ r64(&secret, 11 + 16 * i), acc[2 * i + 1] ^ r64(&secret, 11 + 16 * i + 8));
    }
    return avalanche(result);
}

/// RocksDB's `Hash64(bytes, len, 0)`: XXPH3-64 with seed 0 and the default secret.
pub fn hash64(b: []const u8) u64 {
    if (b.len <= 16) return upTo16(b);
    if (b.len <= 128) return upTo128(b);
    if (b.len <= midsize_max) return upTo240(b);
    return long(b);
}

/// The test input of length n: byte i is (i * 31 + n) mod 256 (as the fixtures' generator).
fn testKey(buf: []u8, n: usize) []const u8 {
    for (buf[0..n], 0..) |*c, i| c.* = @truncate(i * 31 + n);
    return buf[0..n];
}

test "hash64 is RocksDB's Hash64 (librocksdb 7.8.3) at every input size class" {
    var buf: [600]u8 = undefined;
    // From tests/fixtures/filters/hash_vectors.json (gen_filters.cc against librocksdb).
    const cases = [_]struct { n: usize, h: u64 }{
        .{ .n = 0, .h = 0x5342c3010fe1dd04 },
        .{ .n = 1, .h = 0xc913a720a2324df4 },
        .{ .n = 3, .h = 0xf9bb2b56da901033 },
        .{ .n = 4, .h = 0xf915ddbe8afe0c7c },
        .{ .n = 8, .h = 0x6160be29311caf7d },
        .{ .n = 9, .h = 0xddd9d6c2f6f5d10c },
        .{ .n = 16, .h = 0x21502554b6c54d8a },
        .{ .n = 17, .h = 0x8e05c4f55cb6b4b7 },
        .{ .n = 33, .h = 0x17e3f40b4d63f93c },
        .{ .n = 65, .h = 0x04fb17eaa6c03030 },
        .{ .n = 100, .h = 0x47ebd861ab2b737f },
        .{ .n = 128, .h = 0x3304356a081e6f8f },
        .{ .n = 129, .h = 0x60630e426fcf92d8 },
        .{ .n = 200, .h = 0xa6fe18fe09ca1611 },
        .{ .n = 240, .h = 0x66b960e005a92de9 },
        .{ .n = 241, .h = 0xc88819340e98c88b },
        .{ .n = 255, .h = 0x7fd353415c0efad4 },
        .{ .n = 256, .h = 0x8fd1908ccea8e54e },
        .{ .n = 300, .h = 0x342caf7490f3d1f0 },
        .{ .n = 447, .h = 0x5d1432dc6c860b6a },
        .{ .n = 448, .h = 0xd072b07f94392434 },
        .{ .n = 511, .h = 0x268974f42e9c7899 },
        .{ .n = 512, .h = 0x0e4893d30aed17ad },
        .{ .n = 600, .h = 0x56a5f1c5c0c9663a },
    };
    for (cases) |c| try std.testing.expectEqual(c.h, hash64(testKey(&buf, c.n)));
}
