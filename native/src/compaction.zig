//! The compaction job natively: the entries of its input tables (sorted runs, newest first:
//! each level-0 file a run of its own, a deeper level's files one run) merged in internal-key
//! order, each user key's versions collapsed by the flush's rules, written to output tables cut
//! at the target size between user keys. The rules and the cuts are exactly those of
//! `src/flush/compaction_job.ts` (with `FlushRules` of `src/flush/flush_job.ts`), and
//! `tests/native_compaction.test.ts` checks that both write the same bytes:
//!
//! - Live snapshots cut a key's versions into stripes; per stripe the newest version no
//!   tombstone of its stripe covers is kept.
//! - A merge run of one stripe is folded with the built-in operator (`merge_operator.zig`): onto
//!   what ends it in the stripe, or onto nothing at the bottommost level's oldest stripe
//!   (`fullMerge`, a Value at the newest operand's sequence number); a run of two or more that
//!   reaches past its stripe becomes one operand (`partialMerge`). Without an operator the
//!   operands and what ends them are kept.
//! - `bottommost`: deletions of the oldest stripe are dropped (nothing older lies below), and
//!   so are tombstones older than every snapshot.
//! - Range tombstones (pieces of one tombstone, the same sequence number, joined again) go to
//!   every output whose key range they meet, cut to it: a piece ends at the next output's
//!   first key.
//!
//! Outputs are built in memory through `table_writer.zig` (the flush's blocks, filter and
//! finish path) and handed over one at a time (`step`), so the caller writes and syncs each file and
//! can stop between them. One thread uses a job at a time; it only reads its input files.
const std = @import("std");
const coding = @import("coding.zig");
const limits = @import("limits.zig");
const arena_mod = @import("arena.zig");
const TableWriter = @import("table_writer.zig").TableWriter;
const reader = @import("sst_reader.zig");
const merge_operator = @import("merge_operator.zig");

const Allocator = std.mem.Allocator;
const MergeOperator = merge_operator.MergeOperator;
const Table = reader.Table;

pub const job_magic: u64 = 0x434F4D50414A4F42; // "COMPAJOB"

pub const Error = reader.Error;

const value_type: u8 = @backingInt(limits.ValueType.value);
const merge_type: u8 = @backingInt(limits.ValueType.merge);

/// A version of the current user key, copied out of its block (offsets into `group_bytes`).
const Copied = struct { at: usize, key_len: usize, value_len: usize };

/// A version as the rules read it.
const Version = struct {
    ikey: []const u8,
    value: []const u8,

    fn userKey(v: Version) []const u8 {
        return v.ikey[0 .. v.ikey.len - 8];
    }
    fn trailer(v: Version) u64 {
        return std.mem.readInt(u64, v.ikey[v.ikey.len - 8 ..][0..8], .little);
    }
    fn seq(v: Version) u64 {
        return v.trailer() >> 8;
    }
    fn kind(v: Version) u8 {
        return @truncate(v.trailer());
    }
};

/// A range tombstone of the job (slices of its tables' tombstones; `end` may be another's).
const Tomb = struct { start: []const u8, end: []const u8, seq: u64 };

fn userKeyOf(ikey: []const u8) []const u8 {
    return ikey[0 .. ikey.len - 8];
}

fn lessTomb(_: void, a: Tomb, b: Tomb) bool {
    if (a.seq != b.seq) return a.seq < b.seq;
    return std.mem.order(u8, a.start, b.start) == .lt;
}

