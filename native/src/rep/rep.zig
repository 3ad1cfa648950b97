//! The representation of a memtable's point entries (RocksDB's MemTableRep): the one interface
//! the memtable calls, and the one table of what each representation supports. The memtable
//! never names a concrete representation; it asks `capabilities` and calls `Rep`.
//!
//! Representations (each in its own file):
//! - `skiplist`: one InlineSkipList in internal-key order, with insert hints and the point
//!   index (`skiplist_rep.zig`, over `skiplist.zig`).
//! - `hash_skiplist`, `hash_linklist`: buckets by key prefix (`hash.zig`).
//! - `vector`: an append-only array of slots, chained by user key (`vector.zig`).
//! Every representation stores entries as `skiplist.Node`s in the memtable's arena, so the rest
//! of the memtable (gets, merge runs, protection checks, iterators) handles one entry type.
//!
//! The interface: `insert` (one writer), `insertWithHint` (one writer, from the splice kept for
//! a prefix), `insertConcurrently` (any number of writers), `contains`, `findNewest`,
//! `nextVersion`, `cursor` / `prefixCursor` / `sortedCopy` (iteration) and `batch` (a batch of
//! inserts in three steps: `check` every entry and change nothing, `allocate` every node and
//! show none, `link` them all, which with one writer cannot fail).
//!
//! Thread safety: readers never lock, on any representation. Writers: as `capabilities` says
//! (`concurrent_writes`); the memtable's single-writer guard serialises the rest.
const std = @import("std");
const coding = @import("../coding.zig");
const arena_mod = @import("../arena.zig");
const prefix_mod = @import("../prefix.zig");
const skiplist = @import("skiplist.zig");
const Cursor = @import("cursor.zig").Cursor;
const SkipListRep = @import("skiplist_rep.zig").SkipListRep;
const HashRep = @import("hash.zig").HashRep;
const VectorRep = @import("vector.zig").VectorRep;

const Arena = arena_mod.Arena;
const Node = skiplist.Node;
const InsertError = skiplist.InsertError;

/// The representations, numbered as `memtable_new`'s `rep` bits 0–3 and `memtable_stats` report
/// them. Do not renumber: part of the ABI.
pub const Kind = enum(u32) { skiplist = 0, hash_skiplist = 1, hash_linklist = 2, vector = 3 };

/// The shape options of a representation (RocksDB's factory arguments).
pub const Options = struct {
    kind: Kind = .skiplist,
    /// Hash representations: the number of buckets (RocksDB's default 1,000,000).
    bucket_count: u32 = 1_000_000,
    /// hashSkipList: the height and branching factor of a bucket's skiplist (RocksDB: 4, 4).
    height: u32 = 4,
    branching: u32 = 4,
    /// hashLinkList: a bucket with more entries than this becomes a skiplist (RocksDB: 256).
    threshold: u32 = 256,
    /// vector: slots reserved up front (RocksDB's VectorRepFactory `count`).
    reserve: u32 = 0,
};

/// The most buckets (and vector slots reserved up front): 2^26 × 8 bytes = 512 MiB of table,
/// past any write buffer this library is meant for.
pub const bucket_count_max: u32 = 1 << 26;

/// What a representation supports and needs. `memtable_new` refuses, and `MemTable.create`
/// asserts against, any other combination (see `allows`).
pub const Capabilities = struct {
    /// Any number of writers at once (RocksDB's IsInsertConcurrentlySupported).
    concurrent_writes: bool,
    /// Inserts may start from the splice kept for the key's prefix (RocksDB's InsertWithHint).
    insert_hints: bool,
    /// The point index (user key → newest version) can sit beside it.
    point_index: bool,
    /// Entries are placed by their key's prefix: a prefix extractor is required.
    needs_prefix_extractor: bool,
    /// Entries are kept in internal-key order: iteration needs no sorted view, and a batch
    /// from one writer is linked as one ascending run (its entries come sorted).
    ordered: bool,
};

