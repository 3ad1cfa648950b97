//! The root of the native unit tests (`zig build test`): every file's own tests, and the
//! boundary's — exports answer bad handles and bad lengths with statuses, never a panic.
const std = @import("std");
const limits = @import("limits.zig");
const exports = @import("exports.zig");

fn code(s: limits.Status) i32 {
    return @backingInt(s);
}

const abi = @import("abi.zig");

/// The options record `memtable_new` takes: the defaults (a 1 MiB skiplist memtable), changed
/// by `edit`.
fn newMemTable(edit: anytype) ?*anyopaque {
    var o = std.mem.zeroes(abi.OptionsAbi);
    o.write_buffer_size = 1 << 20;
    o.earliest_seq = std.math.maxInt(u64);
    inline for (@typeInfo(@TypeOf(edit)).@"struct".field_names) |name| @field(o, name) = @field(edit, name);
    const bytes = std.mem.asBytes(&o);
    return exports.memtable_new(bytes, bytes.len, bytes.len);
}

test {
    _ = exports;
    _ = @import("limits.zig");
    _ = @import("coding.zig");
    _ = @import("arena.zig");
    _ = @import("prefix.zig");
    _ = @import("xxph3.zig");
    _ = @import("filter.zig");
    _ = @import("exports_filter.zig");
    _ = @import("rep/rep.zig");
    _ = @import("rep/cursor.zig");
    _ = @import("rep/skiplist.zig");
    _ = @import("rep/skiplist_test.zig");
    _ = @import("rep/skiplist_run.zig");
    _ = @import("rep/gather.zig");
    _ = @import("rep/skiplist_rep.zig");
    _ = @import("rep/point_index.zig");
    _ = @import("rep/hash.zig");
    _ = @import("rep/vector.zig");
    _ = @import("memtable/memtable.zig");
    _ = @import("write_batch.zig");
    _ = @import("share.zig");
    _ = @import("sequence.zig");
    _ = @import("sst.zig");
    _ = @import("flush_walk.zig");
    _ = @import("holdings.zig");
    _ = @import("file_lock.zig");
    _ = @import("wal.zig");
    _ = @import("sst_reader.zig");
    _ = @import("compaction.zig");
    _ = @import("table_writer.zig");
    _ = @import("exports_compaction.zig");
}

test "crc32c matches the published check value" {
    try std.testing.expectEqual(@as(u32, 0xE3069283), exports.memtable_crc32c("123456789", 9, 9));
    try std.testing.expectEqual(@as(u32, 0), exports.memtable_crc32c("", 0, 0));
}

test "exports answer bad handles and bad lengths with status codes" {
    var buf: [64]u8 = @splat(0);
    try std.testing.expectEqual(code(.bad_handle), exports.memtable_add(null, &buf, buf.len, 0, 1, 1, 1, 1));
    const h = newMemTable(.{}).?;
    try std.testing.expect(newMemTable(.{ .huge_page_size = 3000 }) == null);
    try std.testing.expect(newMemTable(.{ .protection_bytes = 3 }) == null);
    try std.testing.expect(newMemTable(.{ .paranoid = 2 }) == null);
    try std.testing.expect(newMemTable(.{ .transparent_huge_pages = 2 }) == null);
    var reserved: [9]u8 = @splat(0);
    reserved[0] = 1;
    try std.testing.expect(newMemTable(.{ .reserved = reserved }) == null);
    var short: [8]u8 = @splat(0);
    try std.testing.expect(exports.memtable_new(&short, short.len, short.len) == null);
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
    try std.testing.expectEqual(limits.get_into_merge, exports.memtable_get_into(h, &buf, buf.len, 3, &dest, dest.len, 0, 10, 0));
    try std.testing.expectEqual(@as(u8, 'v'), dest[0]); // no value copied for a Merge: its run
    try std.testing.expectEqual(@as(u32, 2), std.mem.readInt(u32, buf[0..4], .little));
    try std.testing.expectEqual(@as(u64, (5 << 8) | 2), std.mem.readInt(u64, buf[4..12], .little));
    @memcpy(buf[0..3], "key");
    try std.testing.expectEqual(limits.get_into_merge_too_large, exports.memtable_get_into(h, &buf, 16, 3, &dest, dest.len, 0, 10, 0));
    try std.testing.expectEqual(@as(f64, 2), exports.memtable_stat(h, @backingInt(limits.StatsWord.num_entries)));
    try std.testing.expectEqual(@as(f64, -1), exports.memtable_stat(h, limits.stats_word_count));
    var options: [128]u8 = undefined;
    try std.testing.expectEqual(@as(i32, @sizeOf(abi.OptionsAbi)), exports.memtable_options(h, &options, options.len));
    try std.testing.expectEqual(@as(u64, 1 << 20), std.mem.readInt(u64, options[0..8], .little));
    try std.testing.expectEqual(@as(i32, 0), exports.memtable_unref(h));
}

test "memtable_new refuses what the representation does not take (the capability table)" {
    // vector with the point index, with insert hints; hashSkipList (height 4, branching 4, 16
    // buckets) without an extractor, or with concurrent writes.
    try std.testing.expect(newMemTable(.{ .rep_kind = 3, .point_index = 1 }) == null);
    try std.testing.expect(newMemTable(.{ .rep_kind = 3, .hint_extractor = 1, .hint_prefix_len = 2 }) == null);
    const hash = .{ .rep_kind = 1, .rep_height = 4, .rep_branching = 4, .rep_bucket_count = 16 };
    try std.testing.expect(newMemTable(hash) == null);
    try std.testing.expect(newMemTable(.{ .rep_kind = 1, .rep_height = 4, .rep_branching = 4, .rep_bucket_count = 16, .concurrent_writes = 1, .extractor = 1, .prefix_len = 2 }) == null);
    const h = newMemTable(.{ .rep_kind = 1, .rep_height = 4, .rep_branching = 4, .rep_bucket_count = 16, .extractor = 1, .prefix_len = 2 }).?;
    var buf: [16]u8 = @splat(0);
    // A null destination with a capacity is refused, not dereferenced.
    try std.testing.expectEqual(code(.invalid_argument), exports.memtable_get_into(h, &buf, buf.len, 1, null, 4, 0, 1, 0));
    try std.testing.expectEqual(@as(i32, 0), exports.memtable_unref(h));
}
