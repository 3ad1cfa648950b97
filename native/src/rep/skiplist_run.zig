//! Sorted runs: a batch of inserts into one skiplist (the skiplist representation's, or the
//! range-tombstone table's) that goes in whole or not at all. `Run` takes it in three steps:
//! `check` looks at every entry against the list and changes nothing, `allocate` makes every
//! node and links none, `link` links them all and, with one writer, cannot fail.
//!
//! With one writer the entries come in ascending internal-key order. `check` then searches
//! them a group at a time with the searches interleaved (`prepareGroup`: the cache misses of a
//! group overlap instead of following one another, which is where a random insert spends its
//! time) and records each entry's predecessors; `link` links the nodes in ascending order after
//! them, correcting each recorded predecessor with the nodes of the run linked before it (they
//! are all smaller, and the last one linked at a level is the largest).
//!
//! With concurrent writers (`concurrent`), recorded predecessors would go stale: `check` looks
//! each entry up, `allocate` draws heights from the thread's own generator and `link` links each
//! node with `SkipList.linkConcurrently`.
//!
//! Thread safety: a run belongs to the thread that applies the batch; see `skiplist.zig` for
//! which writers may share a list.
const std = @import("std");
const coding = @import("../coding.zig");
const skiplist = @import("skiplist.zig");
const skiplist_test = @import("skiplist_test.zig");

const Node = skiplist.Node;
const Probe = skiplist.Probe;
const SkipList = skiplist.SkipList;
const Unlinked = SkipList.Unlinked;
const InsertError = skiplist.InsertError;
const height_max = skiplist.height_max;

/// Predecessors of a key at every level, recorded before a sorted run is linked.
pub const Preds = [height_max]*Node;

/// Keys searched together by `prepareGroup`: enough misses in flight to hide most of the
/// latency, few enough that the group's state stays in registers and one cache line or two.
pub const group_max = 16;

/// How far ahead `Run.link` fetches the predecessors of a later entry (touched during its
/// search, likely evicted since).
const prefetch_distance = 8;

/// For a group of keys (any order): records each key's predecessors at every level and checks
/// it (duplicate, paranoid order). The searches run interleaved, one step of each in turn, with
/// the next node of each prefetched. On failure `failed` is the index in `keys`.
pub fn prepareGroup(list: *SkipList, keys: []const coding.Key, preds: []Preds, failed: *usize) InsertError!void {
    std.debug.assert(keys.len <= group_max);
    std.debug.assert(preds.len == keys.len);
    const top: u32 = list.max_height.load(.monotonic);
    var x: [group_max]*Node = undefined;
    var level: [group_max]u32 = undefined;
    var next0: [group_max]?*Node = undefined;
    var active: [group_max]u8 = undefined;
    var probes: [group_max]Probe = undefined;
    var n_active: usize = keys.len;
    for (keys, 0..) |k, i| {
        probes[i] = .of(k);
        x[i] = list.head;
        level[i] = top - 1;
        active[i] = @intCast(i);
        var l: usize = top;
        while (l < height_max) : (l += 1) preds[i][l] = list.head;
    }
    while (n_active > 0) {
        var a: usize = 0;
        while (a < n_active) {
            const i = active[a];
            const lv = level[i];
            const n = x[i].next(lv);
            if (n != null and SkipList.keyIsAfterNode(&probes[i], n)) {
                x[i] = n.?;
                // The next comparison reads the head, in the entry right after next[0].
                if (n.?.next(lv)) |ahead| @prefetch(ahead, .{});
                a += 1;
                continue;
            }
            preds[i][lv] = x[i];
            if (lv == 0) {
                next0[i] = n;
                n_active -= 1;
                active[a] = active[n_active];
                continue;
            }
            level[i] = lv - 1;
            if (x[i].next(lv - 1)) |ahead| @prefetch(ahead, .{});
            a += 1;
        }
    }
    for (probes[0..keys.len], 0..) |*p, i| {
        list.checkNeighbours(p, preds[i][0], next0[i]) catch |err| {
            failed.* = i;
            return err;
        };
    }
}

/// Links `u` (the next of the run, in ascending order) after its predecessors `preds`. `last`
/// holds the run's most recently linked node per level (all null before the first).
/// REQUIRES: one writer; `u` sorts after every node of the run linked before it.
pub fn linkSorted(list: *SkipList, u: Unlinked, preds: *const Preds, last: *[height_max]?*Node) void {
    const node = u.node;
    const height = u.height;
    std.debug.assert(height >= 1);
    std.debug.assert(height <= list.height_limit);
    std.debug.assert(!list.arena.isConcurrent());
    if (std.debug.runtime_safety) {
        if (last[0]) |l| std.debug.assert(coding.compareKeys(l.key(), node.key()) == .lt);
    }
    if (height > list.max_height.load(.monotonic)) list.max_height.store(height, .monotonic);
    var level: usize = 0;
    while (level < height) : (level += 1) {
        var p = preds[level];
        if (last[level]) |l| {
            if (p == list.head or coding.compareKeys(l.key(), p.key()) == .gt) p = l;
        }
        node.noBarrierSetNext(level, p.next(level));
        p.setNext(level, node);
        last[level] = node;
    }
}