const capability_table = std.EnumArray(Kind, Capabilities).init(.{
    .skiplist = .{ .concurrent_writes = true, .insert_hints = true, .point_index = true, .needs_prefix_extractor = false, .ordered = true },
    .hash_skiplist = .{ .concurrent_writes = false, .insert_hints = false, .point_index = false, .needs_prefix_extractor = true, .ordered = false },
    .hash_linklist = .{ .concurrent_writes = false, .insert_hints = false, .point_index = false, .needs_prefix_extractor = true, .ordered = false },
    .vector = .{ .concurrent_writes = true, .insert_hints = false, .point_index = false, .needs_prefix_extractor = false, .ordered = false },
});

pub fn capabilities(kind: Kind) Capabilities {
    return capability_table.get(kind);
}

/// What a memtable asks of its representation beside the shape.
pub const Wants = struct {
    concurrent_writes: bool = false,
    insert_hints: bool = false,
    point_index: bool = false,
    prefix_extractor: bool = false,
};

/// Whether `kind` takes a memtable that wants `wants` (the capability table applied).
pub fn allows(kind: Kind, wants: Wants) bool {
    const c = capabilities(kind);
    if (wants.concurrent_writes and !c.concurrent_writes) return false;
    if (wants.insert_hints and !c.insert_hints) return false;
    if (wants.point_index and !c.point_index) return false;
    if (c.needs_prefix_extractor and !wants.prefix_extractor) return false;
    return true;
}

/// Everything a representation is made from: its shape and the memtable options it depends on.
pub const Config = struct {
    options: Options = .{},
    extractor: prefix_mod.Extractor = .{},
    insert_hints: bool = false,
    point_index: bool = false,
    concurrent_writes: bool = false,
    write_buffer_size: u64 = 64 << 20,
    protection_bytes: u8 = 0,
    paranoid: bool = false,
    seed: u64,

    fn wants(self: Config) Wants {
        return .{
            .concurrent_writes = self.concurrent_writes,
            .insert_hints = self.insert_hints,
            .point_index = self.point_index,
            .prefix_extractor = self.extractor.kind != .none,
        };
    }
};

