//! Fragmented range tombstones (RocksDB's FragmentedRangeTombstoneList): a memtable's range
//! tombstones cut into non-overlapping fragments, each with the sequence numbers of the
//! tombstones that cover it, so "the newest tombstone over this key at or below this snapshot"
//! is a binary search and a short scan.
//!
//! Invariants of a list: fragments are sorted by start and do not overlap (each `start < end`,
//! each `end ≤` the next `start`); a fragment's sequence numbers are distinct and descending.
//! A list never changes once built; `build` folds new tombstones into a new list.
//!
//! Thread safety: a built list is immutable and read without locks. It is reference-counted:
//! its memtable's cache holds one reference, every reader (a get, an iterator, a flush) one while
//! it uses the list; the last `release` frees it.
const std = @import("std");
const arena_mod = @import("../arena.zig");

/// A range tombstone: [start, end) deleted at `seq`.
pub const Tombstone = struct { start: []const u8, end: []const u8, seq: u64 };

/// One fragment of the range tombstones: [start, end) is covered by the tombstones whose
/// sequence numbers are seqs[seqs_from..seqs_to] (descending, distinct).
pub const Fragment = struct {
    start: []const u8,
    end: []const u8,
    seqs_from: u32,
    seqs_to: u32,
};

pub const Fragments = struct {
    refs: std.atomic.Value(u32) = .init(1),
    /// The tombstone count this list was built from (at least that many are in it).
    built_for: u64,
    frags: []Fragment,
    seqs: []u64,

    pub fn release(self: *Fragments) void {
        const before = self.refs.fetchSub(1, .acq_rel);
        std.debug.assert(before > 0);
        if (before != 1) return;
        arena_mod.freeSliceTracked(self.frags);
        arena_mod.freeSliceTracked(self.seqs);
        arena_mod.destroyTracked(self);
    }

    /// Another reference for a reader. REQUIRES: the caller holds one (or the lock of the
    /// cache that does).
    pub fn acquire(self: *Fragments) void {
        const before = self.refs.fetchAdd(1, .monotonic);
        std.debug.assert(before > 0);
    }

    /// Index of the fragment that contains `key`, or null.
    pub fn find(self: *const Fragments, key: []const u8) ?usize {
        var lo: usize = 0;
        var hi: usize = self.frags.len;
        while (lo < hi) {
            const mid = lo + (hi - lo) / 2;
            if (std.mem.order(u8, self.frags[mid].start, key) != .gt) lo = mid + 1 else hi = mid;
        }
        if (lo == 0) return null;
        const f = self.frags[lo - 1];
        return if (std.mem.order(u8, key, f.end) == .lt) lo - 1 else null;
    }

    /// Whether fragment `i` contains `key`.
    pub fn contains(self: *const Fragments, i: usize, key: []const u8) bool {
        std.debug.assert(i < self.frags.len);
        const f = self.frags[i];
        return std.mem.order(u8, f.start, key) != .gt and std.mem.order(u8, key, f.end) == .lt;
    }

    /// The largest sequence number ≤ `snapshot` of a tombstone in fragment `i`; 0 if none.
    pub fn maxSeqIn(self: *const Fragments, i: usize, snapshot: u64) u64 {
        std.debug.assert(i < self.frags.len);
        const f = self.frags[i];
        for (self.seqs[f.seqs_from..f.seqs_to]) |s| if (s <= snapshot) return s;
        return 0;
    }

    /// The largest sequence number ≤ `snapshot` of a tombstone covering `key`; 0 if none (a
    /// tombstone at seq 0 hides nothing: it covers versions with a smaller seq).
    pub fn maxCovering(self: *const Fragments, key: []const u8, snapshot: u64) u64 {
        const i = self.find(key) orelse return 0;
        return self.maxSeqIn(i, snapshot);
    }

    /// The file's invariants, checked (tests and safety builds after a build).
    fn verify(self: *const Fragments) void {
        for (self.frags, 0..) |f, i| {
            std.debug.assert(std.mem.order(u8, f.start, f.end) == .lt);
            std.debug.assert(f.seqs_from < f.seqs_to);
            if (i > 0) std.debug.assert(std.mem.order(u8, self.frags[i - 1].end, f.start) != .gt);
            const run = self.seqs[f.seqs_from..f.seqs_to];
            for (run[1..], run[0 .. run.len - 1]) |s, above| std.debug.assert(s < above);
        }
    }
};

fn lessTombstone(_: void, a: Tombstone, b: Tombstone) bool {
    return std.mem.order(u8, a.start, b.start) == .lt;
}

