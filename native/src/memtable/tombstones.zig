//! A memtable's range tombstones and the rule of what they hide.
//!
//! Tombstones live apart from point entries, as in RocksDB: in the memtable's `range_del`
//! skiplist, entry key = start ‖ trailer with type RangeDeletion, value = end (exclusive). Each
//! one is also pushed on a log (newest first, in the arena) after it is linked, so a reader can
//! tell which tombstones the cached fragment list (`fragments.zig`) does not include yet: their
//! `ordinal` is above the list's `built_for`.
//!
//! Visibility: a version of a key at sequence number `s` is hidden, for a reader at a snapshot,
//! by the newest tombstone covering the key at or below that snapshot when that tombstone's
//! sequence number is above `s` (`hides`). A tombstone at the same sequence number hides
//! nothing; one newer than the snapshot does not exist for the reader.
//!
//! Thread safety: tombstones are added by the memtable's writers (one at a time, or
//! concurrently with CAS links and a lock-free log push). Readers never block writers: they take
//! a reference to the cached list under a spinlock held for a pointer load, scan the few
//! tombstones logged since it was built, and fold those into a new list when there are more
//! (publishing it unless a newer one got there first).
const std = @import("std");
const limits = @import("../limits.zig");
const coding = @import("../coding.zig");
const arena_mod = @import("../arena.zig");
const skiplist = @import("../rep/skiplist.zig");
const skiplist_run = @import("../rep/skiplist_run.zig");
const fragments = @import("fragments.zig");
const mt_mod = @import("memtable.zig");
const MemTable = mt_mod.MemTable;

const Node = skiplist.Node;
const Fragments = fragments.Fragments;
const Tombstone = fragments.Tombstone;

/// Whether a tombstone at `tombstone_seq` (the newest covering a key at or below the reader's
/// snapshot; 0 for none) hides a version of that key at `version_seq`.
pub inline fn hides(tombstone_seq: u64, version_seq: u64) bool {
    return tombstone_seq > version_seq;
}

/// One logged tombstone: its node in `range_del` and its place in the order of additions.
pub const TombstoneLog = struct {
    node: *Node,
    ordinal: u64,
    prev: ?*TombstoneLog,
};

/// A read scans at most this many tombstones added since the cached fragment list was built
/// before it folds them in (a rebuild that costs one pass over the list).
const pending_scan_max = 16;

/// The memtable's tombstone bookkeeping beside `range_del`.
pub const State = struct {
    /// The newest logged tombstone (the log's head).
    log: std.atomic.Value(?*TombstoneLog) = .init(null),
    /// Tombstones added (RocksDB's num_range_deletes): the log's length once published.
    count: std.atomic.Value(u64) = .init(0),
    /// The cached fragments (one reference) and the lock that guards taking a reference to
    /// them; readers of a memtable without range tombstones never touch either.
    cache: ?*Fragments = null,
    cache_lock: arena_mod.SpinLock = .{},

    /// Frees the cached list's reference (the memtable is being freed).
    pub fn deinit(self: *State) void {
        if (self.cache) |f| f.release();
        self.cache = null;
    }
};

fn tombstoneOf(node: *Node) Tombstone {
    const e = coding.decodeEntry(node.entry());
    std.debug.assert(e.key.valueType() == @backingInt(limits.ValueType.range_deletion));
    return .{ .start = e.key.user_key, .end = e.value, .seq = e.key.sequence() };
}

fn newLogEntry(mt: *MemTable) error{OutOfMemory}!*TombstoneLog {
    const raw = try mt.arena.allocateAligned(@sizeOf(TombstoneLog));
    return @ptrCast(@alignCast(raw));
}

/// Makes a linked tombstone visible to the fragment cache (a lock-free push).
fn publish(mt: *MemTable, log: *TombstoneLog) void {
    std.debug.assert(log.node.key().valueType() == @backingInt(limits.ValueType.range_deletion));
    var head = mt.tombstones.log.load(.acquire);
    while (true) {
        log.prev = head;
        log.ordinal = if (head) |h| h.ordinal + 1 else 1;
        head = mt.tombstones.log.cmpxchgWeak(head, log, .release, .acquire) orelse break;
    }
    _ = mt.tombstones.count.fetchAdd(1, .release);
}

/// Stores the tombstone [start, end) at `seq`: links it into `range_del` and publishes it.
/// REQUIRES: the caller entered the write (the memtable's guard); start ≤ end.
pub fn add(mt: *MemTable, seq: u64, start: []const u8, end: []const u8) mt_mod.AddError!void {
    std.debug.assert(std.mem.order(u8, start, end) != .gt);
    if (!mt.concurrent_writes) std.debug.assert(mt.writing.load(.monotonic) == 1);
    const ikey: coding.Key = .{ .user_key = start, .trailer = coding.packTrailer(seq, @backingInt(limits.ValueType.range_deletion)) };
    const log = try newLogEntry(mt);
    log.node = if (mt.concurrent_writes)
        try mt.range_del.insertConcurrently(ikey, end)
    else
        try mt.range_del.insert(ikey, end);
    mt.counted(seq, .range_deletion, start.len, end.len);
    publish(mt, log);
}

