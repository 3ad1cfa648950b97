//! Atomic batches: `addBatch` inserts every record of a batch or none (RocksDB applies a
//! WriteBatch to a memtable the same way, record by record, under one sequence range).
//!
//! One path for every representation, through its interface (`rep.zig`'s `Rep.batch`) and the
//! range-tombstone table's (`tombstones.Batch`), in four steps:
//! 1. the plan: point records first, then range deletions, each group in internal-key order
//!    when it has to be (the representation links an ascending run, or the records' sequence
//!    numbers are not consecutive, so equal records can only be found side by side);
//! 2. every check: equal records within the batch, the SingleDelete contract, then every record
//!    against the representation and the tombstone table (duplicates, paranoid order) —
//!    nothing has changed when one fails;
//! 3. every allocation (nodes, point-index entries, tombstone log entries) — nothing is visible
//!    yet; a failure leaves the nodes unused in the arena;
//! 4. the links, which cannot fail with one writer; then the bloom filter and the counters.
//! On failure `failed` is the index of the record at fault (when one is).
//!
//! Thread safety: as every write (`write.zig`'s guard). With concurrent writers, other threads
//! insert between the steps; the links then use CAS and find a duplicate only when another
//! writer inserted an equal record meanwhile, which writers that take sequence numbers from one
//! allocator never do (the records before it then stay linked).
const std = @import("std");
const limits = @import("../limits.zig");
const coding = @import("../coding.zig");
const arena_mod = @import("../arena.zig");
const write = @import("write.zig");
const tombstones = @import("tombstones.zig");
const mt_mod = @import("memtable.zig");

const MemTable = mt_mod.MemTable;
const AddError = mt_mod.AddError;

pub const Record = struct {
    seq: u64,
    value_type: limits.ValueType,
    key: []const u8,
    /// The value; for a RangeDeletion, the end key.
    value: []const u8,

    fn ikey(self: Record) coding.Key {
        return .{ .user_key = self.key, .trailer = coding.packTrailer(self.seq, @backingInt(self.value_type)) };
    }
};

/// Step 1: the order records are checked and linked in, and their entries in that order.
const Plan = struct {
    /// Record indices: the `points` point records, then the range deletions.
    order: []u32,
    entries: []coding.Entry,
    points: usize,
    /// The records' sequence numbers are consecutive, in the order given (a decoded batch).
    consecutive: bool,

    fn init(gpa: std.mem.Allocator, records: []const Record, is_consecutive: bool, sort_points: bool, sort_ranges: bool) error{OutOfMemory}!Plan {
        const order = try gpa.alloc(u32, records.len);
        errdefer gpa.free(order);
        const entries = try gpa.alloc(coding.Entry, records.len);
        var points: usize = 0;
        for (records, 0..) |r, i| {
            if (r.value_type == .range_deletion) continue;
            order[points] = @intCast(i);
            points += 1;
        }
        var ranges = points;
        for (records, 0..) |r, i| {
            if (r.value_type != .range_deletion) continue;
            order[ranges] = @intCast(i);
            ranges += 1;
        }
        std.debug.assert(ranges == records.len);
        const ctx: SortCtx = .{ .records = records };
        if (sort_points) std.mem.sort(u32, order[0..points], ctx, SortCtx.less);
        if (sort_ranges) std.mem.sort(u32, order[points..], ctx, SortCtx.less);
        for (order, entries) |i, *e| e.* = .{ .key = records[i].ikey(), .value = records[i].value };
        return .{ .order = order, .entries = entries, .points = points, .consecutive = is_consecutive };
    }

    fn deinit(self: *Plan, gpa: std.mem.Allocator) void {
        gpa.free(self.order);
        gpa.free(self.entries);
        self.* = undefined;
    }
};

/// Whether the records are numbered first, first+1, …: no two of them can then be equal.
fn consecutive(records: []const Record) bool {
    for (records, 0..) |r, i| {
        if (r.seq != records[0].seq + i) return false;
    }
    return true;
}

const SortCtx = struct {
    records: []const Record,
    fn less(self: SortCtx, a: u32, b: u32) bool {
        return coding.compareKeys(self.records[a].ikey(), self.records[b].ikey()) == .lt;
    }
};

