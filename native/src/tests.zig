//! The root of the native unit tests (`zig build test`): every file's own tests, and the
//! boundary's — exports answer bad handles and bad lengths with statuses, never a panic.
const std = @import("std");
const limits = @import("limits.zig");
const exports = @import("exports.zig");

fn code(s: limits.Status) i32 {
    return @backingInt(s);
}

test {
    _ = exports;
    _ = @import("limits.zig");
    _ = @import("coding.zig");
    _ = @import("arena.zig");
    _ = @import("prefix.zig");
    _ = @import("rep/rep.zig");
    _ = @import("rep/cursor.zig");
    _ = @import("rep/skiplist.zig");
    _ = @import("rep/skiplist_run.zig");
    _ = @import("rep/skiplist_rep.zig");
    _ = @import("rep/point_index.zig");
    _ = @import("rep/hash.zig");
    _ = @import("rep/vector.zig");
    _ = @import("memtable/memtable.zig");
    _ = @import("write_batch.zig");
    _ = @import("share.zig");
    _ = @import("sequence.zig");
    _ = @import("sst.zig");
    _ = @import("holdings.zig");
    _ = @import("file_lock.zig");
}

test "crc32c matches the published check value" {
    try std.testing.expectEqual(@as(u32, 0xE3069283), exports.memtable_crc32c("123456789", 9, 9));
    try std.testing.expectEqual(@as(u32, 0), exports.memtable_crc32c("", 0, 0));
}

test "exports answer bad handles and bad lengths with status codes" {
    var buf: [64]u8 = @splat(0);
    try std.testing.expectEqual(code(.bad_handle), exports.memtable_add(null, &buf, buf.len, 0, 1, 1, 1, 1));
    const h = exports.memtable_new(1 << 20, 0, 0, 0xFFFF_FFFF, 0xFFFF_FFFF, 0, 0, 0, 0, 0, 0, 0, 0, 0).?;
    try std.testing.expect(exports.memtable_new(1 << 20, 0, 3000, 0xFFFF_FFFF, 0xFFFF_FFFF, 0, 0, 0, 0, 0, 0, 0, 0, 0) == null);
    try std.testing.expect(exports.memtable_new(1 << 20, 0, 0, 0xFFFF_FFFF, 0xFFFF_FFFF, 3, 0, 0, 0, 0, 0, 0, 0, 0) == null);
    try std.testing.expect(exports.memtable_new(1 << 20, 0, 0, 0xFFFF_FFFF, 0xFFFF_FFFF, 0x1000, 0, 0, 0, 0, 0, 0, 0, 0) == null);
    try std.testing.expectEqual(code(.invalid_argument), exports.memtable_add(h, &buf, buf.len, 0, 1, 1, 60, 10));
    try std.testing.expectEqual(code(.invalid_argument), exports.memtable_add(h, &buf, buf.len, 0, 1, 9, 1, 1));
    try std.testing.expectEqual(code(.invalid_argument), exports.memtable_add(h, &buf, buf.len, 0x0100_0000, 0, 1, 1, 1));
    @memcpy(buf[0..4], "keyv");
    try std.testing.expectEqual(code(.ok), exports.memtable_add(h, &buf, buf.len, 0, 3, 1, 3, 1));
    try std.testing.expectEqual(code(.duplicate), exports.memtable_add(h, &buf, buf.len, 0, 3, 1, 3, 1));
    try std.testing.expectEqual(@as(i32, 1), exports.memtable_get(h, &buf, 0, buf.len, 3, 0, 10, 0));
    try std.testing.expectEqual(@as(u64, (3 << 8) | 1), std.mem.readInt(u64, buf[0..8], .little));
    try std.testing.expectEqual(@as(u8, 'v'), buf[12]);
    @memcpy(buf[0..3], "key");
    try std.testing.expectEqual(code(.buffer_too_small), exports.memtable_get(h, &buf, 0, 12, 3, 0xFFFF_FFFF, 0xFFFF_FFFF, 0));
    try std.testing.expectEqual(@as(u32, 13), std.mem.readInt(u32, buf[0..4], .little));
    // At an offset: the key at buf[20..23], the record written there; buf[0..20] untouched.
    @memset(buf[0..20], 0xAA);
    @memcpy(buf[20..23], "key");
    try std.testing.expectEqual(@as(i32, 1), exports.memtable_get(h, &buf, 20, buf.len, 3, 0, 10, 0));
    try std.testing.expectEqual(@as(u64, (3 << 8) | 1), std.mem.readInt(u64, buf[20..28], .little));
    try std.testing.expectEqual(@as(u8, 'v'), buf[32]);
    for (buf[0..20]) |b| try std.testing.expectEqual(@as(u8, 0xAA), b);
    @memcpy(buf[20..23], "key");
    try std.testing.expectEqual(code(.buffer_too_small), exports.memtable_get(h, &buf, 20, 32, 3, 0xFFFF_FFFF, 0xFFFF_FFFF, 0));
    try std.testing.expectEqual(@as(u32, 13), std.mem.readInt(u32, buf[20..24], .little));
    try std.testing.expectEqual(code(.invalid_argument), exports.memtable_get(h, &buf, 33, 32, 0, 0, 10, 0));
    try std.testing.expectEqual(code(.invalid_argument), exports.memtable_get(h, &buf, 30, 32, 3, 0, 10, 0));
    // Into the caller's memory: the header in buf, the value (cut to dest_cap) in dest.
    var dest: [4]u8 = @splat(0);
    @memcpy(buf[0..3], "key");
    try std.testing.expectEqual(@as(i32, 1), exports.memtable_get_into(h, &buf, buf.len, 3, &dest, dest.len, 0, 10, 0));
    try std.testing.expectEqual(@as(u64, (3 << 8) | 1), std.mem.readInt(u64, buf[0..8], .little));
    try std.testing.expectEqual(@as(u32, 1), std.mem.readInt(u32, buf[8..12], .little));
    try std.testing.expectEqual(@as(u8, 'v'), dest[0]);
    @memcpy(buf[0..3], "key");
    try std.testing.expectEqual(@as(i32, 1), exports.memtable_get_into(h, &buf, buf.len, 3, null, 0, 0, 10, 0));
    try std.testing.expectEqual(@as(i32, 0), exports.memtable_get_into(h, &buf, buf.len, 3, &dest, dest.len, 0, 2, 0));
    @memcpy(buf[0..3], "kez");
    try std.testing.expectEqual(@as(i32, 0), exports.memtable_get_into(h, &buf, buf.len, 3, &dest, dest.len, 0, 10, 0));
    try std.testing.expectEqual(code(.invalid_argument), exports.memtable_get_into(h, &buf, 11, 3, &dest, dest.len, 0, 10, 0));
    try std.testing.expectEqual(code(.bad_handle), exports.memtable_get_into(null, &buf, buf.len, 3, &dest, dest.len, 0, 10, 0));
    @memcpy(buf[0..4], "keym");
    try std.testing.expectEqual(code(.ok), exports.memtable_add(h, &buf, buf.len, 0, 5, 2, 3, 1));
    @memcpy(buf[0..3], "key");
    try std.testing.expectEqual(@as(i32, 2), exports.memtable_get_into(h, &buf, buf.len, 3, &dest, dest.len, 0, 10, 0));
    try std.testing.expectEqual(@as(u8, 'v'), dest[0]); // nothing written for a Merge
    try std.testing.expectEqual(@as(i32, 0), exports.memtable_unref(h));
}