pub const Rep = union(Kind) {
    skiplist: SkipListRep,
    hash_skiplist: HashRep,
    hash_linklist: HashRep,
    vector: VectorRep,

    /// REQUIRES: `allows(config.options.kind, …)` for the config; with concurrent writes, an
    /// arena that allocates concurrently.
    pub fn init(arena: *Arena, config: Config) error{OutOfMemory}!Rep {
        std.debug.assert(allows(config.options.kind, config.wants()));
        return switch (config.options.kind) {
            .skiplist => .{ .skiplist = try .init(arena, config) },
            .hash_skiplist => .{ .hash_skiplist = try .init(arena, config) },
            .hash_linklist => .{ .hash_linklist = try .init(arena, config) },
            .vector => .{ .vector = try .init(arena, config) },
        };
    }

    /// Frees what the representation holds outside the arena (the arena frees the rest).
    pub fn deinit(self: *Rep) void {
        switch (self.*) {
            .skiplist => |*s| s.deinit(),
            .hash_skiplist, .hash_linklist, .vector => {},
        }
    }

    /// Bytes the representation holds outside the arena, counted in the memtable's memory
    /// (the point index's tables).
    pub fn heldBytes(self: *const Rep) usize {
        return switch (self.*) {
            .skiplist => |*s| s.heldBytes(),
            .hash_skiplist, .hash_linklist, .vector => 0,
        };
    }

    pub fn kind(self: *const Rep) Kind {
        return std.meta.activeTag(self.*);
    }

    pub fn caps(self: *const Rep) Capabilities {
        return capabilities(self.kind());
    }

    /// Inserts an entry, copying key and value into one new node; `error.Duplicate` (nothing
    /// allocated) when an equal internal key is there. One writer at a time.
    pub fn insert(self: *Rep, key: coding.Key, value: []const u8) InsertError!*Node {
        return switch (self.*) {
            .skiplist => |*s| s.insert(key, value),
            .hash_skiplist, .hash_linklist => |*h| h.insert(key, value),
            .vector => |*v| v.insert(key, value),
        };
    }

    /// `insert`, starting from the splice kept for `prefix` (the hint extractor's prefix of the
    /// key). REQUIRES: `caps().insert_hints`, made with `insert_hints`.
    pub fn insertWithHint(self: *Rep, key: coding.Key, value: []const u8, prefix: []const u8) InsertError!*Node {
        std.debug.assert(self.caps().insert_hints);
        return self.skiplist.insertWithHint(key, value, prefix);
    }

    /// `insert`, safe against other threads inserting at the same time.
    /// REQUIRES: `caps().concurrent_writes`, made with `concurrent_writes`.
    pub fn insertConcurrently(self: *Rep, key: coding.Key, value: []const u8) InsertError!*Node {
        std.debug.assert(self.caps().concurrent_writes);
        return switch (self.*) {
            .skiplist => |*s| s.insertConcurrently(key, value),
            .vector => |*v| v.insert(key, value), // the vector's insert is safe for any writers
            .hash_skiplist, .hash_linklist => unreachable,
        };
    }

    /// Whether an entry with exactly this internal key (user key, seq and type) is there.
    pub fn contains(self: *Rep, key: coding.Key) bool {
        return switch (self.*) {
            .skiplist => |*s| s.list.contains(key),
            .hash_skiplist, .hash_linklist => |*h| h.contains(key),
            .vector => |*v| v.contains(key),
        };
    }

    /// The newest version of `user_key` with sequence number ≤ `snapshot`, or null.
    pub fn findNewest(self: *Rep, user_key: []const u8, snapshot: u64) ?*Node {
        const node = switch (self.*) {
            .skiplist => |*s| s.findNewest(user_key, snapshot),
            .hash_skiplist, .hash_linklist => |*h| h.findNewest(user_key, snapshot),
            .vector => |*v| v.findNewest(user_key, snapshot),
        } orelse return null;
        std.debug.assert(node.key().sequence() <= snapshot);
        if (std.debug.runtime_safety) std.debug.assert(std.mem.eql(u8, node.key().user_key, user_key));
        return node;
    }

    /// `findNewest` of each of `user_keys` (at most `skiplist.lookup_group_max`) into `out`
    /// (RocksDB's MultiGet): the skiplist representation searches for all of them at once, its
    /// cache misses overlapped; the others look each key up in turn.
    pub fn findNewestGroup(self: *Rep, user_keys: []const []const u8, snapshot: u64, out: []?*Node) void {
        std.debug.assert(user_keys.len <= skiplist.lookup_group_max);
        std.debug.assert(out.len == user_keys.len);
        switch (self.*) {
            .skiplist => |*s| s.findNewestGroup(user_keys, snapshot, out),
            else => for (user_keys, out) |k, *o| {
                o.* = self.findNewest(k, snapshot);
            },
        }
        for (out) |o| {
            if (o) |node| std.debug.assert(node.key().sequence() <= snapshot);
        }
        if (std.debug.runtime_safety) {
            for (user_keys, out) |k, o| {
                if (o) |node| std.debug.assert(std.mem.eql(u8, node.key().user_key, k));
            }
        }
    }

    /// The next older version of `node`'s user key, or null.
    pub fn nextVersion(self: *Rep, node: *Node) ?*Node {
        const older = switch (self.*) {
            .skiplist, .hash_skiplist, .hash_linklist => skiplist.nextVersion(node),
            .vector => |*v| v.nextVersion(node),
        } orelse return null;
        if (std.debug.runtime_safety) std.debug.assert(coding.compareKeys(node.key(), older.key()) == .lt);
        return older;
    }

    /// A cursor over every entry in order, or null when the representation keeps no order of
    /// its own (`caps().ordered` false: iterate a `sortedCopy`).
    pub fn cursor(self: *Rep) ?Cursor {
        return switch (self.*) {
            .skiplist => |*s| Cursor.overList(&s.list),
            .hash_skiplist, .hash_linklist, .vector => null,
        };
    }

    /// For a seek that stays within `user_key`'s prefix (`prefix_same_as_start`): a cursor over
    /// the entries placed with that prefix (its hash bucket, which may hold other prefixes
    /// too; an empty cursor when there is none), or null when the representation does not
    /// place entries by prefix (seek in total order). REQUIRES: `user_key` is in the
    /// extractor's domain.
    pub fn prefixCursor(self: *Rep, user_key: []const u8) ?Cursor {
        return switch (self.*) {
            .hash_skiplist, .hash_linklist => |*h| blk: {
                std.debug.assert(h.extractor.inDomain(user_key));
                const b = h.bucketOf(user_key) orelse break :blk Cursor.overView(&.{});
                break :blk Cursor.overList(&b.list);
            },
            .skiplist, .vector => null,
        };
    }

    /// Every entry, sorted, in memory from `arena_mod.backing_allocator` (tracked): the caller
    /// frees it with `arena_mod.freeSliceTracked`. REQUIRES: not `caps().ordered` (an ordered
    /// representation iterates with `cursor`).
    pub fn sortedCopy(self: *Rep) error{OutOfMemory}![]*Node {
        std.debug.assert(!self.caps().ordered);
        const gpa = arena_mod.backing_allocator;
        var list: std.ArrayList(*Node) = .empty;
        defer list.deinit(gpa);
        switch (self.*) {
            .skiplist => unreachable,
            .hash_skiplist, .hash_linklist => |*h| try h.collect(gpa, &list),
            .vector => |*v| try v.collect(gpa, &list),
        }
        // Sorted by the first 8 user-key bytes held next to each pointer: most comparisons
        // then touch only the array, not the entries scattered over the arena.
        const keyed = try gpa.alloc(Keyed, list.items.len);
        defer gpa.free(keyed);
        for (list.items, keyed) |n, *k| k.* = .{ .head = n.keyHead(), .node = n };
        std.mem.sort(Keyed, keyed, {}, lessKeyed);
        const out = try arena_mod.allocSliceTracked(*Node, @max(list.items.len, 1));
        for (keyed, 0..) |k, i| out[i] = k.node;
        return out[0..list.items.len];
    }

    /// A node and its key's head (`Node.keyHead`): a < b implies
    /// head(a) ≤ head(b).
    const Keyed = struct { head: u64, node: *Node };

    fn lessKeyed(_: void, a: Keyed, b: Keyed) bool {
        if (a.head != b.head) return a.head < b.head;
        return coding.compareKeys(a.node.key(), b.node.key()) == .lt;
    }

    pub const BatchOptions = struct {
        /// Other threads may insert meanwhile (REQUIRES `caps().concurrent_writes`).
        concurrent: bool = false,
        /// The entries' sequence numbers are consecutive from this one (a decoded batch): no
        /// two entries are equal, and a representation that tracks the largest sequence number
        /// it holds may skip the duplicate check.
        consecutive_from: ?u64 = null,
    };

    /// A batch of `entries` (REQUIRES: no two equal; in internal-key order when `caps().ordered`
    /// and one writer), taken in the three steps of the file's contract. `entries` must outlive
    /// the batch; `deinit` it with the same `gpa`.
    pub fn batch(self: *Rep, gpa: std.mem.Allocator, entries: []const coding.Entry, options: BatchOptions) error{OutOfMemory}!Batch {
        if (options.concurrent) std.debug.assert(self.caps().concurrent_writes);
        return switch (self.*) {
            .skiplist => |*s| .{ .skiplist = try .init(gpa, s, entries, options.concurrent) },
            .hash_skiplist => |*h| .{ .hash_skiplist = try .init(gpa, h, entries) },
            .hash_linklist => |*h| .{ .hash_linklist = try .init(gpa, h, entries) },
            .vector => |*v| .{ .vector = try .init(gpa, v, entries, options.concurrent, options.consecutive_from) },
        };
    }

    pub const Batch = union(Kind) {
        skiplist: SkipListRep.Batch,
        hash_skiplist: HashRep.Batch,
        hash_linklist: HashRep.Batch,
        vector: VectorRep.Batch,

        pub fn deinit(self: *Batch, gpa: std.mem.Allocator) void {
            switch (self.*) {
                inline else => |*b| b.deinit(gpa),
            }
        }

        /// Step 1: every entry against the representation: `error.Duplicate` for one it holds,
        /// `error.Corruption` for neighbours out of order (paranoid); `failed` is the entry's
        /// index. Changes nothing.
        pub fn check(self: *Batch, failed: *usize) InsertError!void {
            switch (self.*) {
                inline else => |*b| try b.check(failed),
            }
        }

        /// Step 2: a node for every entry; none is visible yet.
        pub fn allocate(self: *Batch) error{OutOfMemory}!void {
            switch (self.*) {
                inline else => |*b| try b.allocate(),
            }
        }

        /// Step 3: links every node. One writer: cannot fail. Concurrent: an error only when
        /// another writer linked an equal entry since `check` (ruled out when sequence numbers
        /// come from one allocator), with `failed` the entry's index and those before it linked.
        pub fn link(self: *Batch, failed: *usize) InsertError!void {
            switch (self.*) {
                .skiplist => |*b| try b.link(failed),
                .hash_skiplist, .hash_linklist => |*b| b.link(),
                .vector => |*b| try b.link(failed),
            }
        }
    };
};