/// Inserts every record or none (see the file's contract). `records` stay the caller's: the
/// entries copy their bytes.
pub fn addBatch(mt: *MemTable, records: []const Record, failed: *?usize) AddError!void {
    failed.* = null;
    try write.enter(mt);
    defer write.leave(mt);
    if (records.len == 0) return;
    const gpa = arena_mod.backing_allocator;
    const entries_before = mt.num_entries.load(.monotonic);
    const is_consecutive = consecutive(records);
    // Sorted to find equal records side by side, or for a list that links one ascending run
    // (one writer: the ordered representation, and the range table, a skiplist).
    const one_writer = !mt.concurrent_writes;
    const sort_points = !is_consecutive or (one_writer and mt.rep.caps().ordered);
    const sort_ranges = !is_consecutive or one_writer;
    var plan = try Plan.init(gpa, records, is_consecutive, sort_points, sort_ranges);
    defer plan.deinit(gpa);
    try checkRecords(mt, records, &plan, failed);

    var points = try mt.rep.batch(gpa, plan.entries[0..plan.points], .{
        .concurrent = mt.concurrent_writes,
        .consecutive_from = if (plan.consecutive) records[0].seq else null,
    });
    defer points.deinit(gpa);
    var ranges = try tombstones.Batch.init(gpa, mt, plan.entries[plan.points..]);
    defer ranges.deinit(gpa);
    var at: usize = 0;
    points.check(&at) catch |err| return fail(failed, plan.order[at], err);
    ranges.check(&at) catch |err| return fail(failed, plan.order[plan.points + at], err);

    try points.allocate();
    try ranges.allocate();
    const slot = mt.reserveKeys(plan.points);

    points.link(&at) catch |err| {
        countPoints(mt, records, plan.order[0..at], slot); // linked before the failed one
        return fail(failed, plan.order[at], err);
    };
    countPoints(mt, records, plan.order[0..plan.points], slot);
    ranges.link(&at) catch |err| return fail(failed, plan.order[plan.points + at], err);
    // With one writer nobody else counts meanwhile: every record, and only they, counted.
    if (!mt.concurrent_writes) std.debug.assert(mt.num_entries.load(.monotonic) == entries_before + records.len);
}

/// Step 4's end for linked point records: the filters (key slots from `first_slot` on) and the
/// counters.
fn countPoints(mt: *MemTable, records: []const Record, order: []const u32, first_slot: u64) void {
    for (order, 0..) |i, k| {
        const r = records[i];
        std.debug.assert(r.value_type != .range_deletion);
        mt.bloomAdd(r.key, first_slot + k);
        mt.counted(r.seq, r.value_type, r.key.len, r.value.len);
    }
}

fn fail(failed: *?usize, index: u32, err: AddError) AddError {
    failed.* = index;
    return err;
}

/// Step 2's own checks: records equal to one another (side by side in the plan: only possible
/// when not consecutive), and the SingleDelete contract over what the memtable holds.
fn checkRecords(mt: *MemTable, records: []const Record, plan: *const Plan, failed: *?usize) AddError!void {
    for (plan.order, 0..) |i, k| {
        const r = records[i];
        if (!plan.consecutive and k > 0 and coding.compareKeys(plan.entries[k - 1].key, plan.entries[k].key) == .eq) {
            return fail(failed, i, error.Duplicate);
        }
        if (r.value_type == .single_deletion and mt.check_single_deletes and write.singleDeleteMisuse(mt, r.key, r.seq)) {
            return fail(failed, i, error.SingleDeleteMisuse);
        }
    }
}

const testing = std.testing;

test "batches insert all records or none, in any order" {
    const live_before = arena_mod.bytes_live.load(.monotonic);
    const mt = try MemTable.create(.{ .write_buffer_size = 1 << 20 });
    try mt.add(3, .value, "exists", "x");
    var failed: ?usize = null;
    const bad = [_]Record{
        .{ .seq = 10, .value_type = .value, .key = "z", .value = "1" },
        .{ .seq = 3, .value_type = .value, .key = "exists", .value = "dup" },
    };
    const usage = mt.memoryUsage();
    try testing.expectError(error.Duplicate, mt.addBatch(&bad, &failed));
    try testing.expectEqual(@as(?usize, 1), failed);
    try testing.expectEqual(@as(u64, 1), mt.num_entries.load(.monotonic));
    try testing.expectEqual(usage, mt.memoryUsage()); // refused at the checks: nothing allocated
    try testing.expect(mt.findNewest("z", 100) == null);
    const good = [_]Record{
        .{ .seq = 20, .value_type = .value, .key = "q", .value = "q20" },
        .{ .seq = 21, .value_type = .range_deletion, .key = "a", .value = "c" },
        .{ .seq = 22, .value_type = .value, .key = "b", .value = "b22" },
        .{ .seq = 23, .value_type = .deletion, .key = "q", .value = "" },
    };
    try mt.addBatch(&good, &failed);
    try testing.expectEqual(@as(u64, 5), mt.num_entries.load(.monotonic));
    try testing.expectEqual(@as(u64, 1), mt.numRangeDeletes());
    try testing.expectEqual(@as(u64, 23), mt.findNewest("q", 100).?.key().sequence());
    try testing.expectEqual(@as(u64, 20), mt.findNewest("q", 22).?.key().sequence());
    try testing.expectEqual(@as(u64, 22), mt.findNewest("b", 100).?.key().sequence());
    try testing.expectEqual(@as(u64, 21), try mt.maxCovering("b", 100));
    try testing.expectEqual(@as(u32, 0), mt.unref());
    try testing.expectEqual(live_before, arena_mod.bytes_live.load(.monotonic));
}