fn lessBytes(_: void, a: []const u8, b: []const u8) bool {
    return std.mem.order(u8, a, b) == .lt;
}

fn greaterSeq(_: void, a: u64, b: u64) bool {
    return a > b;
}

/// A new list, with one reference, of `old`'s fragments and the tombstones `fresh` (none of
/// them in `old`; any order; empty ones hide nothing and are left out), built for `built_for`
/// tombstones. A sweep over the boundaries of both, in order: every elementary interval gets
/// the union of the old fragment's seqs and the seqs of the new tombstones over it.
/// O(old fragments + new tombstones · log). `fresh` is reordered.
pub fn build(old: ?*const Fragments, fresh: []Tombstone, built_for: u64) error{OutOfMemory}!*Fragments {
    const gpa = arena_mod.backing_allocator;
    var tombs: std.ArrayList(Tombstone) = .empty;
    defer tombs.deinit(gpa);
    var new_bounds: std.ArrayList([]const u8) = .empty;
    defer new_bounds.deinit(gpa);
    for (fresh) |t| {
        if (std.mem.order(u8, t.start, t.end) != .lt) continue; // empty: hides nothing
        try tombs.append(gpa, t);
        try new_bounds.append(gpa, t.start);
        try new_bounds.append(gpa, t.end);
    }
    std.mem.sort(Tombstone, tombs.items, {}, lessTombstone);
    std.mem.sort([]const u8, new_bounds.items, {}, lessBytes);
    const old_frags: []const Fragment = if (old) |f| f.frags else &.{};
    var bounds = try mergeBounds(gpa, old_frags, new_bounds.items);
    defer bounds.deinit(gpa);

    var sweep: Sweep = .{ .old = old, .tombs = tombs.items };
    defer sweep.deinit(gpa);
    try sweep.run(gpa, bounds.items);

    const out = try arena_mod.allocTracked(Fragments);
    errdefer arena_mod.destroyTracked(out);
    const out_frags = try arena_mod.allocSliceTracked(Fragment, sweep.frags.items.len);
    errdefer arena_mod.freeSliceTracked(out_frags);
    const out_seqs = try arena_mod.allocSliceTracked(u64, sweep.seqs.items.len);
    @memcpy(out_frags, sweep.frags.items);
    @memcpy(out_seqs, sweep.seqs.items);
    out.* = .{ .built_for = built_for, .frags = out_frags, .seqs = out_seqs };
    if (std.debug.runtime_safety) out.verify();
    return out;
}

/// Every boundary in order, each once: the old fragments' (already sorted) merged with `new`
/// (sorted).
fn mergeBounds(gpa: std.mem.Allocator, old_frags: []const Fragment, new: []const []const u8) error{OutOfMemory}!std.ArrayList([]const u8) {
    var bounds: std.ArrayList([]const u8) = .empty;
    errdefer bounds.deinit(gpa);
    try bounds.ensureTotalCapacity(gpa, 2 * old_frags.len + new.len);
    var oi: usize = 0; // index into the old boundary sequence: start0, end0, start1, …
    var ni: usize = 0;
    while (oi < 2 * old_frags.len or ni < new.len) {
        const from_old = ni >= new.len or (oi < 2 * old_frags.len and
            std.mem.order(u8, oldBound(old_frags, oi), new[ni]) != .gt);
        const b = if (from_old) oldBound(old_frags, oi) else new[ni];
        if (from_old) oi += 1 else ni += 1;
        if (bounds.items.len > 0 and std.mem.eql(u8, bounds.items[bounds.items.len - 1], b)) continue;
        bounds.appendAssumeCapacity(b);
    }
    return bounds;
}

fn oldBound(frags: []const Fragment, i: usize) []const u8 {
    const f = frags[i / 2];
    return if (i % 2 == 0) f.start else f.end;
}

