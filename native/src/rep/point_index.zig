//! The point index (beyond RocksDB, part of the skiplist representation: `skiplist_rep.zig`):
//! a hash table from a user key to the skiplist node of its newest version. A lookup costs a
//! slot's line and the node — two cache misses instead of a skiplist descent — and older
//! versions follow the newest on level 0, so a read at any snapshot walks from there.
//!
//! Layout: open addressing with linear probing over a power-of-two array of 4-byte slots, each
//! 0 (empty) or a node's arena reference (`Arena.refOf`: block number and offset) above a tag
//! from the key's hash in the low `tag_bits`: a probe compares tags on the slot's line and
//! touches a node only on a tag match, so an absent key costs about one line. A table takes as
//! many tag bits (at most 16) as the references it expects to hold leave free: 7 at 1M entries
//! of 126 bytes in 1 MiB blocks (a node of another key matches 1 time in 128). Nothing but the
//! slots: no per-key allocation, and no key filter beside it (the memtable makes none when the
//! index is on). Half the 8-byte address slots' memory: 8.4 bytes per entry at 1M, not 16.8.
//!
//! Growth: a table grows to twice its size once three quarters of its slots are used, and is
//! rebuilt with fewer tag bits if a reference outgrows its share (the arena grew faster than
//! foreseen); the old table is retired, and freed by a later writer at a moment no reader is
//! inside a lookup (the `readers` count). Tables live outside the arena (tracked) and count in
//! the memtable's memory.
//!
//! Concurrency: readers never lock; writers take `lock` for an update (and a growth), so any
//! number of concurrent writers share one index. A writer updates the index after linking its
//! node, before its insert (or batch) returns, so a reader at a published sequence number sees
//! it. An update cannot fail: when a growth runs out of memory (or a node's reference does not
//! fit 32 bits: an arena past 32 GiB) the index turns itself `off` and every lookup answers
//! `unknown` (the caller searches the list), the write itself kept.
const std = @import("std");
const coding = @import("../coding.zig");
const skiplist = @import("skiplist.zig");
const arena_mod = @import("../arena.zig");

const Node = skiplist.Node;
const Arena = arena_mod.Arena;
const Slot = std.atomic.Value(u32);

pub const initial_slots = 1024;
const tag_bits_max = 16;

