//! The point index (beyond RocksDB, part of the skiplist representation: `skiplist_rep.zig`):
//! a hash index from a user key to the skiplist node of its newest version, in the memtable's arena (accounted, freed with it). A lookup costs a bucket,
//! a chain entry and the node — a few cache misses instead of a skiplist descent — and older
//! versions follow the newest on level 0, so a read at any snapshot walks from there.
//!
//! Lock-free for readers: chains only grow at the head (a release store / CAS), and an entry's
//! node pointer only moves to a newer version (CAS). Writers update the index after linking the
//! node, before their insert (or batch) returns, so a reader at a published sequence number sees it.
const std = @import("std");
const coding = @import("../coding.zig");
const skiplist = @import("skiplist.zig");
const Arena = @import("../arena.zig").Arena;

/// A chain entry: a user key's hash and its newest version's node.
pub const Entry = struct {
    next: ?*Entry,
    hash: u64,
    node: std.atomic.Value(*skiplist.Node),
};

pub const PointIndex = struct {
    buckets: [*]std.atomic.Value(?*Entry),
    mask: u64,
    arena: *Arena,

    /// `bucket_count` rounded up to a power of two (at least 1024).
    pub fn init(arena: *Arena, bucket_count: u64) error{OutOfMemory}!PointIndex {
        const n = std.math.ceilPowerOfTwo(u64, @max(bucket_count, 1024)) catch unreachable;
        const raw = try arena.allocateTable(@intCast(n * @sizeOf(std.atomic.Value(?*Entry))));
        const buckets: [*]std.atomic.Value(?*Entry) = @ptrCast(@alignCast(raw));
        return .{ .buckets = buckets, .mask = n - 1, .arena = arena };
    }

    fn hashOf(key: []const u8) u64 {
        return std.hash.Wyhash.hash(0x706F696E74, key);
    }

    fn find(from: ?*Entry, until: ?*Entry, h: u64, key: []const u8) ?*Entry {
        var e = from;
        while (e) |x| : (e = x.next) {
            if (x == until) return null;
            if (x.hash == h and std.mem.eql(u8, x.node.load(.acquire).key().user_key, key)) return x;
        }
        return null;
    }

    /// The node of the newest version of `key`, or null when the memtable has none.
    pub fn lookup(self: *const PointIndex, key: []const u8) ?*skiplist.Node {
        const h = hashOf(key);
        const head = self.buckets[@intCast(h & self.mask)].load(.acquire);
        const e = find(head, null, h, key) orelse return null;
        return e.node.load(.acquire);
    }

    /// Before linking a node for `key`: an index entry to use if the key is new (allocated now,
    /// so that recording the node afterwards cannot fail), or null when it is indexed already.
    pub fn prepare(self: *PointIndex, key: []const u8) error{OutOfMemory}!?*Entry {
        if (self.lookup(key) != null) return null;
        const raw = try self.arena.allocateAligned(@sizeOf(Entry));
        return @ptrCast(@alignCast(raw));
    }

    /// Records `node` (just linked) as its key's newest version if it is newer than the one
    /// indexed. `spare` comes from `prepare` (null only if the key was indexed then). Safe
    /// against concurrent calls.
    pub fn update(self: *PointIndex, node: *skiplist.Node, spare: ?*Entry) void {
        const k = node.key();
        const h = hashOf(k.user_key);
        const bucket = &self.buckets[@intCast(h & self.mask)];
        var head = bucket.load(.acquire);
        var searched_from: ?*Entry = null; // the chain from here on was searched already
        while (true) {
            if (find(head, searched_from, h, k.user_key)) |e| {
                // The key is indexed (maybe by a racing writer): move it to the newer node.
                var cur = e.node.load(.acquire);
                while (coding.compareKeys(k, cur.key()) == .lt) {
                    cur = e.node.cmpxchgWeak(cur, node, .acq_rel, .acquire) orelse break;
                }
                return; // `spare`, if any, stays unused in the arena
            }
            std.debug.assert(spare != null); // a key that was indexed at `prepare` is found above
            const e = spare.?;
            e.* = .{ .next = head, .hash = h, .node = .init(node) };
            searched_from = head;
            head = bucket.cmpxchgWeak(head, e, .release, .acquire) orelse return;
        }
    }
};

const testing = std.testing;

test "point index: newest version per key, under concurrent updates" {
    var arena = Arena.init(1 << 16);
    defer arena.deinit();
    try arena.makeConcurrent();
    var list = try skiplist.SkipList.init(&arena, 3);
    var index = try PointIndex.init(&arena, 16); // few buckets: long chains, many races
    const Writer = struct {
        fn run(l: *skiplist.SkipList, ix: *PointIndex, t: u64) void {
            var buf: [16]u8 = undefined;
            var i: u64 = 0;
            while (i < 4000) : (i += 1) {
                const key = std.fmt.bufPrint(&buf, "k{d}", .{i % 500}) catch unreachable;
                const spare = ix.prepare(key) catch unreachable;
                const node = l.insertConcurrently(.{ .user_key = key, .trailer = coding.packTrailer(i * 4 + t + 1, 1) }, "v") catch unreachable;
                ix.update(node, spare);
            }
        }
    };
    var threads: [4]std.Thread = undefined;
    for (&threads, 0..) |*th, t| th.* = try std.Thread.spawn(.{}, Writer.run, .{ &list, &index, @as(u64, t) });
    for (threads) |th| th.join();
    var buf: [16]u8 = undefined;
    var k: u64 = 0;
    while (k < 500) : (k += 1) {
        const key = std.fmt.bufPrint(&buf, "k{d}", .{k}) catch unreachable;
        const node = index.lookup(key).?;
        // The newest version: i = k + 500·7 (the last round), thread 3 → seq (i·4 + 3 + 1).
        try testing.expectEqual((k + 3500) * 4 + 4, node.key().sequence());
        // It is the first node of its key on level 0.
        const first = list.findGreaterOrEqual(.{ .user_key = key, .trailer = std.math.maxInt(u64) }).?;
        try testing.expect(first == node);
    }
    try testing.expect(index.lookup("absent") == null);
}