test "a batch refuses records equal to each other, and a SingleDelete that breaks the contract" {
    inline for (.{ false, true }) |concurrent| {
        const mt = try MemTable.create(.{ .concurrent_writes = concurrent, .paranoid = true });
        defer _ = mt.unref();
        try mt.add(1, .value, "k", "v1");
        try mt.add(2, .value, "k", "v2");
        var failed: ?usize = null;
        const twice = [_]Record{
            .{ .seq = 9, .value_type = .value, .key = "a", .value = "" },
            .{ .seq = 8, .value_type = .range_deletion, .key = "a", .value = "b" },
            .{ .seq = 9, .value_type = .value, .key = "a", .value = "" },
        };
        try testing.expectError(error.Duplicate, mt.addBatch(&twice, &failed));
        try testing.expect(failed.? == 0 or failed.? == 2);
        const misuse = [_]Record{
            .{ .seq = 10, .value_type = .value, .key = "x", .value = "" },
            .{ .seq = 11, .value_type = .single_deletion, .key = "k", .value = "" },
        };
        try testing.expectError(error.SingleDeleteMisuse, mt.addBatch(&misuse, &failed));
        try testing.expectEqual(@as(?usize, 1), failed);
        try testing.expectEqual(@as(u64, 2), mt.num_entries.load(.monotonic));
        try testing.expectEqual(@as(u64, 0), mt.numRangeDeletes());
    }
}

test "concurrent writers: point entries, tombstones and batches from four threads" {
    const live_before = arena_mod.bytes_live.load(.monotonic);
    const mt = try MemTable.create(.{ .concurrent_writes = true, .arena_block_size = 64 * 1024 });
    const Writer = struct {
        fn run(m: *MemTable, t: u64) void {
            var buf: [32]u8 = undefined;
            var i: u64 = 0;
            while (i < 3000) : (i += 1) {
                const seq = t * 1_000_000 + i + 1;
                const key = std.fmt.bufPrint(&buf, "k{d:0>5}", .{(i * 7 + t) % 5000}) catch unreachable;
                m.add(seq, .value, key, "v") catch unreachable;
                if (i % 500 == 0) m.addRangeDeletion(seq + 500_000, "k00000", "k00010") catch unreachable;
            }
            const recs = [_]Record{
                .{ .seq = t * 1_000_000 + 900_000, .value_type = .value, .key = "batch", .value = "b" },
                .{ .seq = t * 1_000_000 + 900_001, .value_type = .deletion, .key = "batch2", .value = "" },
                .{ .seq = t * 1_000_000 + 900_002, .value_type = .range_deletion, .key = "b", .value = "c" },
            };
            var failed: ?usize = null;
            m.addBatch(&recs, &failed) catch unreachable;
        }
    };
    var threads: [4]std.Thread = undefined;
    for (&threads, 0..) |*th, i| th.* = try std.Thread.spawn(.{}, Writer.run, .{ mt, @as(u64, i) });
    for (threads) |th| th.join();
    try testing.expectEqual(@as(u64, 4 * (3000 + 6 + 3)), mt.num_entries.load(.monotonic));
    try testing.expectEqual(@as(u64, 4 * 7), mt.numRangeDeletes());
    // Every entry is found, the list is sorted, and the tombstones fragment consistently.
    const skiplist_test = @import("../rep/skiplist_test.zig");
    try testing.expectEqual(@as(usize, 4 * 3002), try skiplist_test.expectSortedCount(&mt.rep.skiplist.list));
    const f = (try mt.acquireFragments()).?;
    try testing.expectEqual(@as(u64, 4 * 7), f.built_for);
    f.release();
    try testing.expect(mt.memoryUsage() <= mt.arena.allocatedBytes());
    try testing.expectEqual(@as(u32, 0), mt.unref());
    try testing.expectEqual(live_before, arena_mod.bytes_live.load(.monotonic));
}
