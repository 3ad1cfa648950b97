//! The point index (beyond RocksDB, part of the skiplist representation: `skiplist_rep.zig`):
//! a hash table from a user key to the skiplist node of its newest version. A lookup costs a
//! slot's line and the node — two cache misses instead of a skiplist descent — and older
//! versions follow the newest on level 0, so a read at any snapshot walks from there.
//!
//! Layout: open addressing with linear probing over a power-of-two array of 8-byte slots, each
//! 0 (empty) or a node's address (low 48 bits) under a 16-bit tag from the key's hash (high
//! bits): a probe compares tags on the slot's line and touches a node only on a tag match (1 in
//! 65536 for another key), so an absent key costs about one line. Nothing but the slots: no
//! per-key allocation, and no key filter beside it (the memtable makes none when the index is on).
//!
//! Growth: a table grows to twice its size once three quarters of its slots are used; the old
//! table is retired, and freed by a later writer at a moment no reader is inside a lookup (the
//! `readers` count). Tables live outside the arena (tracked) and count in the memtable's memory.
//!
//! Concurrency: readers never lock; writers take `lock` for an update (and a growth), so any
//! number of concurrent writers share one index. A writer updates the index after linking its
//! node, before its insert (or batch) returns, so a reader at a published sequence number sees
//! it. An update cannot fail: when a growth runs out of memory (or a node's address does not fit
//! a slot) the index turns itself `off` and every lookup answers `unknown` (the caller searches
//! the list), the write itself kept.
const std = @import("std");
const coding = @import("../coding.zig");
const skiplist = @import("skiplist.zig");
const arena_mod = @import("../arena.zig");

const Node = skiplist.Node;
const Slot = std.atomic.Value(u64);

const address_bits = 48;
const address_mask: u64 = (1 << address_bits) - 1;
pub const initial_slots = 1024;

/// One table: a header and `cap` slots, in one tracked allocation of words.
const Table = extern struct {
    cap: u64,
    used: u64,
    next_retired: ?*Table,

    const header_words = @sizeOf(Table) / @sizeOf(u64);

    fn slots(self: *Table) [*]Slot {
        const all: [*]Slot = @ptrCast(self);
        return all + header_words;
    }

    fn words(self: *Table) []u64 {
        const w: [*]u64 = @ptrCast(self);
        return w[0 .. header_words + self.cap];
    }

    fn bytes(cap: u64) usize {
        return @intCast((header_words + cap) * @sizeOf(u64));
    }

    fn create(cap: u64) error{OutOfMemory}!*Table {
        std.debug.assert(std.math.isPowerOfTwo(cap));
        const w = try arena_mod.allocSliceTracked(u64, @intCast(header_words + cap));
        // Hit at random by every read and write: huge pages save most lookups a TLB miss.
        arena_mod.adviseHuge(std.mem.sliceAsBytes(w));
        @memset(w, 0);
        const t: *Table = @ptrCast(@alignCast(w.ptr));
        t.* = .{ .cap = cap, .used = 0, .next_retired = null };
        return t;
    }

    fn destroy(self: *Table) void {
        arena_mod.freeSliceTracked(self.words());
    }
};

comptime {
    std.debug.assert(@sizeOf(Table) % @sizeOf(u64) == 0);
}

fn hashOf(key: []const u8) u64 {
    return std.hash.Wyhash.hash(0x706F696E74, key);
}

inline fn tagOf(h: u64) u64 {
    return h >> address_bits;
}

inline fn nodeOf(slot: u64) *Node {
    return @ptrFromInt(slot & address_mask);
}

/// What a lookup knows of a key.
pub const Answer = union(enum) {
    /// The newest version indexed.
    node: *Node,
    /// The memtable holds no version of the key.
    absent,
    /// The index is off: search the list.
    unknown,
};

