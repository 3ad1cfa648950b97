//! Memtable entry encoding and the internal-key comparator.
//!
//! Entry (what a skiplist node holds, RocksDB's memtable format):
//!     varint32(len(internal_key)) ‖ internal_key ‖ varint32(len(value)) ‖ value
//! Internal key: user_key ‖ fixed64le((seq << 8) | type).
//! Order: user keys bytewise ascending; equal user keys by trailer descending, so the newest
//! version of a key comes first (RocksDB's InternalKeyComparator over BytewiseComparator).
const std = @import("std");
const limits = @import("limits.zig");

pub const trailer_size = 8;

pub fn packTrailer(seq: u64, value_type: u8) u64 {
    std.debug.assert(seq <= limits.sequence_max);
    return (seq << 8) | value_type;
}

pub fn varint32Length(v: u32) usize {
    var n: usize = 1;
    var x = v;
    while (x >= 0x80) : (x >>= 7) n += 1;
    return n;
}

pub fn encodeVarint32(dst: [*]u8, v: u32) usize {
    var x = v;
    var i: usize = 0;
    while (x >= 0x80) : (x >>= 7) {
        dst[i] = @as(u8, @truncate(x)) | 0x80;
        i += 1;
    }
    dst[i] = @truncate(x);
    return i + 1;
}

/// Decodes a varint32 written by `encodeVarint32` (the arena only holds entries this library
/// encoded, so no bounds are needed; the five-byte limit still stops a corrupt run).
pub inline fn decodeVarint32(src: [*]const u8, len_out: *usize) u32 {
    const b0 = src[0];
    if (b0 < 0x80) {
        len_out.* = 1;
        return b0;
    }
    var result: u32 = b0 & 0x7F;
    var shift: u5 = 7;
    var i: usize = 1;
    while (i < 5) : (i += 1) {
        const b = src[i];
        result |= @as(u32, b & 0x7F) << shift;
        if (b < 0x80) break;
        shift +%= 7;
    }
    len_out.* = i + 1;
    return result;
}

/// A decoded internal key: what searches compare nodes against.
pub const Key = struct {
    user_key: []const u8,
    trailer: u64,

    pub fn sequence(self: Key) u64 {
        return self.trailer >> 8;
    }
    pub fn valueType(self: Key) u8 {
        return @truncate(self.trailer);
    }
};

/// A decoded view of an encoded entry.
pub const Entry = struct {
    key: Key,
    value: []const u8,
};

pub fn entryEncodedLength(user_key_len: usize, value_len: usize) usize {
    const ikey_len: u32 = @intCast(user_key_len + trailer_size);
    return varint32Length(ikey_len) + ikey_len + varint32Length(@intCast(value_len)) + value_len;
}

pub fn encodeEntry(dst: [*]u8, key: Key, value: []const u8) usize {
    const ikey_len: u32 = @intCast(key.user_key.len + trailer_size);
    var pos = encodeVarint32(dst, ikey_len);
    @memcpy(dst[pos..][0..key.user_key.len], key.user_key);
    pos += key.user_key.len;
    std.mem.writeInt(u64, dst[pos..][0..8], key.trailer, .little);
    pos += 8;
    pos += encodeVarint32(dst + pos, @intCast(value.len));
    @memcpy(dst[pos..][0..value.len], value);
    return pos + value.len;
}

pub inline fn decodeKey(entry: [*]const u8) Key {
    var n: usize = undefined;
    const ikey_len = decodeVarint32(entry, &n);
    std.debug.assert(ikey_len >= trailer_size);
    const user_len = ikey_len - trailer_size;
    return .{
        .user_key = entry[n..][0..user_len],
        .trailer = std.mem.readInt(u64, entry[n + user_len ..][0..8], .little),
    };
}

pub fn decodeEntry(entry: [*]const u8) Entry {
    var n: usize = undefined;
    const ikey_len = decodeVarint32(entry, &n);
    const key = decodeKey(entry);
    const value_at = entry + n + ikey_len;
    var m: usize = undefined;
    const value_len = decodeVarint32(value_at, &m);
    return .{ .key = key, .value = value_at[m..][0..value_len] };
}