/// A batch of inserts into `list`, in the three steps of the file's contract.
pub const Run = struct {
    list: *SkipList,
    /// REQUIRES (one writer): ascending internal-key order, no two equal.
    entries: []const coding.Entry,
    concurrent: bool,
    /// One writer: each entry's predecessors, recorded by `check`.
    preds: []Preds,
    /// Filled by `allocate`.
    nodes: []Unlinked,

    pub fn init(gpa: std.mem.Allocator, list: *SkipList, entries: []const coding.Entry, concurrent: bool) error{OutOfMemory}!Run {
        const preds = try gpa.alloc(Preds, if (concurrent) 0 else entries.len);
        errdefer gpa.free(preds);
        const nodes = try gpa.alloc(Unlinked, entries.len);
        return .{ .list = list, .entries = entries, .concurrent = concurrent, .preds = preds, .nodes = nodes };
    }

    pub fn deinit(self: *Run, gpa: std.mem.Allocator) void {
        gpa.free(self.preds);
        gpa.free(self.nodes);
        self.* = undefined;
    }

    /// Step 1: every entry against the list: `error.Duplicate` for an entry the list holds,
    /// `error.Corruption` for neighbours out of order (paranoid lists); `failed` is the entry's
    /// index. Changes nothing.
    pub fn check(self: *Run, failed: *usize) InsertError!void {
        if (self.concurrent) {
            for (self.entries, 0..) |e, i| {
                if (self.list.contains(e.key)) {
                    failed.* = i;
                    return error.Duplicate;
                }
            }
            return;
        }
        var at: usize = 1;
        while (std.debug.runtime_safety and at < self.entries.len) : (at += 1) {
            std.debug.assert(coding.compareKeys(self.entries[at - 1].key, self.entries[at].key) == .lt);
        }
        var keys: [group_max]coding.Key = undefined;
        var g: usize = 0;
        while (g < self.entries.len) : (g += group_max) {
            const members = self.entries[g..@min(self.entries.len, g + group_max)];
            for (members, 0..) |e, k| keys[k] = e.key;
            var in_group: usize = 0;
            prepareGroup(self.list, keys[0..members.len], self.preds[g..][0..members.len], &in_group) catch |err| {
                failed.* = g + in_group;
                return err;
            };
        }
    }

    /// Step 2: a node for every entry, linked nowhere yet.
    pub fn allocate(self: *Run) error{OutOfMemory}!void {
        for (self.entries, self.nodes) |e, *u| {
            u.* = if (self.concurrent)
                try self.list.allocateUnlinkedConcurrently(e.key, e.value)
            else
                try self.list.allocateUnlinked(e.key, e.value);
        }
    }

    /// Step 3: links every node. With one writer it cannot fail. Concurrent: an error only when
    /// another writer linked an equal entry (or, paranoid, misordered neighbours) since `check`
    /// — which a memtable whose writers take sequence numbers from one allocator rules out —
    /// with `failed` the entry's index and the entries before it linked.
    pub fn link(self: *Run, failed: *usize) InsertError!void {
        if (self.concurrent) {
            for (self.nodes, 0..) |u, i| {
                self.list.linkConcurrently(u) catch |err| {
                    failed.* = i;
                    return err;
                };
            }
            return;
        }
        var last: [height_max]?*Node = @splat(null);
        for (self.nodes, self.preds, 0..) |u, *preds, i| {
            if (i + prefetch_distance < self.preds.len) @prefetch(self.preds[i + prefetch_distance][0], .{ .rw = .write });
            linkSorted(self.list, u, preds, &last);
        }
    }
};

const testing = std.testing;
const Arena = @import("../arena.zig").Arena;
const testKey = skiplist_test.testKey;