test "memtable_new refuses what the representation does not take (the capability table)" {
    const unset = 0xFFFF_FFFF;
    // vector (rep 3) with the point index (flags bit 11), with insert hints; hashSkipList
    // (rep 1, height 4, branching 4, 16 buckets) without an extractor, or with concurrent writes.
    try std.testing.expect(exports.memtable_new(1 << 20, 0, 0, unset, unset, 0x800, 0, 0, 0, 0, 0, 3, 0, 0) == null);
    try std.testing.expect(exports.memtable_new(1 << 20, 0, 0, unset, unset, 0, 0, 0, 0, 1, 2, 3, 0, 0) == null);
    const hash_rep: u32 = 1 | (4 << 4) | (4 << 8);
    try std.testing.expect(exports.memtable_new(1 << 20, 0, 0, unset, unset, 0, 0, 0, 0, 0, 0, hash_rep, 16, 0) == null);
    try std.testing.expect(exports.memtable_new(1 << 20, 0, 0, unset, unset, 0x200, 1, 2, 0, 0, 0, hash_rep, 16, 0) == null);
    const h = exports.memtable_new(1 << 20, 0, 0, unset, unset, 0, 1, 2, 0, 0, 0, hash_rep, 16, 0).?;
    var buf: [16]u8 = @splat(0);
    // A null destination with a capacity is refused, not dereferenced.
    try std.testing.expectEqual(code(.invalid_argument), exports.memtable_get_into(h, &buf, buf.len, 1, null, 4, 0, 1, 0));
    try std.testing.expectEqual(@as(i32, 0), exports.memtable_unref(h));
}
