//! MemTable: one arena, one inline skiplist and the counters RocksDB's `MemTable` keeps.
//!
//! Owns every byte of its entries (in `arena`); `destroy` frees them all at once. The
//! semantics above a single version (snapshots over versions, merge folding, result shapes)
//! belong to the TypeScript side; this file answers "which versions exist, in what order".
//!
//! Thread safety: `add` needs external serialisation (one writer); `get` and iterators may run
//! concurrently with it. `refs` is atomic so handles can be shared across threads.
const std = @import("std");
const limits = @import("limits.zig");
const coding = @import("coding.zig");
const arena_mod = @import("arena.zig");
const skiplist = @import("skiplist.zig");

const Arena = arena_mod.Arena;

pub const memtable_magic: u64 = 0x4D454D5441424C45; // "MEMTABLE"
pub const iterator_magic: u64 = 0x4D54495445524154; // "MTITERAT"
pub const seq_unset: u64 = std.math.maxInt(u64);

pub const Options = struct {
    write_buffer_size: u64 = 64 << 20,
    /// 0 derives the block size from the write buffer size.
    arena_block_size: u64 = 0,
    /// 0: arena blocks from the general allocator; otherwise a power of two: blocks mapped with
    /// transparent huge pages of this size where the OS allows (memtable_huge_page_size).
    huge_page_size: u64 = 0,
    /// `seq_unset` means "the first added sequence number" (RocksDB's kMaxSequenceNumber).
    earliest_seq: u64 = seq_unset,
};

pub const AddError = error{ Duplicate, OutOfMemory };

pub const MemTable = struct {
    magic: u64 = memtable_magic,
    refs: std.atomic.Value(u32) = .init(1),
    arena: Arena,
    list: skiplist.SkipList,
    write_buffer_size: u64,
    num_entries: u64 = 0,
    num_deletes: u64 = 0,
    /// Sum of encoded entry lengths (RocksDB's data_size_).
    data_size: u64 = 0,
    /// Smallest sequence number added; 0 while empty (as RocksDB's first_seqno_, which cannot
    /// tell "empty" from "seq 0": callers check num_entries).
    first_seq: u64 = 0,
    earliest_seq: u64,

    pub fn create(options: Options) error{OutOfMemory}!*MemTable {
        const mt = try arena_mod.allocTracked(MemTable);
        errdefer arena_mod.destroyTracked(mt);
        const block_size: usize = if (options.arena_block_size == 0)
            arena_mod.defaultBlockSize(@intCast(@min(options.write_buffer_size, std.math.maxInt(usize))))
        else
            arena_mod.optimizeBlockSize(@intCast(@min(options.arena_block_size, std.math.maxInt(usize))));
        var arena = Arena.init(block_size);
        arena.huge_page_size = @intCast(options.huge_page_size);
        mt.* = .{
            .arena = arena,
            .list = undefined,
            .write_buffer_size = options.write_buffer_size,
            .earliest_seq = options.earliest_seq,
        };
        errdefer mt.arena.deinit();
        mt.list = try skiplist.SkipList.init(&mt.arena, @intFromPtr(mt) ^ 0x9E3779B97F4A7C15);
        return mt;
    }

    pub fn ref(self: *MemTable) u32 {
        return self.refs.fetchAdd(1, .monotonic) + 1;
    }

    /// Drops one reference; frees everything when it was the last. Returns the remaining count.
    pub fn unref(self: *MemTable) u32 {
        const before = self.refs.fetchSub(1, .acq_rel);
        std.debug.assert(before > 0);
        if (before == 1) {
            self.magic = 0;
            self.arena.deinit();
            arena_mod.destroyTracked(self);
            return 0;
        }
        return before - 1;
    }

    /// RocksDB's MemTable::ApproximateMemoryUsage: what the arena really holds in use.
    pub fn memoryUsage(self: *const MemTable) u64 {
        return self.arena.usage();
    }

    /// REQUIRES: key.len ≤ key_size_max, value.len ≤ value_size_max, seq ≤ sequence_max,
    /// value_type a point type; no concurrent add.
    pub fn add(self: *MemTable, seq: u64, value_type: limits.ValueType, key: []const u8, value: []const u8) AddError!void {
        std.debug.assert(key.len <= limits.key_size_max);
        std.debug.assert(value.len <= limits.value_size_max);
        std.debug.assert(limits.ValueType.isKnownPointType(@backingInt(value_type)));
        const ikey: coding.Key = .{ .user_key = key, .trailer = coding.packTrailer(seq, @backingInt(value_type)) };
        _ = try self.list.insert(ikey, value);
        if (self.num_entries == 0 or seq < self.first_seq) self.first_seq = seq;
        self.num_entries += 1;
        if (value_type == .deletion or value_type == .single_deletion) self.num_deletes += 1;
        self.data_size += coding.entryEncodedLength(key.len, value.len);
        if (self.earliest_seq == seq_unset or seq < self.earliest_seq) self.earliest_seq = seq;
    }

    /// The newest version of `key` with sequence number ≤ `snapshot`, or null.
    pub fn findNewest(self: *MemTable, key: []const u8, snapshot: u64) ?*skiplist.Node {
        const lookup: coding.Key = .{ .user_key = key, .trailer = coding.packTrailer(snapshot, limits.value_type_for_seek) };
        const node = self.list.findGreaterOrEqual(lookup) orelse return null;
        if (!std.mem.eql(u8, node.key().user_key, key)) return null;
        return node;
    }
};