pub const PointIndex = struct {
    table: std.atomic.Value(?*Table) = .init(null),
    /// Readers inside a lookup; a retired table is freed only when this is 0.
    readers: std.atomic.Value(u32) = .init(0),
    /// Set once an update could not be recorded; never cleared.
    off: std.atomic.Value(bool) = .init(false),
    /// Bytes of every table held, current and retired (the memtable's memory counts them).
    held: std.atomic.Value(usize) = .init(0),
    /// Writers' lock: `retired`, slots' contents and `Table.used` change only under it.
    lock: arena_mod.SpinLock = .{},
    retired: ?*Table = null,
    /// The current table's slots and mask, for `prefetch` only: it reads them without counting
    /// itself a reader (a pair torn by a growth merely prefetches a useless line; a prefetch
    /// never faults), so it costs no atomic read-modify-write.
    hint_slots: std.atomic.Value(usize) = .init(0),
    hint_mask: std.atomic.Value(u64) = .init(0),

    /// Frees every table. REQUIRES: no reader or writer left.
    pub fn deinit(self: *PointIndex) void {
        std.debug.assert(self.readers.load(.monotonic) == 0);
        if (self.table.load(.monotonic)) |t| {
            _ = self.held.fetchSub(Table.bytes(t.cap), .monotonic);
            t.destroy();
        }
        self.table.store(null, .monotonic);
        self.freeRetired();
        std.debug.assert(self.held.load(.monotonic) == 0);
    }

    pub fn heldBytes(self: *const PointIndex) usize {
        return self.held.load(.monotonic);
    }

    pub fn isOff(self: *const PointIndex) bool {
        return self.off.load(.monotonic);
    }

    /// The newest indexed version of `key`, or whether the memtable has none.
    pub fn lookup(self: *PointIndex, key: []const u8) Answer {
        _ = self.readers.fetchAdd(1, .seq_cst);
        defer _ = self.readers.fetchSub(1, .seq_cst);
        if (self.off.load(.seq_cst)) return .unknown;
        const t = self.table.load(.seq_cst) orelse return .absent;
        return probe(t, hashOf(key), key);
    }

    /// `lookup` of each of `keys` (at most `group_max`) into `out`, in lockstep so that their
    /// misses overlap: every key's home slot is prefetched, then every first tag match's node,
    /// then each probe finishes as `lookup` would.
    pub fn lookupGroup(self: *PointIndex, keys: []const []const u8, out: []Answer) void {
        std.debug.assert(keys.len == out.len);
        std.debug.assert(keys.len <= group_max);
        _ = self.readers.fetchAdd(1, .seq_cst);
        defer _ = self.readers.fetchSub(1, .seq_cst);
        if (self.off.load(.seq_cst)) return @memset(out, .unknown);
        const t = self.table.load(.seq_cst) orelse return @memset(out, .absent);
        const mask = t.cap - 1;
        const slots = t.slots();
        var hashes: [group_max]u64 = undefined;
        for (keys, hashes[0..keys.len]) |k, *h| {
            h.* = hashOf(k);
            @prefetch(&slots[@intCast(h.* & mask)], .{});
        }
        for (hashes[0..keys.len]) |h| {
            var i = h & mask;
            while (true) : (i = (i + 1) & mask) {
                const s = slots[@intCast(i)].load(.acquire);
                if (s == 0) break;
                if (tagOf(s) == tagOf(h)) {
                    @prefetch(nodeOf(s), .{});
                    break;
                }
            }
        }
        for (keys, hashes[0..keys.len], out) |k, h, *o| o.* = probe(t, h, k);
    }

    pub const group_max = 32;

    fn probe(t: *Table, h: u64, key: []const u8) Answer {
        const tag = tagOf(h);
        const mask = t.cap - 1;
        const slots = t.slots();
        var i = h & mask;
        while (true) : (i = (i + 1) & mask) {
            const s = slots[@intCast(i)].load(.acquire);
            if (s == 0) return .absent;
            if (tagOf(s) == tag and std.mem.eql(u8, nodeOf(s).key().user_key, key)) return .{ .node = nodeOf(s) };
        }
    }

    /// The hash `updateHashed` takes for `user_key`, its slot's line starting to load: called
    /// before a write's search of the list, so that the slot's cache miss overlaps the search's.
    pub fn prefetch(self: *const PointIndex, user_key: []const u8) u64 {
        const h = hashOf(user_key);
        const base = self.hint_slots.load(.monotonic);
        if (base != 0) {
            const at = base +% @sizeOf(u64) *% (h & self.hint_mask.load(.monotonic));
            @prefetch(@as(*const u8, @ptrFromInt(at)), .{ .rw = .write });
        }
        return h;
    }

    /// Records `node` (just linked) as its key's newest version unless a newer one is indexed
    /// already. Safe against concurrent calls; never fails (see the file's comment).
    pub fn update(self: *PointIndex, node: *Node) void {
        self.updateHashed(node, hashOf(node.key().user_key));
    }

    /// `update` given the hash of `node`'s user key (`prefetch`'s answer).
    pub fn updateHashed(self: *PointIndex, node: *Node, h: u64) void {
        if (self.off.load(.monotonic)) return;
        self.lock.lock();
        defer self.lock.unlock();
        self.reclaim();
        self.record(node, h);
    }

    /// `update` of every `nodes[i].node` (a batch just linked, e.g. `skiplist_run.Unlinked`s),
    /// under one taking of the lock, the slots of the nodes a few ahead prefetched so that their
    /// misses overlap.
    pub fn updateAll(self: *PointIndex, nodes: anytype) void {
        if (self.off.load(.monotonic)) return;
        const ahead = 8;
        var hashes: [ahead]u64 = undefined;
        self.lock.lock();
        defer self.lock.unlock();
        self.reclaim();
        for (0..@min(ahead, nodes.len)) |j| hashes[j] = self.prefetch(nodes[j].node.key().user_key);
        for (nodes, 0..) |u, j| {
            const h = hashes[j % ahead];
            if (j + ahead < nodes.len) hashes[j % ahead] = self.prefetch(nodes[j + ahead].node.key().user_key);
            self.record(u.node, h);
        }
    }

    /// `updateHashed`'s work. Under `lock`.
    fn record(self: *PointIndex, node: *Node, h: u64) void {
        std.debug.assert(h == hashOf(node.key().user_key));
        if (self.off.load(.monotonic)) return;
        const address: u64 = @intFromPtr(node);
        if (address & ~address_mask != 0) return self.giveUp();
        const t = self.table.load(.monotonic) orelse self.grow(null) catch return self.giveUp();
        const k = node.key();
        const tag = tagOf(h);
        const mask = t.cap - 1;
        const slots = t.slots();
        var i = h & mask;
        while (true) : (i = (i + 1) & mask) {
            const slot = &slots[@intCast(i)];
            const s = slot.load(.monotonic);
            if (s == 0) {
                slot.store(tag << address_bits | address, .release);
                t.used += 1;
                std.debug.assert(t.used < t.cap);
                if (t.used * 4 > t.cap * 3) _ = self.grow(t) catch return self.giveUp();
                return;
            }
            if (tagOf(s) != tag) continue;
            const cur = nodeOf(s).key();
            if (!std.mem.eql(u8, cur.user_key, k.user_key)) continue;
            // A racing writer may have indexed a newer version first.
            if (coding.compareKeys(k, cur) == .lt) slot.store(tag << address_bits | address, .release);
            return;
        }
    }

    /// Replaces the table by one twice as large (or makes the first), every key moved; the old
    /// one is retired. Under `lock`.
    fn grow(self: *PointIndex, old: ?*Table) error{OutOfMemory}!*Table {
        const cap: u64 = if (old) |o| o.cap * 2 else initial_slots;
        const t = try Table.create(cap);
        _ = self.held.fetchAdd(Table.bytes(cap), .monotonic);
        if (old) |o| {
            moveAll(o, t);
            t.used = o.used;
        }
        self.table.store(t, .seq_cst);
        self.hint_slots.store(@intFromPtr(t.slots()), .monotonic);
        self.hint_mask.store(cap - 1, .monotonic);
        if (old) |o| {
            o.next_retired = self.retired;
            self.retired = o;
            self.reclaim();
        }
        return t;
    }

    /// Every slot of `from` into the empty, unpublished `to`, the nodes' keys read a few slots
    /// ahead of their use so that their misses overlap.
    fn moveAll(from: *Table, to: *Table) void {
        const ahead = 8;
        const src = from.slots()[0..@intCast(from.cap)];
        const dst = to.slots();
        const mask = to.cap - 1;
        for (src, 0..) |*slot, j| {
            if (j + ahead < src.len) {
                const later = src[j + ahead].load(.monotonic);
                if (later != 0) @prefetch(nodeOf(later), .{});
            }
            const s = slot.load(.monotonic);
            if (s == 0) continue;
            var i = hashOf(nodeOf(s).key().user_key) & mask;
            while (dst[@intCast(i)].load(.monotonic) != 0) i = (i + 1) & mask;
            dst[@intCast(i)].store(s, .monotonic);
        }
    }

    /// Frees the retired tables if no reader is inside a lookup now (a reader that starts
    /// later loads the current table). Under `lock`.
    fn reclaim(self: *PointIndex) void {
        if (self.retired == null) return;
        if (self.readers.load(.seq_cst) != 0) return;
        self.freeRetired();
    }

    fn freeRetired(self: *PointIndex) void {
        while (self.retired) |t| {
            self.retired = t.next_retired;
            _ = self.held.fetchSub(Table.bytes(t.cap), .monotonic);
            t.destroy();
        }
    }

    /// The index can no longer be kept exact: lookups answer `unknown` from now on.
    fn giveUp(self: *PointIndex) void {
        self.off.store(true, .seq_cst);
    }
};