const testing = std.testing;

test "the capability table: what memtable_new accepts" {
    try testing.expect(allows(.skiplist, .{ .concurrent_writes = true, .insert_hints = true, .point_index = true }));
    for ([_]Kind{ .hash_skiplist, .hash_linklist }) |k| {
        try testing.expect(allows(k, .{ .prefix_extractor = true }));
        try testing.expect(!allows(k, .{}));
        try testing.expect(!allows(k, .{ .prefix_extractor = true, .concurrent_writes = true }));
        try testing.expect(!allows(k, .{ .prefix_extractor = true, .insert_hints = true }));
        try testing.expect(!allows(k, .{ .prefix_extractor = true, .point_index = true }));
    }
    try testing.expect(allows(.vector, .{ .concurrent_writes = true }));
    try testing.expect(!allows(.vector, .{ .point_index = true }));
    try testing.expect(!allows(.vector, .{ .insert_hints = true }));
    // Only the skiplist keeps its entries in order.
    for (std.enums.values(Kind)) |k| try testing.expectEqual(k == .skiplist, capabilities(k).ordered);
}

// Every representation takes a batch through the interface the same way.
test "a batch through the interface: checked, allocated, linked, for every representation" {
    inline for (.{ Kind.skiplist, Kind.hash_skiplist, Kind.hash_linklist, Kind.vector }) |k| {
        var arena = Arena.init(1 << 16);
        defer arena.deinit();
        var rep: Rep = try .init(&arena, .{
            .options = .{ .kind = k, .bucket_count = 5, .threshold = 3 },
            .extractor = .{ .kind = .fixed, .n = 2 },
            .seed = 3,
        });
        defer rep.deinit();
        var buf: [8]u8 = undefined;
        var keys: [40][8]u8 = undefined;
        var entries: [40]coding.Entry = undefined;
        for (&entries, 0..) |*e, i| {
            const s = std.fmt.bufPrint(&keys[i], "k{d:0>3}", .{i}) catch unreachable;
            e.* = .{ .key = .{ .user_key = s, .trailer = coding.packTrailer(100 + i, 1) }, .value = "b" };
        }
        _ = try rep.insert(.{ .user_key = std.fmt.bufPrint(&buf, "k{d:0>3}", .{7}) catch unreachable, .trailer = coding.packTrailer(107, 1) }, "single");
        var failed: usize = 0;
        var b = try rep.batch(testing.allocator, &entries, .{});
        try testing.expectError(error.Duplicate, b.check(&failed));
        try testing.expectEqual(@as(usize, 7), failed);
        b.deinit(testing.allocator);
        entries[7].key.trailer = coding.packTrailer(99, 1);
        b = try rep.batch(testing.allocator, &entries, .{});
        defer b.deinit(testing.allocator);
        try b.check(&failed);
        try b.allocate();
        try testing.expect(rep.findNewest("k000", 200) == null); // allocated, not linked
        try b.link(&failed);
        for (entries) |e| try testing.expect(rep.contains(e.key));
        try testing.expectEqual(@as(u64, 107), rep.findNewest("k007", 200).?.key().sequence());
        try testing.expectEqual(@as(u64, 99), rep.nextVersion(rep.findNewest("k007", 200).?).?.key().sequence());
    }
}