/// The tombstones of a batch (`batch.zig`), in the three steps of `skiplist_run.Run`; `link`
/// publishes each after linking it.
pub const Batch = struct {
    mt: *MemTable,
    run: skiplist_run.Run,
    logs: []*TombstoneLog,

    /// REQUIRES: `entries` as `skiplist_run.Run` wants them (ascending with one writer).
    pub fn init(gpa: std.mem.Allocator, mt: *MemTable, entries: []const coding.Entry) error{OutOfMemory}!Batch {
        var run = try skiplist_run.Run.init(gpa, &mt.range_del, entries, mt.concurrent_writes);
        errdefer run.deinit(gpa);
        return .{ .mt = mt, .run = run, .logs = try gpa.alloc(*TombstoneLog, entries.len) };
    }

    pub fn deinit(self: *Batch, gpa: std.mem.Allocator) void {
        self.run.deinit(gpa);
        gpa.free(self.logs);
        self.* = undefined;
    }

    pub fn check(self: *Batch, failed: *usize) skiplist.InsertError!void {
        return self.run.check(failed);
    }

    pub fn allocate(self: *Batch) error{OutOfMemory}!void {
        try self.run.allocate();
        for (self.logs) |*l| l.* = try newLogEntry(self.mt);
    }

    /// Links and publishes every tombstone; an error only as `skiplist_run.Run.link` has one
    /// (concurrent writers), with the tombstones before `failed` linked and published.
    pub fn link(self: *Batch, failed: *usize) skiplist.InsertError!void {
        self.run.link(failed) catch |err| {
            std.debug.assert(self.mt.concurrent_writes); // one writer: checked before
            self.publishLinked(failed.*);
            return err;
        };
        self.publishLinked(self.logs.len);
    }

    fn publishLinked(self: *Batch, linked: usize) void {
        for (self.run.entries[0..linked], self.run.nodes[0..linked], self.logs[0..linked]) |e, u, log| {
            self.mt.counted(e.key.sequence(), .range_deletion, e.key.user_key.len, e.value.len);
            log.node = u.node;
            publish(self.mt, log);
        }
    }
};

pub fn count(mt: *const MemTable) u64 {
    return mt.tombstones.count.load(.acquire);
}

fn cached(mt: *MemTable) ?*Fragments {
    mt.tombstones.cache_lock.lock();
    defer mt.tombstones.cache_lock.unlock();
    const f = mt.tombstones.cache orelse return null;
    f.acquire();
    return f;
}

/// The fragmented range tombstones, up to date, with a reference for the caller (release
/// it), or null when there are none. The list is cached; tombstones added since it was
/// built are folded into a new list in one pass over the old one (RocksDB rebuilds its
/// cached list from scratch after every range deletion).
pub fn acquireFragments(mt: *MemTable) error{OutOfMemory}!?*Fragments {
    if (count(mt) == 0) return null;
    const old = cached(mt);
    const head = mt.tombstones.log.load(.acquire).?;
    if (old) |f| {
        if (f.built_for >= head.ordinal) return f;
    }
    defer if (old) |f| f.release();
    return try rebuild(mt, old, head);
}

/// The largest sequence number ≤ `snapshot` of a range tombstone that covers `key`; 0 if
/// none. Uses the cached fragment list and scans the few tombstones added since it was
/// built; when there are more, folds them in first.
pub fn maxCovering(mt: *MemTable, key: []const u8, snapshot: u64) error{OutOfMemory}!u64 {
    if (count(mt) == 0) return 0;
    const old = cached(mt);
    defer if (old) |f| f.release();
    const built = if (old) |f| f.built_for else 0;
    var best: u64 = 0;
    var scanned: u32 = 0;
    var log = mt.tombstones.log.load(.acquire);
    while (log) |l| : (log = l.prev) {
        if (l.ordinal <= built) break;
        scanned += 1;
        if (scanned > pending_scan_max) {
            const fresh = try rebuild(mt, old, mt.tombstones.log.load(.acquire).?);
            defer fresh.release();
            return fresh.maxCovering(key, snapshot);
        }
        const t = tombstoneOf(l.node);
        if (t.seq <= snapshot and t.seq > best and std.mem.order(u8, t.start, key) != .gt and
            std.mem.order(u8, key, t.end) == .lt) best = t.seq;
    }
    if (old) |f| best = @max(best, f.maxCovering(key, snapshot));
    std.debug.assert(best <= snapshot);
    return best;
}