const testing = std.testing;
const Arena = arena_mod.Arena;

test "point index: newest version per key, growing, under concurrent updates" {
    var arena = Arena.init(1 << 16);
    defer arena.deinit();
    try arena.makeConcurrent();
    var list = try skiplist.SkipList.init(&arena, 3);
    var index: PointIndex = .{};
    defer index.deinit();
    const keys = 3000; // grows the table from 1024 slots to 4096 while the writers race
    const Writer = struct {
        fn run(l: *skiplist.SkipList, ix: *PointIndex, t: u64, wrong: *std.atomic.Value(u32)) void {
            var buf: [16]u8 = undefined;
            var i: u64 = 0;
            while (i < 4 * keys) : (i += 1) {
                const key = std.fmt.bufPrint(&buf, "k{d}", .{i % keys}) catch unreachable;
                const seq = i * 4 + t + 1;
                const node = l.insertConcurrently(.{ .user_key = key, .trailer = coding.packTrailer(seq, 1) }, "v") catch unreachable;
                ix.update(node);
                // Once the update returns, the key is found at this version or a newer one.
                const ok = switch (ix.lookup(key)) {
                    .node => |n| n.key().sequence() >= seq,
                    else => false,
                };
                if (!ok) _ = wrong.fetchAdd(1, .monotonic);
            }
        }
    };
    var wrong = std.atomic.Value(u32).init(0);
    var threads: [4]std.Thread = undefined;
    for (&threads, 0..) |*th, t| th.* = try std.Thread.spawn(.{}, Writer.run, .{ &list, &index, @as(u64, t), &wrong });
    for (threads) |th| th.join();
    try testing.expectEqual(@as(u32, 0), wrong.load(.monotonic));
    try testing.expect(!index.isOff());
    try testing.expectEqual(@as(u64, 4096), index.table.load(.monotonic).?.cap);
    try testing.expectEqual(@as(u64, keys), index.table.load(.monotonic).?.used);
    var buf: [16]u8 = undefined;
    var k: u64 = 0;
    while (k < keys) : (k += 1) {
        const key = std.fmt.bufPrint(&buf, "k{d}", .{k}) catch unreachable;
        const node = index.lookup(key).node;
        // The newest version: i = k + keys·3 (the last round), thread 3 → seq (i·4 + 3 + 1).
        try testing.expectEqual((k + 3 * keys) * 4 + 4, node.key().sequence());
        // It is the first node of its key on level 0.
        const first = list.findGreaterOrEqual(.{ .user_key = key, .trailer = std.math.maxInt(u64) }).?;
        try testing.expect(first == node);
    }
    try testing.expect(index.lookup("absent") == .absent);
    // Retired tables are freed by the first writer that finds no reader inside a lookup: once
    // the readers are gone, one more update leaves only the current table held.
    index.update(index.lookup("k0").node);
    try testing.expectEqual(Table.bytes(4096), index.heldBytes());
}