pub const Job = struct {
    magic: u64 = job_magic,
    gpa: Allocator,
    block_size: u32,
    restart_interval: u32,
    target_file_size: u64,
    bottommost: bool,
    /// The outputs' bloom filters: thousandths of a bit per key (0: none).
    millibits_per_key: u32,
    snapshots: std.ArrayList(u64) = .empty,
    merge: MergeOperator = .{ .kind = .none },
    /// The input tables, and where each run's tables begin in it.
    tables: std.ArrayList(Table) = .empty,
    run_starts: std.ArrayList(usize) = .empty,

    // The state of a started job.
    started: bool = false,
    done: bool = false,
    /// A step failed: the job only frees now.
    failed: bool = false,
    cursors: []reader.RunCursor = &.{},
    /// Every tombstone (joined), by sequence number then start; `kept` the ones outputs get.
    tombstones: std.ArrayList(Tomb) = .empty,
    kept: std.ArrayList(Tomb) = .empty,
    group_bytes: std.ArrayList(u8) = .empty,
    group: std.ArrayList(Copied) = .empty,
    versions: std.ArrayList(Version) = .empty,
    out: ?TableWriter = null,
    /// The first user key of the current output (none for the first output).
    lower: std.ArrayList(u8) = .empty,
    has_lower: bool = false,
    /// A finished output, until the next `step`.
    ready: ?TableWriter = null,
    input_entries: u64 = 0,
    output_entries: u64 = 0,
    operands: std.ArrayList([]const u8) = .empty,
    folded_key: std.ArrayList(u8) = .empty,
    folded_value: std.ArrayList(u8) = .empty,

    pub fn create(block_size: u32, restart_interval: u32, target_file_size: u64, bottommost: bool, millibits_per_key: u32) error{OutOfMemory}!*Job {
        std.debug.assert(block_size >= 1);
        std.debug.assert(restart_interval >= 1);
        const self = try arena_mod.allocTracked(Job);
        self.* = .{
            .gpa = arena_mod.backing_allocator,
            .block_size = block_size,
            .restart_interval = restart_interval,
            .target_file_size = target_file_size,
            .bottommost = bottommost,
            .millibits_per_key = millibits_per_key,
        };
        return self;
    }

    pub fn destroy(self: *Job) void {
        const gpa = self.gpa;
        for (self.cursors) |*c| c.deinit(gpa);
        gpa.free(self.cursors);
        for (self.tables.items) |*t| t.deinit(gpa);
        self.tables.deinit(gpa);
        self.run_starts.deinit(gpa);
        self.snapshots.deinit(gpa);
        self.merge.deinit(gpa);
        self.tombstones.deinit(gpa);
        self.kept.deinit(gpa);
        self.group_bytes.deinit(gpa);
        self.group.deinit(gpa);
        self.versions.deinit(gpa);
        if (self.out) |*o| o.destroy();
        if (self.ready) |*r| r.destroy();
        self.lower.deinit(gpa);
        self.operands.deinit(gpa);
        self.folded_key.deinit(gpa);
        self.folded_value.deinit(gpa);
        self.magic = 0;
        arena_mod.destroyTracked(self);
    }

    pub fn setMergeOperator(self: *Job, kind: merge_operator.Kind, delimiter: []const u8) error{ OutOfMemory, Invalid }!void {
        std.debug.assert(!self.started);
        const op = try MergeOperator.init(self.gpa, kind, delimiter);
        self.merge.deinit(self.gpa);
        self.merge = op;
    }

    /// Opens the table at `path` as the next file of the last run (`new_run`: of a new run).
    pub fn addTable(self: *Job, path: []const u8, new_run: bool) Error!void {
        std.debug.assert(!self.started);
        const gpa = self.gpa;
        // A refused table leaves the job as it was.
        try self.tables.ensureUnusedCapacity(gpa, 1);
        try self.run_starts.ensureUnusedCapacity(gpa, 1);
        const table = try Table.open(gpa, path);
        if (new_run or self.run_starts.items.len == 0) self.run_starts.appendAssumeCapacity(self.tables.items.len);
        self.tables.appendAssumeCapacity(table);
    }

    /// Runs until the next output is finished: true when `ready` holds it (valid until the
    /// next call), false when the job is done. The output handed out before is freed first.
    pub fn step(self: *Job) Error!bool {
        if (self.ready) |*r| r.destroy();
        self.ready = null;
        if (self.done) return false;
        if (!self.started) try self.start();
        const gpa = self.gpa;
        while (self.pick()) |best| {
            const c = &self.cursors[best];
            const ik = c.key();
            if (self.group.items.len > 0) {
                const last = self.group.items[self.group.items.len - 1];
                if (std.mem.eql(u8, self.group_bytes.items[last.at..][0..last.key_len], ik)) {
                    try c.next(gpa); // the same version in an older run: a moved copy
                    continue;
                }
            }
            self.input_entries += 1;
            var cut = false;
            if (self.group.items.len > 0) {
                const first = self.group.items[0];
                const first_user = self.group_bytes.items[first.at..][0 .. first.key_len - 8];
                if (!std.mem.eql(u8, first_user, userKeyOf(ik))) {
                    try self.flushGroup();
                    if (self.out.?.fileSize() >= self.target_file_size) {
                        try self.finishOutput(userKeyOf(ik));
                        try self.newOutput(userKeyOf(ik));
                        cut = self.ready != null;
                    }
                }
            }
            const at = self.group_bytes.items.len;
            try self.group_bytes.appendSlice(gpa, ik);
            try self.group_bytes.appendSlice(gpa, c.value());
            try self.group.append(gpa, .{ .at = at, .key_len = ik.len, .value_len = c.value().len });
            try c.next(gpa);
            if (cut) return true;
        }
        if (self.group.items.len > 0) try self.flushGroup();
        try self.finishOutput(null);
        self.done = true;
        return self.ready != null;
    }

    /// The run whose entry comes first in internal-key order (the newer run for equal ones).
    fn pick(self: *const Job) ?usize {
        var best: ?usize = null;
        var best_key: coding.Key = undefined;
        for (self.cursors, 0..) |*c, i| {
            if (!c.valid) continue;
            const k = splitIkey(c.key());
            if (best == null or coding.compareKeys(k, best_key) == .lt) {
                best = i;
                best_key = k;
            }
        }
        return best;
    }

    fn splitIkey(ikey: []const u8) coding.Key {
        return .{ .user_key = userKeyOf(ikey), .trailer = std.mem.readInt(u64, ikey[ikey.len - 8 ..][0..8], .little) };
    }

    fn start(self: *Job) Error!void {
        const gpa = self.gpa;
        self.started = true;
        std.mem.sort(u64, self.snapshots.items, {}, std.sort.asc(u64));
        const runs = self.run_starts.items.len;
        self.cursors = try gpa.alloc(reader.RunCursor, runs);
        for (self.cursors, 0..) |*c, i| {
            const from = self.run_starts.items[i];
            const to = if (i + 1 < runs) self.run_starts.items[i + 1] else self.tables.items.len;
            c.* = .{ .tables = self.tables.items[from..to] };
        }
        try self.joinTombstones();
        for (self.cursors) |*c| try c.next(gpa);
        try self.newOutput(null);
    }

    /// Every table's tombstones by sequence number then start, the pieces of one tombstone
    /// (the same sequence number) joined where they meet or overlap; then those the outputs
    /// keep (at the bottommost level, not those older than every snapshot).
    fn joinTombstones(self: *Job) error{OutOfMemory}!void {
        const gpa = self.gpa;
        var all: std.ArrayList(Tomb) = .empty;
        defer all.deinit(gpa);
        for (self.tables.items) |t| {
            for (t.tombstones) |x| try all.append(gpa, .{ .start = x.start, .end = x.end, .seq = x.seq });
        }
        std.mem.sort(Tomb, all.items, {}, lessTomb);
        for (all.items) |t| {
            const n = self.tombstones.items.len;
            if (n > 0) {
                const prev = &self.tombstones.items[n - 1];
                if (prev.seq == t.seq and std.mem.order(u8, t.start, prev.end) != .gt) {
                    if (std.mem.order(u8, t.end, prev.end) == .gt) prev.end = t.end;
                    continue;
                }
            }
            try self.tombstones.append(gpa, t);
        }
        for (self.tombstones.items) |t| {
            const needed = !self.bottommost or
                (self.snapshots.items.len > 0 and self.snapshots.items[0] < t.seq);
            if (needed) try self.kept.append(gpa, t);
        }
    }

    fn newOutput(self: *Job, lower: ?[]const u8) error{OutOfMemory}!void {
        std.debug.assert(self.out == null);
        self.lower.clearRetainingCapacity();
        self.has_lower = lower != null;
        if (lower) |l| try self.lower.appendSlice(self.gpa, l);
        self.out = try TableWriter.create(self.block_size, self.restart_interval, self.millibits_per_key);
    }

    /// Ends the current output, for keys in [lower, upper): the tombstones meeting that range,
    /// cut to it, join it; it becomes `ready` unless it holds nothing.
    fn finishOutput(self: *Job, upper: ?[]const u8) Error!void {
        std.debug.assert(self.ready == null);
        var w = self.out.?;
        self.out = null;
        errdefer w.destroy();
        for (self.kept.items) |t| {
            const s = if (self.has_lower and std.mem.order(u8, t.start, self.lower.items) == .lt) self.lower.items else t.start;
            const e = if (upper) |u| (if (std.mem.order(u8, u, t.end) == .lt) u else t.end) else t.end;
            if (std.mem.order(u8, s, e) != .lt) continue; // not in this output's range
            try w.addRangeTombstone(s, e, t.seq);
        }
        if (w.entryCount() == 0) {
            w.destroy();
            return;
        }
        try w.finish();
        self.ready = w;
    }

    /// The rules for the current user key's versions (newest first), then the group emptied.
    fn flushGroup(self: *Job) Error!void {
        self.versions.clearRetainingCapacity();
        for (self.group.items) |g| {
            const b = self.group_bytes.items[g.at..];
            try self.versions.append(self.gpa, .{ .ikey = b[0..g.key_len], .value = b[g.key_len..][0..g.value_len] });
        }
        try self.flushKey(self.versions.items);
        self.group.clearRetainingCapacity();
        self.group_bytes.clearRetainingCapacity();
    }

    /// Index of the first snapshot ≥ seq: versions with the same index are one stripe.
    fn stripe(self: *const Job, seq: u64) usize {
        return std.sort.lowerBound(u64, self.snapshots.items, seq, orderU64);
    }

    fn orderU64(a: u64, b: u64) std.math.Order {
        return std.math.order(a, b);
    }

    /// Whether a tombstone of `v`'s stripe covers it: one newer than `v`, not newer than the
    /// stripe's snapshot, whose range holds the key.
    fn covered(self: *const Job, v: Version) bool {
        const seq = v.seq();
        const i = self.stripe(seq);
        const ceiling = if (i < self.snapshots.items.len) self.snapshots.items[i] else limits.sequence_max;
        const key = v.userKey();
        for (self.tombstones.items) |t| {
            if (t.seq > ceiling) break; // by sequence number: the rest are newer still
            if (t.seq <= seq) continue;
            if (std.mem.order(u8, t.start, key) != .gt and std.mem.order(u8, key, t.end) == .lt) return true;
        }
        return false;
    }

    fn emit(self: *Job, ikey: []const u8, value: []const u8) error{OutOfMemory}!void {
        try self.out.?.add(ikey, value);
        self.output_entries += 1;
    }

    /// Per stripe the newest version not covered by a tombstone of its stripe; a merge run
    /// with what ends it goes to `flushRun`.
    fn flushKey(self: *Job, versions: []const Version) Error!void {
        var last_stripe: ?usize = null;
        var i: usize = 0;
        while (i < versions.len) {
            const v = versions[i];
            const st = self.stripe(v.seq());
            if ((last_stripe != null and last_stripe.? == st) or self.covered(v)) {
                i += 1;
                continue; // hidden by a newer version or a tombstone of its stripe
            }
            last_stripe = st;
            if (v.kind() != merge_type) {
                // At the bottom, a deletion of the oldest stripe has nothing left to hide.
                const spent = self.bottommost and st == 0 and v.kind() != value_type;
                if (!spent) try self.emit(v.ikey, v.value);
                i += 1;
                continue;
            }
            var j = i;
            while (j < versions.len and versions[j].kind() == merge_type and
                self.stripe(versions[j].seq()) == st and !self.covered(versions[j])) j += 1;
            const below: ?Version = if (j < versions.len and self.stripe(versions[j].seq()) == st) versions[j] else null;
            const bottom = self.bottommost and st == 0;
            const took = try self.flushRun(versions[i..j], below, bottom);
            i = j + @intFromBool(took);
        }
    }

    /// Writes a merge run (newest first) and returns whether `below`, the version that ends
    /// it in its stripe, was used up with it. `bottom`: nothing older exists.
    fn flushRun(self: *Job, run: []const Version, below: ?Version, bottom: bool) Error!bool {
        std.debug.assert(run.len > 0);
        const gpa = self.gpa;
        const folds = self.merge.folds();
        if (folds and (below != null or bottom or run.len > 1)) {
            self.operands.clearRetainingCapacity();
            var k = run.len;
            while (k > 0) {
                k -= 1;
                try self.operands.append(gpa, run[k].value);
            }
            self.folded_value.clearRetainingCapacity();
            var result_type = limits.ValueType.merge;
            if (below != null or bottom) {
                // The run ends here: a Value, a deletion, a version a tombstone hides, or nothing.
                const base: ?[]const u8 = if (below) |b|
                    (if (b.kind() == value_type and !self.covered(b)) b.value else null)
                else
                    null;
                try self.merge.fullMerge(gpa, base, self.operands.items, &self.folded_value);
                result_type = .value;
            } else {
                try self.merge.partialMerge(gpa, self.operands.items, &self.folded_value);
            }
            const newest = run[0];
            self.folded_key.clearRetainingCapacity();
            try self.folded_key.appendSlice(gpa, newest.userKey());
            var trailer: [coding.trailer_size]u8 = undefined;
            std.mem.writeInt(u64, &trailer, coding.packTrailer(newest.seq(), @backingInt(result_type)), .little);
            try self.folded_key.appendSlice(gpa, &trailer);
            try self.emit(self.folded_key.items, self.folded_value.items);
            return below != null;
        }
        for (run) |w| try self.emit(w.ikey, w.value);
        const b = below orelse return false;
        if (!self.covered(b)) try self.emit(b.ikey, b.value);
        return true;
    }
};