/// Length of the encoded entry at `entry` (without protection bytes).
pub fn entryLength(entry: [*]const u8) usize {
    const e = decodeEntry(entry);
    return @intFromPtr(e.value.ptr) + e.value.len - @intFromPtr(entry);
}

/// The protection bytes of an entry (RocksDB's per-key protection, `memtable_protection_bytes
/// _per_key`): the low `n` bytes of a 64-bit hash over the encoded entry — user key, sequence
/// number, type and value all included.
pub fn protection(encoded: []const u8) u64 {
    return std.hash.Wyhash.hash(0x6D656D7461626C65, encoded);
}

/// Writes `n` protection bytes right after the encoded entry `encoded`.
pub fn writeProtection(encoded: []u8, n: u8) void {
    const h = protection(encoded);
    var i: usize = 0;
    while (i < n) : (i += 1) encoded.ptr[encoded.len + i] = @truncate(h >> @intCast(8 * i));
}

/// Whether the entry at `entry` still matches its `n` protection bytes.
pub fn verifyProtection(entry: [*]const u8, n: u8) bool {
    if (n == 0) return true;
    const len = entryLength(entry);
    const h = protection(entry[0..len]);
    var i: usize = 0;
    while (i < n) : (i += 1) {
        if (entry[len + i] != @as(u8, @truncate(h >> @intCast(8 * i)))) return false;
    }
    return true;
}

/// The first 8 bytes of a user key as a big-endian integer, zero-padded (a key's "head"). Order
/// preserving: a ≤ b bytewise implies keyHead(a) ≤ keyHead(b), so two keys whose heads differ
/// are ordered by their heads alone, and only equal heads need the bytes compared.
pub inline fn keyHead(user_key: []const u8) u64 {
    if (user_key.len >= 8) return std.mem.readInt(u64, user_key[0..8], .big);
    var b: [8]u8 = @splat(0);
    @memcpy(b[0..user_key.len], user_key);
    return std.mem.readInt(u64, &b, .big);
}

/// `keyHead` of the user key of the encoded entry at `entry`, read in place. In the common case
/// (an internal key of 16 to 127 bytes: a one-byte length, then at least 8 user-key bytes) it is
/// one unaligned big-endian load; shorter and longer keys decode the entry.
pub inline fn entryKeyHead(entry: [*]const u8) u64 {
    const ikey_len = entry[0];
    if (ikey_len -% 16 < 128 - 16) return std.mem.readInt(u64, entry[1..9], .big);
    return entryKeyHeadDecoded(entry);
}

/// `entryKeyHead` of a short or long key, out of line: the rare case keeps the common one
/// small inside the search loops.
noinline fn entryKeyHeadDecoded(entry: [*]const u8) u64 {
    @branchHint(.cold);
    return keyHead(decodeKey(entry).user_key);
}

/// Compares internal keys: user key ascending, then trailer descending.
pub inline fn compareKeys(a: Key, b: Key) std.math.Order {
    const o = std.mem.order(u8, a.user_key, b.user_key);
    if (o != .eq) return o;
    return std.math.order(b.trailer, a.trailer);
}

/// Compares the entry stored at `entry` with the decoded key `key`.
pub inline fn compareEntry(entry: [*]const u8, key: Key) std.math.Order {
    return compareKeys(decodeKey(entry), key);
}

test "entryKeyHead reads the head of an entry's user key at every key length" {
    var key_buf: [300]u8 = undefined;
    for (&key_buf, 0..) |*b, i| b.* = @truncate(i *% 37 +% 11);
    var entry_buf: [400]u8 = undefined;
    // Around both boundaries: user keys shorter than 8 bytes and internal keys of 128 bytes or
    // more (a two-byte length).
    for ([_]usize{ 0, 1, 6, 7, 8, 9, 16, 118, 119, 120, 121, 200, 300 }) |len| {
        const key: Key = .{ .user_key = key_buf[0..len], .trailer = packTrailer(3, 1) };
        _ = encodeEntry(&entry_buf, key, "v");
        try std.testing.expectEqual(keyHead(key.user_key), entryKeyHead(&entry_buf));
    }
}

