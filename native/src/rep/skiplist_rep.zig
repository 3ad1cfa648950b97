//! The skiplist representation of a memtable's point entries (RocksDB's default SkipListRep):
//! one InlineSkipList holding every entry in internal-key order, and the two options only it
//! supports:
//! - insert hints (RocksDB's `memtable_insert_with_hint_prefix_extractor`): one splice per
//!   recently used key prefix, so inserts that share a prefix start their search where the
//!   previous one of that prefix ended;
//! - the point index (`point_index.zig`): user key → newest version, so a lookup skips the
//!   descent; older versions follow the newest on level 0.
//!
//! Thread safety: readers never lock. Writers: one at a time through `insert` and
//! `insertWithHint` (the hint table is the writer's), or any number through
//! `insertConcurrently`; never both on one memtable (the memtable decides once, at creation).
//! The point index is updated after each link, before the insert returns, safe against
//! concurrent updates.
const std = @import("std");
const coding = @import("../coding.zig");
const arena_mod = @import("../arena.zig");
const skiplist = @import("skiplist.zig");
const skiplist_test = @import("skiplist_test.zig");
const skiplist_run = @import("skiplist_run.zig");
const point_index = @import("point_index.zig");
const PointIndex = point_index.PointIndex;
const rep_mod = @import("rep.zig");

const Arena = arena_mod.Arena;
const Node = skiplist.Node;
const SkipList = skiplist.SkipList;
const InsertError = skiplist.InsertError;

/// Insert hints: one splice per recently used prefix, in a table probed linearly over
/// `hint_probe` slots (a prefix whose slots are all taken replaces the first). 512 slots cover
/// the few hundred concurrent "streams" (tenants, tables) a hint extractor is meant for.
const hint_slots = 512;
const hint_probe = 4;
const HintSlot = struct { prefix_hash: u64 = 0, used: bool = false, splice: skiplist.Splice = .{} };

pub const Hints = struct {
    slots: [hint_slots]HintSlot = @splat(.{}),

    /// The splice kept for `prefix`: its own slot, a free one it now takes, or (all probed
    /// slots taken by other prefixes) the first probed, reset for it.
    fn spliceFor(self: *Hints, prefix: []const u8) *skiplist.Splice {
        const h = std.hash.Wyhash.hash(0x68696E74, prefix);
        const home: usize = @intCast(h % hint_slots);
        var slot = &self.slots[home];
        var probe: usize = 0;
        while (probe < hint_probe) : (probe += 1) {
            const s = &self.slots[(home + probe) % hint_slots];
            if (s.used and s.prefix_hash == h) {
                slot = s;
                break;
            }
            if (!s.used) {
                s.* = .{ .prefix_hash = h, .used = true };
                slot = s;
                break;
            }
        } else slot.* = .{ .prefix_hash = h, .used = true };
        std.debug.assert(slot.used);
        std.debug.assert(slot.prefix_hash == h);
        return &slot.splice;
    }

    /// Slots in use (tests).
    pub fn used(self: *const Hints) usize {
        var n: usize = 0;
        for (self.slots) |s| n += @intFromBool(s.used);
        return n;
    }
};

