//! Single writes into a memtable: a point entry (`add`) or a range tombstone
//! (`addRangeDeletion`); the guard every write enters; the SingleDelete contract.
//!
//! A point entry goes to the representation by one of its three inserts: concurrently when the
//! memtable takes concurrent writers, from the splice of its prefix when the key is in the
//! insert-hint extractor's domain, otherwise from the splice of the previous insert. Then the
//! bloom filter and the counters learn of it.
//!
//! The SingleDelete contract (RocksDB): below a SingleDeletion, down to the previous one, a key
//! has at most one version and it is a Value. A SingleDeletion that would break it is refused
//! (`error.SingleDeleteMisuse`) when the memtable checks (paranoid, or a safety-checked build).
//!
//! Thread safety: `enter` lets one writer in at a time (a second gets `error.ConcurrentWrite`),
//! or any number when the memtable takes concurrent writes; an immutable memtable lets none in.
const std = @import("std");
const limits = @import("../limits.zig");
const coding = @import("../coding.zig");
const tombstones = @import("tombstones.zig");
const mt_mod = @import("memtable.zig");

const MemTable = mt_mod.MemTable;
const AddError = mt_mod.AddError;

/// Enters a write: refused when the memtable is immutable; with concurrent writes, nothing
/// else to do; otherwise takes the single-writer guard or reports the other writer.
pub fn enter(mt: *MemTable) AddError!void {
    if (mt.isImmutable()) return error.Immutable;
    if (mt.concurrent_writes) return;
    if (mt.writing.cmpxchgStrong(0, 1, .acquire, .monotonic) != null) return error.ConcurrentWrite;
}

/// Leaves a write `enter` let in.
pub fn leave(mt: *MemTable) void {
    if (mt.concurrent_writes) return;
    std.debug.assert(mt.writing.load(.monotonic) == 1);
    mt.writing.store(0, .release);
}

/// Adds the point entry (key, seq, value_type) with `value`.
/// REQUIRES: key.len ≤ key_size_max, value.len ≤ value_size_max, seq ≤ sequence_max,
/// value_type a point type.
pub fn add(mt: *MemTable, seq: u64, value_type: limits.ValueType, key: []const u8, value: []const u8) AddError!void {
    std.debug.assert(key.len <= limits.key_size_max);
    std.debug.assert(value.len <= limits.value_size_max);
    std.debug.assert(seq <= limits.sequence_max);
    std.debug.assert(limits.ValueType.isKnownPointType(@backingInt(value_type)));
    try enter(mt);
    defer leave(mt);
    if (value_type == .single_deletion and mt.check_single_deletes and singleDeleteMisuse(mt, key, seq)) {
        return error.SingleDeleteMisuse;
    }
    const ikey: coding.Key = .{ .user_key = key, .trailer = coding.packTrailer(seq, @backingInt(value_type)) };
    const slot = mt.reserveKeys(1);
    const node = if (mt.concurrent_writes)
        try mt.rep.insertConcurrently(ikey, value)
    else if (mt.hint_extractor.prefixOf(key)) |prefix|
        try mt.rep.insertWithHint(ikey, value, prefix)
    else
        try mt.rep.insert(ikey, value);
    std.debug.assert(node.key().trailer == ikey.trailer);
    if (std.debug.runtime_safety) std.debug.assert(std.mem.eql(u8, node.key().user_key, key));
    mt.bloomAdd(key, slot);
    mt.counted(seq, value_type, key.len, value.len);
}

/// Stores the range tombstone [start, end) at `seq` in the range-deletion table.
/// REQUIRES: start.len and end.len ≤ key_size_max, seq ≤ sequence_max, start ≤ end bytewise.
pub fn addRangeDeletion(mt: *MemTable, seq: u64, start: []const u8, end: []const u8) AddError!void {
    std.debug.assert(start.len <= limits.key_size_max);
    std.debug.assert(end.len <= limits.key_size_max);
    std.debug.assert(seq <= limits.sequence_max);
    std.debug.assert(std.mem.order(u8, start, end) != .gt);
    try enter(mt);
    defer leave(mt);
    try tombstones.add(mt, seq, start, end);
}

/// Whether a SingleDeletion of `key` at `seq` breaks the SingleDelete contract (see the file's
/// contract) over the versions stored below `seq`.
pub fn singleDeleteMisuse(mt: *MemTable, key: []const u8, seq: u64) bool {
    if (seq == 0) return false;
    var node = mt.findNewest(key, seq - 1) orelse return false;
    var values: u32 = 0;
    while (true) {
        const t = node.key().valueType();
        if (t == @backingInt(limits.ValueType.single_deletion)) return false;
        if (t != @backingInt(limits.ValueType.value)) return true;
        values += 1;
        if (values > 1) return true;
        node = mt.nextVersion(node) orelse return false;
    }
}