test "varint32 round-trips at every length boundary" {
    const cases = [_]u32{ 0, 1, 127, 128, 16383, 16384, (1 << 21) - 1, 1 << 21, (1 << 28) - 1, 1 << 28, std.math.maxInt(u32) };
    for (cases) |v| {
        var buf: [5]u8 = @splat(0);
        const n = encodeVarint32(&buf, v);
        try std.testing.expectEqual(varint32Length(v), n);
        var m: usize = undefined;
        try std.testing.expectEqual(v, decodeVarint32(&buf, &m));
        try std.testing.expectEqual(n, m);
    }
}

test "entries order by user key ascending then trailer descending" {
    var a_buf: [64]u8 = undefined;
    var b_buf: [64]u8 = undefined;
    _ = encodeEntry(&a_buf, .{ .user_key = "k", .trailer = packTrailer(5, 1) }, "v5");
    _ = encodeEntry(&b_buf, .{ .user_key = "k", .trailer = packTrailer(9, 1) }, "v9");
    const a = decodeKey(&a_buf);
    const b = decodeKey(&b_buf);
    try std.testing.expectEqual(std.math.Order.gt, compareKeys(a, b));
    try std.testing.expectEqual(std.math.Order.lt, compareKeys(.{ .user_key = "j", .trailer = 0 }, a));
    try std.testing.expectEqual(std.math.Order.lt, compareKeys(.{ .user_key = "k", .trailer = packTrailer(5, 2) }, a));
    const e = decodeEntry(&b_buf);
    try std.testing.expectEqualStrings("v9", e.value);
    try std.testing.expectEqual(@as(u64, 9), e.key.sequence());
    try std.testing.expectEqual(std.math.Order.eq, compareEntry(&a_buf, a));
}

test "keyHead orders keys as their bytes do, and ties only where the first 8 bytes agree" {
    const ordered = [_][]const u8{ "", "\x00", "\x00\x00", "a", "a\x00", "ab", "ab\x00", "ab\x00\x01", "abcdefg", "abcdefg\x00", "abcdefgh", "abcdefgh\x00", "abcdefghi", "abcdefgi", "b", "\xff\xff\xff\xff\xff\xff\xff\xff", "\xff\xff\xff\xff\xff\xff\xff\xff\xff" };
    for (ordered, 0..) |a, i| {
        for (ordered[i..]) |b| try std.testing.expect(keyHead(a) <= keyHead(b));
    }
    try std.testing.expectEqual(@as(u64, 0x6162000000000000), keyHead("ab"));
    try std.testing.expectEqual(keyHead("abcdefgh"), keyHead("abcdefghXYZ"));
    try std.testing.expect(keyHead("abcdefg") < keyHead("abcdefgi"));
    var prng = std.Random.DefaultPrng.init(0x6b6579);
    var i: usize = 0;
    while (i < 20_000) : (i += 1) {
        var a_buf: [12]u8 = undefined;
        var b_buf: [12]u8 = undefined;
        const a = a_buf[0..prng.random().uintAtMost(usize, 12)];
        const b = b_buf[0..prng.random().uintAtMost(usize, 12)];
        // Few distinct bytes, so shared prefixes and zero bytes are common.
        for (a) |*c| c.* = prng.random().uintLessThan(u8, 3);
        for (b) |*c| c.* = prng.random().uintLessThan(u8, 3);
        const o = std.mem.order(u8, a, b);
        const ho = std.math.order(keyHead(a), keyHead(b));
        if (ho != .eq) try std.testing.expectEqual(o, ho);
        if (o == .eq) try std.testing.expectEqual(std.math.Order.eq, ho);
    }
}

test "protection bytes detect a flipped bit anywhere in the entry" {
    var buf: [64]u8 = undefined;
    const len = encodeEntry(&buf, .{ .user_key = "key", .trailer = packTrailer(42, 1) }, "value");
    for ([_]u8{ 1, 2, 4, 8 }) |n| {
        writeProtection(buf[0..len], n);
        try std.testing.expect(verifyProtection(&buf, n));
        var i: usize = 0;
        while (i < len) : (i += 1) {
            if (i == 0 or i == 12) continue; // length prefixes: a flip there changes the layout
            buf[i] ^= 0x10;
            // One byte catches a flip with probability 255/256; 2+ bytes practically always.
            if (n >= 2) try std.testing.expect(!verifyProtection(&buf, n));
            buf[i] ^= 0x10;
        }
    }
    try std.testing.expect(verifyProtection(&buf, 0));
}