/// A list with every tombstone up to `head` (`old` plus the ones logged after it), published
/// as the cache unless a newer one got there first; returned with a reference.
fn rebuild(mt: *MemTable, old: ?*Fragments, head: *TombstoneLog) error{OutOfMemory}!*Fragments {
    const gpa = arena_mod.backing_allocator;
    const built = if (old) |f| f.built_for else 0;
    std.debug.assert(head.ordinal > built);
    var fresh_tombs: std.ArrayList(Tombstone) = .empty;
    defer fresh_tombs.deinit(gpa);
    var log: ?*TombstoneLog = head;
    while (log) |l| : (log = l.prev) {
        if (l.ordinal <= built) break;
        try fresh_tombs.append(gpa, tombstoneOf(l.node));
    }
    const fresh = try fragments.build(old, fresh_tombs.items, head.ordinal);
    const state = &mt.tombstones;
    state.cache_lock.lock();
    if (state.cache) |current| {
        if (current.built_for >= fresh.built_for) {
            current.acquire();
            state.cache_lock.unlock();
            fresh.release();
            return current;
        }
    }
    const replaced = state.cache;
    state.cache = fresh;
    fresh.acquire(); // the caller's; the cache keeps the first
    state.cache_lock.unlock();
    if (replaced) |r| r.release();
    return fresh;
}

const testing = std.testing;

test "range tombstones: cached fragments, rebuilt after each new one, old lists stay valid" {
    const live_before = arena_mod.bytes_live.load(.monotonic);
    const mt = try MemTable.create(.{ .write_buffer_size = 1 << 20 });
    try testing.expect((try mt.acquireFragments()) == null);
    try mt.addRangeDeletion(10, "b", "f");
    try mt.addRangeDeletion(20, "d", "h");
    try mt.addRangeDeletion(5, "a", "z");
    try mt.addRangeDeletion(30, "k", "k"); // empty: stored, hides nothing
    try testing.expectError(error.Duplicate, mt.addRangeDeletion(10, "b", "x"));
    try testing.expectEqual(@as(u64, 4), mt.numRangeDeletes());
    const f = (try mt.acquireFragments()).?;
    // a[5] b[10,5] d[20,10,5] f[20,5] h[5] until z
    const starts = [_][]const u8{ "a", "b", "d", "f", "h" };
    try testing.expectEqual(starts.len, f.frags.len);
    for (starts, f.frags) |want, got| try testing.expectEqualStrings(want, got.start);
    try testing.expectEqual(@as(u64, 20), f.maxCovering("e", 100));
    try testing.expectEqual(@as(u64, 10), f.maxCovering("e", 19));
    try testing.expectEqual(@as(u64, 5), f.maxCovering("e", 9));
    try testing.expectEqual(@as(u64, 0), f.maxCovering("e", 4));
    try testing.expectEqual(@as(u64, 5), f.maxCovering("yy", 100));
    try testing.expectEqual(@as(u64, 0), f.maxCovering("z", 100));
    try testing.expectEqual(@as(u64, 0), f.maxCovering("", 100));
    // Cached: the same list until a new tombstone arrives.
    const again = (try mt.acquireFragments()).?;
    try testing.expect(again == f);
    again.release();
    try mt.addRangeDeletion(40, "y", "zz");
    const rebuilt = (try mt.acquireFragments()).?;
    try testing.expect(rebuilt != f);
    try testing.expectEqual(@as(u64, 0), f.maxCovering("z", 100)); // the old list stays valid
    try testing.expectEqual(@as(u64, 40), rebuilt.maxCovering("z", 100));
    f.release();
    rebuilt.release();
    try testing.expectEqual(@as(u32, 0), mt.unref());
    try testing.expectEqual(live_before, arena_mod.bytes_live.load(.monotonic));
}

test "fragments folded in incrementally answer like fragments built at once" {
    var prng = std.Random.DefaultPrng.init(20261126);
    const rnd = prng.random();
    const step = try MemTable.create(.{});
    defer _ = step.unref();
    const whole = try MemTable.create(.{});
    defer _ = whole.unref();
    var keys: [64][2]u8 = undefined;
    for (&keys, 0..) |*k, i| k.* = .{ 'a' + @as(u8, @intCast(i / 8)), 'a' + @as(u8, @intCast(i % 8)) };
    var seq: u64 = 1;
    while (seq <= 300) : (seq += 1) {
        const lo = rnd.uintLessThan(usize, keys.len);
        const hi = @min(keys.len - 1, lo + rnd.uintLessThan(usize, 12));
        try step.addRangeDeletion(seq, &keys[lo], &keys[hi]);
        try whole.addRangeDeletion(seq, &keys[lo], &keys[hi]);
        // Reads in between: sometimes through the pending scan, sometimes a fold.
        if (rnd.boolean()) _ = try step.maxCovering(&keys[rnd.uintLessThan(usize, keys.len)], seq);
        if (rnd.uintLessThan(u32, 20) == 0) (try step.acquireFragments()).?.release();
    }
    const a = (try step.acquireFragments()).?;
    defer a.release();
    const b = (try whole.acquireFragments()).?;
    defer b.release();
    for (keys) |k| {
        var snap: u64 = 0;
        while (snap <= 310) : (snap += 7) {
            try testing.expectEqual(b.maxCovering(&k, snap), a.maxCovering(&k, snap));
            try testing.expectEqual(b.maxCovering(&k, snap), try step.maxCovering(&k, snap));
        }
    }
}