/// A cursor that hides versions newer than its snapshot. Pins its memtable with a reference.
pub const Iterator = struct {
    magic: u64 = iterator_magic,
    mt: *MemTable,
    it: skiplist.Iterator,
    snapshot: u64,

    pub fn create(mt: *MemTable, snapshot: u64) error{OutOfMemory}!*Iterator {
        const self = try arena_mod.allocTracked(Iterator);
        _ = mt.ref();
        self.* = .{ .mt = mt, .it = .{ .list = &mt.list }, .snapshot = snapshot };
        return self;
    }

    pub fn destroy(self: *Iterator) void {
        const mt = self.mt;
        self.magic = 0;
        arena_mod.destroyTracked(self);
        _ = mt.unref();
    }

    fn visible(self: *const Iterator) bool {
        const n = self.it.node orelse return true;
        return n.key().sequence() <= self.snapshot;
    }

    fn skipForward(self: *Iterator) void {
        while (!self.visible()) self.it.next();
    }

    fn skipBackward(self: *Iterator) void {
        while (!self.visible()) self.it.prev();
    }

    pub fn valid(self: *const Iterator) bool {
        return self.it.valid();
    }
    pub fn node(self: *const Iterator) *skiplist.Node {
        return self.it.node.?;
    }
    pub fn seekToFirst(self: *Iterator) void {
        self.it.seekToFirst();
        self.skipForward();
    }
    pub fn seekToLast(self: *Iterator) void {
        self.it.seekToLast();
        self.skipBackward();
    }
    /// First visible entry whose user key is ≥ `key`.
    pub fn seek(self: *Iterator, key: []const u8) void {
        self.it.seek(.{ .user_key = key, .trailer = coding.packTrailer(limits.sequence_max, limits.value_type_for_seek) });
        self.skipForward();
    }
    /// Last visible entry whose user key is ≤ `key`.
    pub fn seekForPrev(self: *Iterator, key: []const u8) void {
        self.it.seekForPrev(.{ .user_key = key, .trailer = 0 });
        self.skipBackward();
    }
    pub fn next(self: *Iterator) void {
        self.it.next();
        self.skipForward();
    }
    pub fn prev(self: *Iterator) void {
        self.it.prev();
        self.skipBackward();
    }
};

const testing = std.testing;

test "memtable add, duplicate, findNewest at snapshots, counters" {
    const live_before = arena_mod.bytes_live.load(.monotonic);
    const mt = try MemTable.create(.{ .write_buffer_size = 1 << 20 });
    try mt.add(5, .value, "k", "v5");
    try mt.add(9, .value, "k", "v9");
    try mt.add(7, .deletion, "k", "");
    try testing.expectError(error.Duplicate, mt.add(9, .value, "k", "other"));
    try mt.add(9, .merge, "k", "m"); // same seq, other type: a distinct internal key
    try testing.expectEqual(@as(u64, 4), mt.num_entries);
    try testing.expectEqual(@as(u64, 1), mt.num_deletes);
    try testing.expectEqual(@as(u64, 5), mt.first_seq);
    try testing.expectEqual(@as(u64, 5), mt.earliest_seq);
    try testing.expect(mt.findNewest("k", 4) == null);
    try testing.expectEqual(@as(u64, 5), mt.findNewest("k", 6).?.key().sequence());
    try testing.expectEqual(@as(u8, 0), mt.findNewest("k", 8).?.key().valueType());
    // Merge (type 2) sorts before Value (type 1) at the same seq: trailer descending.
    try testing.expectEqual(@as(u8, 2), mt.findNewest("k", 100).?.key().valueType());
    try testing.expect(mt.findNewest("j", 100) == null);
    try testing.expect(mt.findNewest("kk", 100) == null);

    const it = try Iterator.create(mt, 7);
    try testing.expectEqual(@as(u32, 1), mt.unref()); // the iterator still holds one
    it.seekToFirst();
    try testing.expectEqual(@as(u64, 7), it.node().key().sequence());
    it.next();
    try testing.expectEqual(@as(u64, 5), it.node().key().sequence());
    it.next();
    try testing.expect(!it.valid());
    it.seekToLast();
    try testing.expectEqual(@as(u64, 5), it.node().key().sequence());
    it.prev();
    try testing.expectEqual(@as(u64, 7), it.node().key().sequence());
    it.prev();
    try testing.expect(!it.valid());
    it.destroy();
    try testing.expectEqual(live_before, arena_mod.bytes_live.load(.monotonic));
}