test "point index: an empty index answers absent; a full one grows before probing can fail" {
    var index: PointIndex = .{};
    defer index.deinit();
    try testing.expect(index.lookup("x") == .absent);
    try testing.expectEqual(@as(usize, 0), index.heldBytes());
    var arena = Arena.init(1 << 16);
    defer arena.deinit();
    var list = try skiplist.SkipList.init(&arena, 9);
    var buf: [16]u8 = undefined;
    var i: u64 = 0;
    while (i < 10_000) : (i += 1) {
        const key = std.fmt.bufPrint(&buf, "{d}", .{i}) catch unreachable;
        index.update(try list.insert(.{ .user_key = key, .trailer = coding.packTrailer(i + 1, 1) }, "v"));
        const t = index.table.load(.monotonic).?;
        try testing.expect(t.used * 4 <= t.cap * 3);
    }
    i = 0;
    while (i < 10_000) : (i += 1) {
        const key = std.fmt.bufPrint(&buf, "{d}", .{i}) catch unreachable;
        try testing.expectEqual(i + 1, index.lookup(key).node.key().sequence());
    }
    try testing.expect(index.lookup("10000") == .absent);
    // A group answers as the single lookups do, absent keys among them.
    var group_bufs: [PointIndex.group_max][8]u8 = undefined;
    var group: [PointIndex.group_max][]const u8 = undefined;
    var answers: [PointIndex.group_max]Answer = undefined;
    for (&group, &group_bufs, 0..) |*g, *b, j| g.* = std.fmt.bufPrint(b, "{d}", .{j * 337 + 5}) catch unreachable;
    index.lookupGroup(&group, &answers);
    for (group, answers) |g, a| {
        const single = index.lookup(g);
        try testing.expectEqual(std.meta.activeTag(single), std.meta.activeTag(a));
        if (a == .node) try testing.expect(a.node == single.node);
    }
    try testing.expect(answers[PointIndex.group_max - 1] == .absent); // 31·337 + 5 ≥ 10000
}