pub const SkipListRep = struct {
    list: SkipList,
    /// Made when the memtable has a hint extractor; outside the arena (tracked), freed by
    /// `deinit`.
    hints: ?*Hints = null,
    index: ?PointIndex = null,

    pub fn init(arena: *Arena, config: rep_mod.Config) error{OutOfMemory}!SkipListRep {
        std.debug.assert(config.options.kind == .skiplist);
        if (config.concurrent_writes) std.debug.assert(arena.isConcurrent());
        var self: SkipListRep = .{ .list = try SkipList.init(arena, config.seed) };
        self.list.protection_bytes = config.protection_bytes;
        self.list.paranoid = config.paranoid;
        if (config.insert_hints) {
            const hints = try arena_mod.allocTracked(Hints);
            hints.* = .{};
            self.hints = hints;
        }
        errdefer if (self.hints) |h| arena_mod.destroyTracked(h);
        if (config.point_index) self.index = .{ .arena = arena };
        return self;
    }

    pub fn deinit(self: *SkipListRep) void {
        if (self.hints) |h| arena_mod.destroyTracked(h);
        self.hints = null;
        if (self.index) |*ix| ix.deinit();
        self.index = null;
    }

    /// Bytes held outside the arena: the point index's tables.
    pub fn heldBytes(self: *const SkipListRep) usize {
        return if (self.index) |*ix| ix.heldBytes() else 0;
    }

    /// One writer: from the splice of the previous insert.
    pub fn insert(self: *SkipListRep, key: coding.Key, value: []const u8) InsertError!*Node {
        const h = self.prefetchSlot(key);
        const node = try self.list.insert(key, value);
        self.indexed(node, h);
        return node;
    }

    /// One writer: from the splice kept for `prefix` (the hint extractor's prefix of the key).
    /// REQUIRES: made with `insert_hints`.
    pub fn insertWithHint(self: *SkipListRep, key: coding.Key, value: []const u8, prefix: []const u8) InsertError!*Node {
        std.debug.assert(self.hints != null);
        if (std.debug.runtime_safety) std.debug.assert(std.mem.startsWith(u8, key.user_key, prefix));
        const hints = self.hints.?;
        const h = self.prefetchSlot(key);
        const node = try self.list.insertWithSplice(key, value, hints.spliceFor(prefix));
        self.indexed(node, h);
        return node;
    }

    /// Any number of writers at once. REQUIRES: made with `concurrent_writes`.
    pub fn insertConcurrently(self: *SkipListRep, key: coding.Key, value: []const u8) InsertError!*Node {
        const h = self.prefetchSlot(key);
        const node = try self.list.insertConcurrently(key, value);
        self.indexed(node, h);
        return node;
    }

    /// Before a write's search: the point index's slot for the key starts loading (its hash
    /// returned for `indexed`; 0 without an index).
    fn prefetchSlot(self: *const SkipListRep, key: coding.Key) u64 {
        return if (self.index) |*ix| ix.prefetch(key.user_key) else 0;
    }

    /// After a node is linked: the point index learns of it (an update cannot fail, so a
    /// write rejected before linking costs the index nothing). `h`: `prefetchSlot`'s hash.
    fn indexed(self: *SkipListRep, node: *Node, h: u64) void {
        if (self.index) |*ix| ix.updateHashed(node, h);
    }

    /// The newest version of `user_key` with sequence number ≤ `snapshot`, or null: through the
    /// point index when there is one (the newest version, then older ones along level 0 down
    /// to the snapshot), otherwise (or when the index is off) a search of the list.
    pub fn findNewest(self: *SkipListRep, user_key: []const u8, snapshot: u64) ?*Node {
        const ix = if (self.index) |*ix| ix else return skiplist.findNewest(&self.list, user_key, snapshot);
        return switch (ix.lookup(user_key)) {
            .node => |n| olderTo(n, user_key, snapshot),
            .absent => null,
            .unknown => skiplist.findNewest(&self.list, user_key, snapshot),
        };
    }

    /// From `newest` (the index's node of `user_key`), the first version at or below `snapshot`
    /// along level 0, or null.
    fn olderTo(newest: *Node, user_key: []const u8, snapshot: u64) ?*Node {
        var n = newest;
        while (n.key().sequence() > snapshot) {
            n = n.next(0) orelse return null;
            if (!std.mem.eql(u8, n.key().user_key, user_key)) return null;
        }
        return n;
    }

    /// `findNewest` of each of `user_keys` (at most `skiplist.lookup_group_max`) into `out`:
    /// without a point index the list is searched for all of them in lockstep.
    pub fn findNewestGroup(self: *SkipListRep, user_keys: []const []const u8, snapshot: u64, out: []?*Node) void {
        std.debug.assert(out.len == user_keys.len);
        const ix = if (self.index) |*ix| ix else return skiplist.findNewestGroup(&self.list, user_keys, snapshot, out);
        comptime std.debug.assert(skiplist.lookup_group_max <= point_index.PointIndex.group_max);
        if (user_keys.len == 0) return;
        var answers: [skiplist.lookup_group_max]point_index.Answer = undefined;
        ix.lookupGroup(user_keys, answers[0..user_keys.len]);
        if (answers[0] == .unknown) return skiplist.findNewestGroup(&self.list, user_keys, snapshot, out);
        for (user_keys, answers[0..user_keys.len], out) |k, a, *o| o.* = switch (a) {
            .node => |n| olderTo(n, k, snapshot),
            .absent => null,
            .unknown => unreachable, // the whole group sees one `off`
        };
    }

    /// A batch of inserts (see `rep.zig`): a sorted run of the list, recorded in the point
    /// index once the run is linked.
    pub const Batch = struct {
        rep: *SkipListRep,
        run: skiplist_run.Run,

        pub fn init(gpa: std.mem.Allocator, rep: *SkipListRep, entries: []const coding.Entry, concurrent: bool) error{OutOfMemory}!Batch {
            return .{ .rep = rep, .run = try skiplist_run.Run.init(gpa, &rep.list, entries, concurrent) };
        }

        pub fn deinit(self: *Batch, gpa: std.mem.Allocator) void {
            self.run.deinit(gpa);
            self.* = undefined;
        }

        pub fn check(self: *Batch, failed: *usize) InsertError!void {
            return self.run.check(failed);
        }

        pub fn allocate(self: *Batch) error{OutOfMemory}!void {
            try self.run.allocate();
        }

        /// See `skiplist_run.Run.link`; the point index learns of every node linked.
        pub fn link(self: *Batch, failed: *usize) InsertError!void {
            self.run.link(failed) catch |err| {
                self.indexLinked(failed.*); // the entries before the failed one are linked
                return err;
            };
            self.indexLinked(self.run.nodes.len);
        }

        fn indexLinked(self: *Batch, count: usize) void {
            const ix = if (self.rep.index) |*ix| ix else return;
            ix.updateAll(self.run.nodes[0..count]);
        }
    };
};