const testing = std.testing;

fn writeTable(path: [:0]const u8, entries: []const struct { []const u8, u64, limits.ValueType, []const u8 }, tombs: []const struct { []const u8, []const u8, u64 }) !void {
    var w = try TableWriter.create(4096, 16, 0);
    defer w.destroy();
    for (entries) |e| {
        var ik: [64]u8 = undefined;
        @memcpy(ik[0..e[0].len], e[0]);
        std.mem.writeInt(u64, ik[e[0].len..][0..8], coding.packTrailer(e[1], @backingInt(e[2])), .little);
        try w.add(ik[0 .. e[0].len + 8], e[3]);
    }
    for (tombs) |t| try w.addRangeTombstone(t[0], t[1], t[2]);
    try w.finish();
    const linux = std.os.linux;
    const rc = linux.open(path, .{ .ACCMODE = .WRONLY, .CREAT = true, .TRUNC = true }, 0o644);
    try testing.expect(linux.errno(rc) == .SUCCESS);
    const fd: i32 = @intCast(rc);
    defer _ = linux.close(fd);
    const bytes = w.bytes();
    try testing.expectEqual(bytes.len, linux.write(fd, bytes.ptr, bytes.len));
}

fn collect(job: *Job, into: *std.ArrayList(u8)) !usize {
    var outputs: usize = 0;
    while (try job.step()) {
        outputs += 1;
        try into.appendSlice(testing.allocator, job.ready.?.bytes());
    }
    return outputs;
}