const testing = std.testing;
const arena_mod = @import("../arena.zig");

test "add: duplicates refused, versions newest first, counters" {
    const live_before = arena_mod.bytes_live.load(.monotonic);
    const mt = try MemTable.create(.{ .write_buffer_size = 1 << 20 });
    try mt.add(5, .value, "k", "v5");
    try mt.add(9, .value, "k", "v9");
    try mt.add(7, .deletion, "k", "");
    const usage = mt.memoryUsage();
    try testing.expectError(error.Duplicate, mt.add(9, .value, "k", "other"));
    try testing.expectEqual(usage, mt.memoryUsage()); // a refused add allocates nothing
    try mt.add(9, .merge, "k", "m"); // same seq, other type: a distinct internal key
    try testing.expectEqual(@as(u64, 4), mt.num_entries.load(.monotonic));
    try testing.expectEqual(@as(u64, 1), mt.num_deletes.load(.monotonic));
    try testing.expectEqual(@as(u64, 5), mt.first_seq.load(.monotonic));
    try testing.expectEqual(@as(u64, 5), mt.earliest_seq.load(.monotonic));
    try testing.expectEqual(@as(u64, 5), mt.firstSeq());
    try testing.expectEqual(@as(u32, 0), mt.unref());
    try testing.expectEqual(live_before, arena_mod.bytes_live.load(.monotonic));
}

test "single delete contract checked in paranoid mode" {
    const mt = try MemTable.create(.{ .paranoid = true });
    defer _ = mt.unref();
    try mt.add(1, .value, "ok", "v");
    try mt.add(2, .single_deletion, "ok", "");
    try mt.add(3, .value, "ok", "v2");
    try mt.add(4, .single_deletion, "ok", "");
    try mt.add(5, .single_deletion, "absent", "");
    try mt.add(1, .value, "twice", "a");
    try mt.add(2, .value, "twice", "b");
    try testing.expectError(error.SingleDeleteMisuse, mt.add(3, .single_deletion, "twice", ""));
    try mt.add(1, .deletion, "del", "");
    try testing.expectError(error.SingleDeleteMisuse, mt.add(2, .single_deletion, "del", ""));
    try mt.add(1, .merge, "m", "x");
    try testing.expectError(error.SingleDeleteMisuse, mt.add(2, .single_deletion, "m", ""));
}

test "single-writer guard: a second writer is refused while one is inside" {
    const mt = try MemTable.create(.{});
    defer _ = mt.unref();
    mt.writing.store(1, .release); // as if another thread were inside add()
    try testing.expectError(error.ConcurrentWrite, mt.add(1, .value, "k", "v"));
    try testing.expectError(error.ConcurrentWrite, mt.addRangeDeletion(2, "a", "b"));
    var failed: ?usize = null;
    const recs = [_]MemTable.Record{.{ .seq = 3, .value_type = .value, .key = "k", .value = "v" }};
    try testing.expectError(error.ConcurrentWrite, mt.addBatch(&recs, &failed));
    mt.writing.store(0, .release);
    try mt.add(1, .value, "k", "v");
    try testing.expectEqual(@as(u64, 1), mt.num_entries.load(.monotonic));
    mt.markImmutable();
    try testing.expectError(error.Immutable, mt.add(2, .value, "k", "v"));
    try testing.expectError(error.Immutable, mt.addRangeDeletion(3, "a", "b"));
}

test "insert hints: keys in the hint extractor's domain keep one splice per prefix" {
    const mt = try MemTable.create(.{ .hint_extractor = .{ .kind = .fixed, .n = 2 } });
    defer _ = mt.unref();
    var buf: [16]u8 = undefined;
    var i: u32 = 0;
    while (i < 2000) : (i += 1) {
        const key = std.fmt.bufPrint(&buf, "{c}{c}{d:0>8}", .{ 'a' + @as(u8, @intCast(i % 2)), 'x', i / 2 }) catch unreachable;
        try mt.add(i + 1, .value, key, "v");
    }
    try mt.add(3000, .value, "z", "outside the domain: no hint");
    try testing.expectEqual(@as(usize, 2), mt.rep.skiplist.hints.?.used());
    try testing.expectEqual(@as(u64, 2001), mt.num_entries.load(.monotonic));
}