const testing = std.testing;

test "insert hints: one splice per prefix, and inserts stay sorted" {
    var arena = Arena.init(1 << 16);
    defer arena.deinit();
    var rep = try SkipListRep.init(&arena, .{ .insert_hints = true, .seed = 5 });
    defer rep.deinit();
    var buf: [16]u8 = undefined;
    var i: u32 = 0;
    while (i < 2000) : (i += 1) {
        const key = std.fmt.bufPrint(&buf, "{c}{c}{d:0>8}", .{ 'a' + @as(u8, @intCast(i % 2)), 'x', i / 2 }) catch unreachable;
        _ = try rep.insertWithHint(.{ .user_key = key, .trailer = coding.packTrailer(i + 1, 1) }, "v", key[0..2]);
    }
    try testing.expectEqual(@as(usize, 2), rep.hints.?.used());
    try testing.expectEqual(@as(usize, 2000), try skiplist_test.expectSortedCount(&rep.list));
}

test "the point index answers like a search, at every snapshot" {
    var arena = Arena.init(1 << 16);
    defer arena.deinit();
    var indexed = try SkipListRep.init(&arena, .{ .point_index = true, .write_buffer_size = 1 << 16, .seed = 6 });
    defer indexed.deinit();
    var plain = try SkipListRep.init(&arena, .{ .seed = 7 });
    var buf: [16]u8 = undefined;
    var seq: u64 = 1;
    while (seq <= 600) : (seq += 1) {
        const key = std.fmt.bufPrint(&buf, "k{d}", .{(seq * 7) % 50}) catch unreachable;
        const ikey: coding.Key = .{ .user_key = key, .trailer = coding.packTrailer(seq, 1) };
        _ = try indexed.insert(ikey, "v");
        _ = try plain.insert(ikey, "v");
    }
    var k: u32 = 0;
    while (k < 60) : (k += 1) {
        const key = std.fmt.bufPrint(&buf, "k{d}", .{k}) catch unreachable;
        var snapshot: u64 = 0;
        while (snapshot <= 610) : (snapshot += 13) {
            const a = indexed.findNewest(key, snapshot);
            const b = plain.findNewest(key, snapshot);
            try testing.expectEqual(a == null, b == null);
            if (a) |n| try testing.expectEqual(b.?.key().trailer, n.key().trailer);
        }
    }
}

test "a point index that turned itself off answers through a search of the list" {
    var arena = Arena.init(1 << 16);
    defer arena.deinit();
    var rep = try SkipListRep.init(&arena, .{ .point_index = true, .seed = 8 });
    defer rep.deinit();
    var buf: [16]u8 = undefined;
    var seq: u64 = 1;
    while (seq <= 300) : (seq += 1) {
        const key = std.fmt.bufPrint(&buf, "k{d}", .{seq % 40}) catch unreachable;
        _ = try rep.insert(.{ .user_key = key, .trailer = coding.packTrailer(seq, 1) }, "v");
    }
    rep.index.?.off.store(true, .seq_cst); // as after a growth that ran out of memory
    // Written after: not indexed, found by the search.
    _ = try rep.insert(.{ .user_key = "k7", .trailer = coding.packTrailer(301, 1) }, "v");
    try testing.expect(rep.index.?.lookup("k7") == .unknown);
    try testing.expectEqual(@as(u64, 301), rep.findNewest("k7", 400).?.key().sequence());
    try testing.expectEqual(@as(u64, 287), rep.findNewest("k7", 300).?.key().sequence());
    try testing.expect(rep.findNewest("k40", 400) == null);
    var out: [2]?*Node = undefined;
    rep.findNewestGroup(&.{ "k7", "k8" }, 400, &out);
    try testing.expectEqual(@as(u64, 301), out[0].?.key().sequence());
    try testing.expectEqual(@as(u64, 288), out[1].?.key().sequence());
}