/// One table: a header and `cap` slots, in one tracked allocation of words.
const Table = extern struct {
    cap: u64,
    used: u64,
    next_retired: ?*Table,
    /// A slot's low bits that hold the tag; the reference is above them.
    tag_bits: u64,

    const header_words = @sizeOf(Table) / @sizeOf(u64);
    const slots_per_word = @sizeOf(u64) / @sizeOf(Slot);

    fn slots(self: *Table) [*]Slot {
        const w: [*]u64 = @ptrCast(self);
        return @ptrCast(w + header_words);
    }

    fn wordCount(cap: u64) usize {
        return @intCast(header_words + cap / slots_per_word);
    }

    fn words(self: *Table) []u64 {
        const w: [*]u64 = @ptrCast(self);
        return w[0..wordCount(self.cap)];
    }

    fn bytes(cap: u64) usize {
        return wordCount(cap) * @sizeOf(u64);
    }

    fn create(cap: u64, tag_bits: u6) error{OutOfMemory}!*Table {
        std.debug.assert(std.math.isPowerOfTwo(cap) and cap >= slots_per_word);
        std.debug.assert(tag_bits <= tag_bits_max);
        const w = try arena_mod.allocSliceTracked(u64, wordCount(cap));
        // Hit at random by every read and write: huge pages save most lookups a TLB miss.
        arena_mod.adviseHuge(std.mem.sliceAsBytes(w));
        @memset(w, 0);
        const t: *Table = @ptrCast(@alignCast(w.ptr));
        t.* = .{ .cap = cap, .used = 0, .next_retired = null, .tag_bits = tag_bits };
        return t;
    }

    inline fn tagOf(self: *const Table, h: u64) u32 {
        return @intCast((h >> 48) & self.tagMask());
    }

    inline fn tagMask(self: *const Table) u64 {
        return (@as(u64, 1) << @intCast(self.tag_bits)) - 1;
    }

    /// The slot for `ref` under `tag`, or null when `ref` needs more bits than the tag leaves.
    inline fn slotOf(self: *const Table, ref: u64, tag: u32) ?u32 {
        if (ref >> @intCast(32 - self.tag_bits) != 0) return null;
        return @intCast(ref << @intCast(self.tag_bits) | tag);
    }

    inline fn nodeOf(self: *const Table, arena: *const Arena, slot: u32) *Node {
        return @ptrFromInt(arena.atRef(slot >> @intCast(self.tag_bits)));
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
    /// The arena of the indexed nodes: slots hold references into it.
    arena: *const Arena,
    /// The block of the last node recorded (`Arena.refOf`'s hint). Under `lock`.
    block_hint: usize = 0,
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
        return self.probe(t, hashOf(key), key);
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
        const tag_mask = t.tagMask();
        for (hashes[0..keys.len]) |h| {
            const tag = t.tagOf(h);
            var i = h & mask;
            while (true) : (i = (i + 1) & mask) {
                const s = slots[@intCast(i)].load(.acquire);
                if (s == 0) break;
                if (s & tag_mask == tag) {
                    @prefetch(t.nodeOf(self.arena, s), .{});
                    break;
                }
            }
        }
        for (keys, hashes[0..keys.len], out) |k, h, *o| o.* = self.probe(t, h, k);
    }

    pub const group_max = 32;

    fn probe(self: *const PointIndex, t: *Table, h: u64, key: []const u8) Answer {
        const tag = t.tagOf(h);
        const tag_mask = t.tagMask();
        const mask = t.cap - 1;
        const slots = t.slots();
        var i = h & mask;
        while (true) : (i = (i + 1) & mask) {
            const s = slots[@intCast(i)].load(.acquire);
            if (s == 0) return .absent;
            if (s & tag_mask != tag) continue;
            const node = t.nodeOf(self.arena, s);
            if (std.mem.eql(u8, node.key().user_key, key)) return .{ .node = node };
        }
    }

    /// The hash `updateHashed` takes for `user_key`, its slot's line starting to load: called
    /// before a write's search of the list, so that the slot's cache miss overlaps the search's.
    pub fn prefetch(self: *const PointIndex, user_key: []const u8) u64 {
        const h = hashOf(user_key);
        const base = self.hint_slots.load(.monotonic);
        if (base != 0) {
            const at = base +% @sizeOf(Slot) *% (h & self.hint_mask.load(.monotonic));
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
        const ref = self.arena.refOf(@intFromPtr(node), &self.block_hint) orelse return self.giveUp();
        if (std.debug.runtime_safety) std.debug.assert(self.arena.atRef(ref) == @intFromPtr(node));
        var t = self.table.load(.monotonic) orelse self.grow(null, initial_slots) catch return self.giveUp();
        const tag = t.tagOf(h);
        const new = t.slotOf(ref, tag) orelse new: {
            // The arena outgrew the table's foresight: the same size, fewer tag bits.
            t = self.grow(t, t.cap) catch return self.giveUp();
            break :new t.slotOf(ref, t.tagOf(h)) orelse return self.giveUp();
        };
        const k = node.key();
        const tag_mask = t.tagMask();
        const mask = t.cap - 1;
        const slots = t.slots();
        var i = h & mask;
        while (true) : (i = (i + 1) & mask) {
            const slot = &slots[@intCast(i)];
            const s = slot.load(.monotonic);
            if (s == 0) {
                slot.store(new, .release);
                t.used += 1;
                std.debug.assert(t.used < t.cap);
                if (t.used * 4 > t.cap * 3) _ = self.grow(t, t.cap * 2) catch return self.giveUp();
                return;
            }
            if (s & tag_mask != new & tag_mask) continue;
            const cur = t.nodeOf(self.arena, s).key();
            if (!std.mem.eql(u8, cur.user_key, k.user_key)) continue;
            // A racing writer may have indexed a newer version first.
            if (coding.compareKeys(k, cur) == .lt) slot.store(new, .release);
            return;
        }
    }

    /// The tag bits for a table of `cap` slots, `used` of them filled now: what the references
    /// of the arena's blocks leave free once the table is three quarters full, foreseen from the
    /// blocks per entry so far (null when even today's references need more than 32 bits).
    fn tagBitsFor(self: *const PointIndex, cap: u64, used: u64) ?u6 {
        const blocks: u64 = self.arena.blockNumbers();
        const offset_bits: u64 = self.arena.refOffsetBits();
        if (offset_bits + bitLength(blocks) > 32) return null;
        const room = cap / 4 * 3;
        const foreseen = if (used == 0) 2 * blocks + 1 else blocks + (blocks * (room -| used) + used - 1) / used + 1;
        const ref_bits = @min(32, offset_bits + bitLength(foreseen));
        return @intCast(@min(tag_bits_max, 32 - ref_bits));
    }

    fn bitLength(v: u64) u64 {
        return 64 - @as(u64, @clz(v));
    }

    /// Replaces the table by one of `cap` slots (twice as large, or as large with tags chosen
    /// again, or the first), every key moved; the old one is retired. Under `lock`.
    fn grow(self: *PointIndex, old: ?*Table, cap: u64) error{OutOfMemory}!*Table {
        const used = if (old) |o| o.used else 0;
        const tag_bits = self.tagBitsFor(cap, used) orelse return error.OutOfMemory;
        const t = try Table.create(cap, tag_bits);
        _ = self.held.fetchAdd(Table.bytes(cap), .monotonic);
        if (old) |o| {
            self.moveAll(o, t);
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
    fn moveAll(self: *const PointIndex, from: *Table, to: *Table) void {
        const ahead = 8;
        const src = from.slots()[0..@intCast(from.cap)];
        const dst = to.slots();
        const mask = to.cap - 1;
        for (src, 0..) |*slot, j| {
            if (j + ahead < src.len) {
                const later = src[j + ahead].load(.monotonic);
                if (later != 0) @prefetch(from.nodeOf(self.arena, later), .{});
            }
            const s = slot.load(.monotonic);
            if (s == 0) continue;
            const h = hashOf(from.nodeOf(self.arena, s).key().user_key);
            // `tagBitsFor` gave `to` room for every reference of the arena so far.
            const moved = to.slotOf(s >> @intCast(from.tag_bits), to.tagOf(h)).?;
            var i = h & mask;
            while (dst[@intCast(i)].load(.monotonic) != 0) i = (i + 1) & mask;
            dst[@intCast(i)].store(moved, .monotonic);
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

test "point index: newest version per key, growing, under concurrent updates" {
    var arena = Arena.init(1 << 16);
    defer arena.deinit();
    try arena.makeConcurrent();
    var list = try skiplist.SkipList.init(&arena, 3);
    var index: PointIndex = .{ .arena = &arena };
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
    var arena = Arena.init(1 << 16);
    defer arena.deinit();
    var index: PointIndex = .{ .arena = &arena };
    defer index.deinit();
    try testing.expect(index.lookup("x") == .absent);
    try testing.expectEqual(@as(usize, 0), index.heldBytes());
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
    var one: PointIndex = .{ .arena = &arena };
    defer one.deinit();
    var all: PointIndex = .{ .arena = &arena };
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

test "point index: an arena that outgrows a table's tag bits has its table rebuilt with fewer" {
    // 4 KiB blocks and 600-byte values: about 6 entries a block, so references need many bits
    // and the arena grows faster than the first tables foresee.
    var arena = Arena.init(4096);
    defer arena.deinit();
    var list = try skiplist.SkipList.init(&arena, 13);
    var index: PointIndex = .{ .arena = &arena };
    defer index.deinit();
    const value: [600]u8 = @splat('v');
    var buf: [16]u8 = undefined;
    var tag_bits_seen: u64 = tag_bits_max + 1;
    var rebuilds: u32 = 0;
    var i: u64 = 0;
    while (i < 40_000) : (i += 1) {
        const key = std.fmt.bufPrint(&buf, "r{d}", .{i}) catch unreachable;
        // Every fourth value short: the blocks per entry change, so foresight misses.
        const v = if (i % 4 == 0 and i > 20_000) value[0..600] else value[0..8];
        const before = index.table.load(.monotonic);
        const cap_before = if (before) |b| b.cap else 0; // `before` may be freed by the update
        index.update(try list.insert(.{ .user_key = key, .trailer = coding.packTrailer(i + 1, 1) }, v));
        const t = index.table.load(.monotonic).?;
        if (before != null and before.? != t and t.cap == cap_before) rebuilds += 1;
        try testing.expect(t.tag_bits <= tag_bits_seen); // tags only ever shrink
        tag_bits_seen = t.tag_bits;
    }
    try testing.expect(!index.isOff());
    try testing.expect(rebuilds > 0);
    try testing.expect(tag_bits_seen < 16);
    i = 0;
    while (i < 40_000) : (i += 1) {
        const key = std.fmt.bufPrint(&buf, "r{d}", .{i}) catch unreachable;
        try testing.expectEqual(i + 1, index.lookup(key).node.key().sequence());
    }
    try testing.expect(index.lookup("r40000") == .absent);
}

test "point index: tags shrink to none as blocks grow, and references past 32 bits are refused" {
    // 1 GiB blocks take 27 offset bits; the block count is set by hand (32 GiB of blocks is not
    // allocated for a test) and put back before `deinit`.
    var arena = Arena.init(1 << 30);
    defer arena.deinit();
    const index: PointIndex = .{ .arena = &arena };
    try testing.expectEqual(@as(u6, 27), arena.refOffsetBits());
    arena.numbered.store(31, .monotonic); // 5 bits of block number: references fit, no tag
    try testing.expectEqual(@as(?u6, 0), index.tagBitsFor(1024, 0));
    arena.numbered.store(32, .monotonic); // 6 bits: 33 in all
    try testing.expectEqual(@as(?u6, null), index.tagBitsFor(1024, 0));
    arena.numbered.store(0, .monotonic);
}
