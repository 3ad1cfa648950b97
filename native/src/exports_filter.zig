//! The C ABI for SST filter blocks (filter.zig), under exports.zig's rules (statuses, lengths
//! checked against capacities, nothing asserted on what JavaScript passes); imported by
//! exports.zig. No handles: a filter is built from hashes the caller keeps and probed in the
//! caller's bytes.
const std = @import("std");
const filter = @import("filter.zig");
const abi = @import("abi.zig");

const code = abi.code;

/// Bytes of one hash in the caller's hash array (u64 little-endian).
const hash_len = 8;
/// Bytes before each key in a key list (its length, fixed32).
const key_len_len = 4;

fn readHash(hashes: [*]const u8, i: usize) u64 {
    return std.mem.readInt(u64, hashes[i * hash_len ..][0..hash_len], .little);
}

/// Hashes `count` user keys listed in buf[0..len] as `fixed32 len ‖ bytes` each and appends
/// each hash (u64 LE) to hashes[at * 8 ..], skipping one equal to the hash before it (the same
/// key again: RocksDB's builder adds it once). Returns the new number of hashes, or
/// `invalid_argument` (a malformed list, `hashes` too small for `at + count` hashes). Nothing is written then.
export fn memtable_filter_add_keys(buf: [*]const u8, cap: u32, len: u32, count: u32, hashes: ?[*]u8, hashes_cap: u32, at: u32) i32 {
    if (len > cap) return code(.invalid_argument);
    const total = @as(u64, at) + count;
    if (total > std.math.maxInt(i32) or total * hash_len > hashes_cap) return code(.invalid_argument);
    const out = hashes orelse return if (total == 0) 0 else code(.invalid_argument);
    // Check the whole list first: a rejected call writes nothing.
    var pos: usize = 0;
    for (0..count) |_| {
        if (len - pos < key_len_len) return code(.invalid_argument);
        const n = std.mem.readInt(u32, buf[pos..][0..key_len_len], .little);
        if (n > len - pos - key_len_len) return code(.invalid_argument);
        pos += key_len_len + n;
    }
    if (pos != len) return code(.invalid_argument);
    var n_out: usize = at;
    pos = 0;
    for (0..count) |_| {
        const n = std.mem.readInt(u32, buf[pos..][0..key_len_len], .little);
        const h = filter.keyHash(buf[pos + key_len_len ..][0..n]);
        pos += key_len_len + n;
        if (n_out > 0 and readHash(out, n_out - 1) == h) continue;
        std.mem.writeInt(u64, out[n_out * hash_len ..][0..hash_len], h, .little);
        n_out += 1;
    }
    return @intCast(n_out);
}

/// The bytes of the filter block for `count` distinct hashes at `millibits_per_key`, or -1
/// when `millibits_per_key` is outside [1000, 100000].
export fn memtable_filter_size(count: u32, millibits_per_key: u32) f64 {
    if (millibits_per_key < filter.millibits_per_key_min or millibits_per_key > filter.millibits_per_key_max) return -1;
    return @floatFromInt(filter.filterLen(count, millibits_per_key));
}

/// Writes the filter block of the first `count` hashes of `hashes` (u64 LE each, as
/// `memtable_filter_add_keys` made them) into out[0..out_cap]; returns its length, or
/// `invalid_argument` (bad millibits, `hashes` shorter than `count` hashes, `out` not exactly
/// `memtable_filter_size` bytes or longer than an i32 counts).
export fn memtable_filter_build(hashes: ?[*]const u8, hashes_cap: u32, count: u32, millibits_per_key: u32, out: ?[*]u8, out_cap: u32) i32 {
    if (millibits_per_key < filter.millibits_per_key_min or millibits_per_key > filter.millibits_per_key_max) return code(.invalid_argument);
    if (@as(u64, count) * hash_len > hashes_cap) return code(.invalid_argument);
    const n = filter.filterLen(count, millibits_per_key);
    if (n != out_cap or n > std.math.maxInt(i32)) return code(.invalid_argument);
    const dest = out orelse return code(.invalid_argument);
    const src: []const u8 = if (hashes) |p| p[0 .. @as(usize, count) * hash_len] else if (count == 0) &.{} else return code(.invalid_argument);
    filter.buildFromLittleEndian(dest[0..@intCast(n)], src, millibits_per_key);
    return @intCast(n);
}

/// Whether the user key key[0..key_len] may be in the filter block filter[0..filter_len]:
/// 1 (maybe), 0 (certainly not). A block this library cannot probe answers 1; a null pointer
/// with a non-zero length is `invalid_argument`.
export fn memtable_filter_may_match(block: ?[*]const u8, block_len: u32, key: ?[*]const u8, key_len: u32) i32 {
    const f: []const u8 = if (block) |p| p[0..block_len] else if (block_len == 0) &.{} else return code(.invalid_argument);
    const k: []const u8 = if (key) |p| p[0..key_len] else if (key_len == 0) &.{} else return code(.invalid_argument);
    return @intFromBool(filter.Reader.init(f).mayMatch(k));
}

const testing = std.testing;

test "the filter exports build what filter.zig builds and refuse bad lengths" {
    var keys: [64]u8 = undefined;
    var pos: usize = 0;
    for ([_][]const u8{ "a", "a", "bb", "" }) |k| {
        std.mem.writeInt(u32, keys[pos..][0..4], @intCast(k.len), .little);
        @memcpy(keys[pos + 4 ..][0..k.len], k);
        pos += 4 + k.len;
    }
    const len: u32 = @intCast(pos);
    var hashes: [4 * 8]u8 = undefined;
    try testing.expectEqual(@as(i32, 3), memtable_filter_add_keys(&keys, keys.len, len, 4, &hashes, hashes.len, 0));
    try testing.expectEqual(filter.keyHash("bb"), readHash(&hashes, 1));
    // Malformed: a count the list does not hold, a length past the end, too small a hash array.
    try testing.expectEqual(code(.invalid_argument), memtable_filter_add_keys(&keys, keys.len, len, 5, &hashes, hashes.len, 0));
    try testing.expectEqual(code(.invalid_argument), memtable_filter_add_keys(&keys, keys.len, len - 1, 4, &hashes, hashes.len, 0));
    try testing.expectEqual(code(.invalid_argument), memtable_filter_add_keys(&keys, keys.len, len, 4, &hashes, hashes.len, 1));
    try testing.expectEqual(@as(f64, 69), memtable_filter_size(3, 10_000));
    try testing.expectEqual(@as(f64, -1), memtable_filter_size(3, 999));
    var out: [69]u8 = undefined;
    try testing.expectEqual(code(.invalid_argument), memtable_filter_build(&hashes, hashes.len, 3, 10_000, &out, 68));
    try testing.expectEqual(@as(i32, 69), memtable_filter_build(&hashes, hashes.len, 3, 10_000, &out, out.len));
    for ([_][]const u8{ "a", "bb", "" }) |k| {
        try testing.expectEqual(@as(i32, 1), memtable_filter_may_match(&out, out.len, k.ptr, @intCast(k.len)));
    }
    try testing.expectEqual(@as(i32, 0), memtable_filter_may_match(null, 0, "a", 1));
    try testing.expectEqual(code(.invalid_argument), memtable_filter_may_match(null, 3, "a", 1));
}