/// The sweep of `build`: the tombstones active at each boundary, and the fragments made.
const Sweep = struct {
    old: ?*const Fragments,
    /// The new tombstones, sorted by start.
    tombs: []const Tombstone,
    frags: std.ArrayList(Fragment) = .empty,
    seqs: std.ArrayList(u64) = .empty,
    active: std.ArrayList(Tombstone) = .empty,
    next_tomb: usize = 0,
    /// The first old fragment that does not end at or before the current boundary.
    old_at: usize = 0,

    fn deinit(self: *Sweep, gpa: std.mem.Allocator) void {
        self.frags.deinit(gpa);
        self.seqs.deinit(gpa);
        self.active.deinit(gpa);
    }

    /// A fragment for every interval [bounds[i], bounds[i+1]) that anything covers.
    fn run(self: *Sweep, gpa: std.mem.Allocator, bounds: []const []const u8) error{OutOfMemory}!void {
        var i: usize = 0;
        while (i + 1 < bounds.len) : (i += 1) {
            const b = bounds[i];
            try self.advance(gpa, b);
            const old_seqs = self.oldSeqsAt(b);
            if (self.active.items.len == 0 and old_seqs.len == 0) continue;
            const from = self.seqs.items.len;
            const distinct = try self.appendUnion(gpa, old_seqs);
            try self.frags.append(gpa, .{
                .start = b,
                .end = bounds[i + 1],
                .seqs_from = @intCast(from),
                .seqs_to = @intCast(from + distinct),
            });
        }
    }

    /// Moves the active set to boundary `b`: tombstones ending at or before it leave, those
    /// starting at or before it join.
    fn advance(self: *Sweep, gpa: std.mem.Allocator, b: []const u8) error{OutOfMemory}!void {
        var a: usize = 0;
        while (a < self.active.items.len) {
            if (std.mem.order(u8, self.active.items[a].end, b) != .gt) {
                _ = self.active.swapRemove(a);
            } else a += 1;
        }
        while (self.next_tomb < self.tombs.len and std.mem.order(u8, self.tombs[self.next_tomb].start, b) != .gt) : (self.next_tomb += 1) {
            try self.active.append(gpa, self.tombs[self.next_tomb]);
        }
    }

    /// The seqs of the old fragment that covers the interval starting at `b`, if any.
    fn oldSeqsAt(self: *Sweep, b: []const u8) []const u64 {
        const old = self.old orelse return &.{};
        const frags = old.frags;
        while (self.old_at < frags.len and std.mem.order(u8, frags[self.old_at].end, b) != .gt) self.old_at += 1;
        if (self.old_at < frags.len and std.mem.order(u8, frags[self.old_at].start, b) != .gt) {
            return old.seqs[frags[self.old_at].seqs_from..frags[self.old_at].seqs_to];
        }
        return &.{};
    }

    /// Appends `old_seqs` ∪ the active tombstones' seqs, descending and distinct; returns how
    /// many it appended.
    fn appendUnion(self: *Sweep, gpa: std.mem.Allocator, old_seqs: []const u64) error{OutOfMemory}!usize {
        const from = self.seqs.items.len;
        try self.seqs.appendSlice(gpa, old_seqs);
        for (self.active.items) |t| try self.seqs.append(gpa, t.seq);
        const union_seqs = self.seqs.items[from..];
        if (self.active.items.len > 0) std.mem.sort(u64, union_seqs, {}, greaterSeq);
        var distinct: usize = 0;
        for (union_seqs) |sq| {
            if (distinct > 0 and union_seqs[distinct - 1] == sq) continue;
            union_seqs[distinct] = sq;
            distinct += 1;
        }
        self.seqs.shrinkRetainingCapacity(from + distinct);
        return distinct;
    }
};

const testing = std.testing;

test "fragments answer like a scan of the tombstones, built at once or folded in" {
    var prng = std.Random.DefaultPrng.init(7);
    const r = prng.random();
    var keys: [20][1]u8 = undefined;
    for (&keys, 0..) |*k, i| k.* = .{'a' + @as(u8, @intCast(i))};
    var tombs: [60]Tombstone = undefined;
    for (&tombs) |*t| {
        const lo = r.uintLessThan(usize, keys.len);
        const hi = lo + r.uintLessThan(usize, keys.len - lo); // sometimes empty
        t.* = .{ .start = &keys[lo], .end = &keys[hi], .seq = 1 + r.uintLessThan(u64, 40) };
    }
    var all = tombs;
    const whole = try build(null, &all, tombs.len);
    defer whole.release();
    var first = tombs[0..30].*;
    const half = try build(null, &first, 30);
    defer half.release();
    var rest = tombs[30..].*;
    const folded = try build(half, &rest, tombs.len);
    defer folded.release();
    try testing.expectEqual(@as(u64, tombs.len), folded.built_for);
    const probes = [_][]const u8{ "", "a", "c", "j", "s", "t", "z" };
    for (probes) |key| {
        var snapshot: u64 = 0;
        while (snapshot <= 45) : (snapshot += 1) {
            var want: u64 = 0;
            for (tombs) |t| {
                const covers = std.mem.order(u8, t.start, key) != .gt and std.mem.order(u8, key, t.end) == .lt;
                if (covers and t.seq <= snapshot) want = @max(want, t.seq);
            }
            try testing.expectEqual(want, whole.maxCovering(key, snapshot));
            try testing.expectEqual(want, folded.maxCovering(key, snapshot));
        }
    }
}