test "point index: a batch's updateAll answers as one update per node, newest versions kept" {
    var arena = Arena.init(1 << 16);
    defer arena.deinit();
    var list = try skiplist.SkipList.init(&arena, 11);
    var one: PointIndex = .{};
    defer one.deinit();
    var all: PointIndex = .{};
    defer all.deinit();
    const Unlinked = struct { node: *Node };
    var batch: [3000]Unlinked = undefined; // past two growths, and shorter than `ahead` at the end
    var buf: [16]u8 = undefined;
    for (&batch, 0..) |*u, i| {
        const key = std.fmt.bufPrint(&buf, "b{d}", .{i % 2000}) catch unreachable; // 1000 keys twice
        u.node = try list.insert(.{ .user_key = key, .trailer = coding.packTrailer(i + 1, 1) }, "v");
        one.update(u.node);
    }
    all.updateAll(batch[0..]);
    all.updateAll(batch[0..5]); // older versions again: nothing changes
    try testing.expectEqual(one.heldBytes(), all.heldBytes());
    var i: usize = 0;
    while (i < 2100) : (i += 1) {
        const key = std.fmt.bufPrint(&buf, "b{d}", .{i}) catch unreachable;
        const a = one.lookup(key);
        const b = all.lookup(key);
        try testing.expectEqual(std.meta.activeTag(a), std.meta.activeTag(b));
        if (a == .node) {
            try testing.expect(a.node == b.node);
            try testing.expectEqual(@as(u64, if (i < 1000) i + 2001 else i + 1), a.node.key().sequence());
        }
    }
    // prefetch's hash is the one updateHashed expects (checked by its assertion).
    const node = try list.insert(.{ .user_key = "fresh", .trailer = coding.packTrailer(5000, 1) }, "v");
    all.updateHashed(node, all.prefetch("fresh"));
    try testing.expect(all.lookup("fresh").node == node);
}