test "the native compaction merges runs newest first, keeps a version per stripe and drops what tombstones cover" {
    const builtin = @import("builtin");
    if (builtin.os.tag != .linux) return error.SkipZigTest;
    const pid = std.os.linux.getpid();
    var p1: [64]u8 = @splat(0);
    var p2: [64]u8 = @splat(0);
    const newer = p1[0..(try std.fmt.bufPrint(&p1, "/tmp/memtable-compaction-test-{d}-1.sst", .{pid})).len :0];
    const older = p2[0..(try std.fmt.bufPrint(&p2, "/tmp/memtable-compaction-test-{d}-2.sst", .{pid})).len :0];
    defer _ = std.os.linux.unlink(newer);
    defer _ = std.os.linux.unlink(older);
    try writeTable(newer, &.{
        .{ "a", 9, .value, "a9" },
        .{ "b", 8, .merge, "m8" },
        .{ "c", 7, .deletion, "" },
    }, &.{.{ "d", "f", 6 }});
    try writeTable(older, &.{
        .{ "a", 3, .value, "a3" },
        .{ "b", 2, .value, "b2" },
        .{ "c", 1, .value, "c1" },
        .{ "e", 4, .value, "e4" }, // covered by [d, f) at 6
    }, &.{});
    var bytes: std.ArrayList(u8) = .empty;
    defer bytes.deinit(testing.allocator);
    {
        // Not bottommost, no snapshot: a9, b (m8 folded onto b2 with string append), c's deletion.
        const job = try Job.create(4096, 16, 1 << 20, false, 0);
        defer job.destroy();
        try job.setMergeOperator(.string_append, ",");
        try job.addTable(newer, true);
        try job.addTable(older, true);
        try testing.expectEqual(@as(usize, 1), try collect(job, &bytes));
        try testing.expectEqual(@as(u64, 7), job.input_entries);
        try testing.expectEqual(@as(u64, 3), job.output_entries);
        try testing.expect(std.mem.indexOf(u8, bytes.items, "b2,m8") != null);
        try testing.expect(std.mem.indexOf(u8, bytes.items, "e4") == null);
        try testing.expect(std.mem.indexOf(u8, bytes.items, "rocksdb.range_del") != null);
    }
    bytes.clearRetainingCapacity();
    {
        // Bottommost, a snapshot at 2, one-byte data blocks and a one-byte target: a9 (a3 is
        // its stripe's older version), m8 and b2 (two stripes, no operator), c's deletion (not
        // of the oldest stripe) and c1; e4 is covered. Outputs are cut between user keys once
        // a block is written: [a, b], [c] with the tombstone cut to [d, e), then [e, f) alone.
        const job = try Job.create(1, 16, 1, true, 0);
        defer job.destroy();
        try job.snapshots.append(job.gpa, 2);
        try job.addTable(newer, true);
        try job.addTable(older, true);
        try testing.expectEqual(@as(usize, 3), try collect(job, &bytes));
        try testing.expectEqual(@as(u64, 5), job.output_entries);
    }
}

test "a damaged input table is corruption when its block is read, a missing one an I/O error" {
    const builtin = @import("builtin");
    if (builtin.os.tag != .linux) return error.SkipZigTest;
    var p: [64]u8 = @splat(0);
    const path = p[0..(try std.fmt.bufPrint(&p, "/tmp/memtable-compaction-test-{d}-3.sst", .{std.os.linux.getpid()})).len :0];
    defer _ = std.os.linux.unlink(path);
    try writeTable(path, &.{.{ "k", 1, .value, "v" }}, &.{});
    var t = try Table.open(testing.allocator, path);
    t.deinit(testing.allocator);
    // Flip a byte of the first data block: its checksum no longer matches.
    const linux = std.os.linux;
    const fd: i32 = @intCast(linux.open(path, .{ .ACCMODE = .RDWR }, 0));
    _ = linux.pwrite(fd, "X", 1, 2);
    _ = linux.close(fd);
    const job = try Job.create(4096, 16, 1 << 20, false, 0);
    defer job.destroy();
    try job.addTable(path, true);
    try testing.expectError(error.Corruption, job.step());
    try testing.expectError(error.Io, Table.open(testing.allocator, "/nonexistent/memtable.sst"));
}