test "sorted runs link like single inserts, interleaved with existing keys" {
    var arena = Arena.init(1 << 16);
    defer arena.deinit();
    var list = try SkipList.init(&arena, 9);
    var buf: [32]u8 = undefined;
    var i: u32 = 0;
    while (i < 3000) : (i += 3) _ = try list.insert(testKey(&buf, i, 1), "old");
    // A run of every other key in [0, 3000), ascending, some equal to existing user keys at
    // another seq (distinct internal keys).
    var keys: [1500][32]u8 = undefined;
    var preds: [1500]Preds = undefined;
    var ikeys: [1500]coding.Key = undefined;
    var n: usize = 0;
    i = 0;
    while (i < 3000) : (i += 2) {
        ikeys[n] = testKey(&keys[n], i, 2);
        n += 1;
    }
    var failed: usize = 0;
    var g: usize = 0;
    while (g < n) : (g += 16) {
        const end = @min(n, g + 16);
        try prepareGroup(&list, ikeys[g..end], preds[g..end], &failed);
    }
    // A duplicate is reported in phase 1, with its index in the group.
    var dup_preds: [2]Preds = undefined;
    const dups = [_]coding.Key{ testKey(&buf, 4, 1), testKey(&keys[0], 3, 1) };
    try testing.expectError(error.Duplicate, prepareGroup(&list, &dups, &dup_preds, &failed));
    try testing.expectEqual(@as(usize, 1), failed);
    var last: [height_max]?*Node = @splat(null);
    var j: usize = 0;
    i = 0;
    while (j < n) : (j += 1) {
        const k = testKey(&keys[j], i, 2);
        linkSorted(&list, try list.allocateUnlinked(k, "new"), &preds[j], &last);
        i += 2;
    }
    try testing.expectEqual(@as(usize, 1000 + 1500), try skiplist_test.expectSortedCount(&list));
    try skiplist_test.expectLevelsSorted(&list);
    // Single inserts still work after a run (the sequential splice notices it is stale).
    _ = try list.insert(testKey(&buf, 1, 1), "single");
    try testing.expectEqual(@as(usize, 2501), try skiplist_test.expectSortedCount(&list));
}

test "a run checks every entry before it allocates, and links all of them" {
    var arena = Arena.init(1 << 16);
    defer arena.deinit();
    var list = try SkipList.init(&arena, 4);
    var buf: [32]u8 = undefined;
    var i: u32 = 0;
    while (i < 100) : (i += 10) _ = try list.insert(testKey(&buf, i, 1), "old");
    var keys: [60][32]u8 = undefined;
    var entries: [60]coding.Entry = undefined;
    for (&entries, 0..) |*e, k| e.* = .{ .key = testKey(&keys[k], @intCast(k * 2 + 1), 1), .value = "new" };
    // One entry equal to a stored one (key 60, in order between 59 and 63): refused at
    // `check`, with its index, and nothing changes.
    const stored = entries[30];
    var dup: [32]u8 = undefined;
    entries[30].key = testKey(&dup, 60, 1);
    var run = try Run.init(testing.allocator, &list, &entries, false);
    defer run.deinit(testing.allocator);
    var failed: usize = 0;
    const used = arena.usage();
    try testing.expectError(error.Duplicate, run.check(&failed));
    try testing.expectEqual(@as(usize, 30), failed);
    try testing.expectEqual(used, arena.usage());
    entries[30] = stored;
    try run.check(&failed);
    try run.allocate();
    try testing.expectEqual(@as(usize, 10), try skiplist_test.expectSortedCount(&list)); // none visible yet
    try run.link(&failed);
    try testing.expectEqual(@as(usize, 70), try skiplist_test.expectSortedCount(&list));
    try skiplist_test.expectLevelsSorted(&list);
}

test "concurrent runs from several threads lose nothing" {
    var arena = Arena.init(1 << 16);
    defer arena.deinit();
    try arena.makeConcurrent();
    var list = try SkipList.init(&arena, 8);
    const Writer = struct {
        fn run(l: *SkipList, t: u32) void {
            var keys: [500][32]u8 = undefined;
            var entries: [500]coding.Entry = undefined;
            for (&entries, 0..) |*e, k| e.* = .{ .key = testKey(&keys[k], @intCast(k * 4 + t), 1), .value = "v" };
            var r = Run.init(std.heap.smp_allocator, l, &entries, true) catch unreachable;
            defer r.deinit(std.heap.smp_allocator);
            var failed: usize = 0;
            r.check(&failed) catch unreachable;
            r.allocate() catch unreachable;
            r.link(&failed) catch unreachable;
        }
    };
    var threads: [4]std.Thread = undefined;
    for (&threads, 0..) |*th, t| th.* = try std.Thread.spawn(.{}, Writer.run, .{ &list, @as(u32, @intCast(t)) });
    for (threads) |th| th.join();
    try testing.expectEqual(@as(usize, 2000), try skiplist_test.expectSortedCount(&list));
    try skiplist_test.expectLevelsSorted(&list);
}
