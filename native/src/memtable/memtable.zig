//! MemTable: one arena, the representation of its point entries (`rep/rep.zig`), the
//! range-tombstone table, the bloom filter and the counters RocksDB's `MemTable` keeps; its
//! creation, references and immutability. What a memtable does is in the files beside this one:
//! - `write.zig`: single writes, the single-writer guard, the SingleDelete contract;
//! - `batch.zig`: atomic batches (every record checked and allocated before one is linked);
//! - `lookup.zig`: point lookups — where one starts (tombstone cover, bloom filter, newest
//!   version), the version walk, the records a get produces;
//! - `tombstones.zig`, `fragments.zig`: range tombstones and what they hide;
//! - `iterator.zig`: snapshot iterators and the entries they copy out;
//! - `bloom.zig`: the filter; `key_filter.zig`: the growing whole-key filter every memtable
//!   has unless its bloom filter holds whole keys.
//!
//! Owns every byte of its entries (in `arena`); the last `unref` frees them all at once. The
//! memtable decides which versions exist and what a reader at a snapshot sees of them: the
//! order of versions, what a range tombstone hides, the SingleDelete contract, the records of a
//! lookup. Folding merge operands on reads and shaping results belong to the TypeScript side
//! (the native flush, `sst.zig`, folds the built-in operators when it writes a file).
//!
//! Thread safety: reads (lookups, iterators, fragments, the bloom filter) never lock and may
//! run on any thread alongside writes. Writes: one thread at a time, which a guard enforces
//! (`error.ConcurrentWrite` for a second writer), unless the memtable was created with
//! `concurrent_writes` (CAS-linked inserts, a sharded arena), which its representation must
//! support. `refs` and the counters are atomic, so handles can be shared across threads.
const std = @import("std");
const limits = @import("../limits.zig");
const coding = @import("../coding.zig");
const arena_mod = @import("../arena.zig");
const prefix_mod = @import("../prefix.zig");
const skiplist = @import("../rep/skiplist.zig");
const rep_mod = @import("../rep/rep.zig");
const Bloom = @import("bloom.zig").Bloom;
const KeyFilter = @import("key_filter.zig").KeyFilter;
const write = @import("write.zig");
const batch = @import("batch.zig");
const lookup = @import("lookup.zig");
const tombstones = @import("tombstones.zig");
const fragments = @import("fragments.zig");
const iterator = @import("iterator.zig");
const gather = @import("../rep/gather.zig");

const Arena = arena_mod.Arena;

pub const Iterator = iterator.Iterator;
pub const Fragments = fragments.Fragments;
pub const Record = batch.Record;

pub const memtable_magic: u64 = 0x4D454D5441424C45; // "MEMTABLE"
/// Bytes of the options record of the C ABI (`abi.OptionsAbi`, which asserts it).
pub const encoded_options_size = 80;
pub const iterator_magic = iterator.magic;
pub const seq_unset: u64 = std.math.maxInt(u64);
/// The smallest block carved from huge-page regions: a write buffer of 4 MiB or more by default
/// (a smaller memtable would hold a 2 MiB page for a few blocks).
pub const thp_block_min: usize = 512 * 1024;

pub const AddError = error{ Duplicate, OutOfMemory, Corruption, SingleDeleteMisuse, ConcurrentWrite, Immutable };

pub const Options = struct {
    write_buffer_size: u64 = 64 << 20,
    /// 0 derives the block size from the write buffer size.
    arena_block_size: u64 = 0,
    /// 0: arena blocks from the general allocator; otherwise a power of two: blocks mapped with
    /// transparent huge pages of this size where the OS allows (memtable_huge_page_size).
    huge_page_size: u64 = 0,
    /// With `huge_page_size` 0 and blocks of at least `thp_block_min`: blocks are carved from
    /// regions advised for transparent huge pages (`Arena.thp_regions`), their sizes unchanged.
    transparent_huge_pages: bool = true,
    /// `seq_unset` means "the first added sequence number" (RocksDB's kMaxSequenceNumber).
    earliest_seq: u64 = seq_unset,
    /// Protection bytes per entry (0, 1, 2, 4, 8): RocksDB's memtable_protection_bytes_per_key.
    protection_bytes: u8 = 0,
    /// Verify neighbour order on insert and the SingleDelete contract (always on in safe builds).
    paranoid: bool = false,
    /// Any number of threads may add at once (RocksDB's allow_concurrent_memtable_write):
    /// CAS-linked inserts and a sharded arena. Otherwise one writer at a time, enforced.
    concurrent_writes: bool = false,
    /// The prefix extractor (bloom filter over prefixes, prefix-bounded iteration).
    extractor: prefix_mod.Extractor = .{},
    /// Bits of the memtable bloom filter (RocksDB: write_buffer_size × ratio × 8); 0: none.
    bloom_bits: u64 = 0,
    /// Whole user keys go into the bloom filter too (memtable_whole_key_filtering), and point
    /// lookups check them instead of prefixes.
    whole_key_filtering: bool = false,
    /// Keep a hash index from user key to newest version for point lookups.
    point_index: bool = false,
    /// RocksDB's memtable_insert_with_hint_prefix_extractor: inserts whose keys share a prefix
    /// start their search from the previous such insert's splice.
    hint_extractor: prefix_mod.Extractor = .{},
    /// The representation of point entries (range tombstones are always in a skiplist).
    /// REQUIRES: `supported()` — what the representation takes (`rep_mod.capabilities`).
    rep: rep_mod.Options = .{},

    /// Whether the representation takes these options (the capability table applied).
    pub fn supported(self: Options) bool {
        return rep_mod.allows(self.rep.kind, .{
            .concurrent_writes = self.concurrent_writes,
            .insert_hints = self.hint_extractor.kind != .none,
            .point_index = self.point_index,
            .prefix_extractor = self.extractor.kind != .none,
        });
    }

    fn repConfig(self: Options, seed: u64) rep_mod.Config {
        return .{
            .options = self.rep,
            .extractor = self.extractor,
            .insert_hints = self.hint_extractor.kind != .none,
            .point_index = self.point_index,
            .concurrent_writes = self.concurrent_writes,
            .write_buffer_size = self.write_buffer_size,
            .protection_bytes = self.protection_bytes,
            .paranoid = self.paranoid,
            .seed = seed,
        };
    }
};

fn atomicMin(v: *std.atomic.Value(u64), x: u64) void {
    var cur = v.load(.monotonic);
    while (x < cur) cur = v.cmpxchgWeak(cur, x, .monotonic, .monotonic) orelse return;
}

pub const MemTable = struct {
    magic: u64 = memtable_magic,
    refs: std.atomic.Value(u32) = .init(1),
    /// The options as the creator passed them across the C ABI (`abi.OptionsAbi`), kept so
    /// that a share token's options can be checked against them byte for byte.
    encoded_options: [encoded_options_size]u8 = @splat(0),
    arena: Arena,
    /// The point entries.
    rep: rep_mod.Rep,
    protection_bytes: u8,
    /// Set once by `markImmutable`; writes are refused from then on.
    immutable: std.atomic.Value(bool) = .init(false),
    /// The sorted view of an immutable memtable whose representation keeps no order, made by
    /// the first iterator that needs it (under `view_lock`) and kept until the memtable is freed.
    view: std.atomic.Value(?*[]*skiplist.Node) = .init(null),
    view_lock: arena_mod.SpinLock = .{},
    /// A gather work buffer (`gather.work_size` pointers) that an iterator gave back, for the
    /// next one's scan: at 64 KiB it is above the allocator's size classes, so without it each
    /// short range scan mapped, faulted in and unmapped one of its own.
    spare_gather: std.atomic.Value(?[*]*skiplist.Node) = .init(null),
    /// Range tombstones (see `tombstones.zig`): entry key = start ‖ trailer with type
    /// RangeDeletion, value = end (exclusive); and their log and fragment cache.
    range_del: skiplist.SkipList,
    tombstones: tombstones.State = .{},
    write_buffer_size: u64,
    num_entries: std.atomic.Value(u64) = .init(0),
    num_deletes: std.atomic.Value(u64) = .init(0),
    /// Sum of encoded entry lengths (RocksDB's data_size_).
    data_size: std.atomic.Value(u64) = .init(0),
    /// Smallest sequence number added; `seq_unset` while empty.
    first_seq: std.atomic.Value(u64) = .init(seq_unset),
    earliest_seq: std.atomic.Value(u64),
    concurrent_writes: bool,
    /// The single-writer guard (when writes are not concurrent): 1 while a write runs, so a
    /// second writer gets an error instead of corrupting the list (`write.zig`).
    writing: std.atomic.Value(u32) = .init(0),
    extractor: prefix_mod.Extractor,
    bloom: ?Bloom = null,
    /// The whole-key filter of point entries (`key_filter.zig`); null when `bloom` holds whole
    /// keys.
    key_filter: ?KeyFilter = null,
    /// The insert-hint prefix extractor: `write.zig` inserts keys in its domain with the hint
    /// of their prefix (the representation supports hints: `Options.supported`).
    hint_extractor: prefix_mod.Extractor,
    whole_key_filtering: bool,
    /// Lookups the bloom filter let through / turned away (RocksDB's bloom_memtable_hit_count
    /// and bloom_memtable_miss_count).
    bloom_hits: std.atomic.Value(u64) = .init(0),
    bloom_misses: std.atomic.Value(u64) = .init(0),
    /// The SingleDelete contract is checked (paranoid, or a safety-checked build).
    check_single_deletes: bool,

    /// REQUIRES: `options.supported()` and every option in its range (`memtable_new` checks).
    pub fn create(options: Options) error{OutOfMemory}!*MemTable {
        std.debug.assert(options.supported());
        std.debug.assert(limits.isProtectionSize(options.protection_bytes));
        std.debug.assert(options.write_buffer_size >= 1);
        if (options.earliest_seq != seq_unset) std.debug.assert(options.earliest_seq <= limits.sequence_max);
        const mt = try arena_mod.allocTracked(MemTable);
        errdefer arena_mod.destroyTracked(mt);
        const block_size: usize = if (options.arena_block_size == 0)
            arena_mod.defaultBlockSize(@intCast(@min(options.write_buffer_size, std.math.maxInt(usize))))
        else
            arena_mod.optimizeBlockSize(@intCast(@min(options.arena_block_size, std.math.maxInt(usize))));
        var arena = Arena.init(block_size);
        arena.huge_page_size = @intCast(options.huge_page_size);
        arena.thp_regions = options.transparent_huge_pages and options.huge_page_size == 0 and block_size >= thp_block_min;
        mt.* = .{
            .arena = arena,
            .rep = undefined,
            .protection_bytes = options.protection_bytes,
            .range_del = undefined,
            .write_buffer_size = options.write_buffer_size,
            .earliest_seq = .init(options.earliest_seq),
            .concurrent_writes = options.concurrent_writes,
            .extractor = options.extractor,
            .hint_extractor = options.hint_extractor,
            .whole_key_filtering = options.whole_key_filtering,
            .check_single_deletes = options.paranoid or std.debug.runtime_safety,
        };
        errdefer mt.arena.deinit();
        if (options.concurrent_writes) try mt.arena.makeConcurrent();
        mt.rep = try .init(&mt.arena, options.repConfig(@intFromPtr(mt) ^ 0x9E3779B97F4A7C15));
        errdefer mt.rep.deinit();
        mt.range_del = try skiplist.SkipList.init(&mt.arena, @intFromPtr(mt) ^ 0xC2B2AE3D27D4EB4F);
        mt.range_del.protection_bytes = options.protection_bytes;
        mt.range_del.paranoid = options.paranoid;
        if ((options.extractor.kind != .none or options.whole_key_filtering) and options.bloom_bits > 0) {
            mt.bloom = try Bloom.init(&mt.arena, options.bloom_bits);
        }
        // The point index answers absent keys itself (its slots' tags): no key filter beside it.
        if ((mt.bloom == null or !options.whole_key_filtering) and !options.point_index) mt.key_filter = KeyFilter.init(&mt.arena);
        return mt;
    }

    pub fn ref(self: *MemTable) u32 {
        const before = self.refs.fetchAdd(1, .monotonic);
        std.debug.assert(before > 0); // a reference is taken from one that is held
        return before + 1;
    }

    /// Drops one reference; frees everything when it was the last. Returns the remaining count.
    pub fn unref(self: *MemTable) u32 {
        const before = self.refs.fetchSub(1, .acq_rel);
        std.debug.assert(before > 0);
        if (before == 1) {
            self.magic = 0;
            self.tombstones.deinit();
            self.rep.deinit();
            if (self.view.load(.acquire)) |v| {
                arena_mod.freeSliceTracked(v.*);
                arena_mod.destroyTracked(v);
            }
            if (self.spare_gather.load(.acquire)) |p| {
                const work: []*skiplist.Node = p[0..gather.work_size];
                arena_mod.freeSliceTracked(work);
            }
            self.arena.deinit();
            arena_mod.destroyTracked(self);
            return 0;
        }
        return before - 1;
    }

    /// A gather work buffer for an iterator: the spare one when there is one, else a new one.
    pub fn takeGatherWork(self: *MemTable) error{OutOfMemory}![]*skiplist.Node {
        if (self.spare_gather.swap(null, .acquire)) |p| return p[0..gather.work_size];
        return arena_mod.allocSliceTracked(*skiplist.Node, gather.work_size);
    }

    /// Keeps `work` (from `takeGatherWork`) as the spare, or frees it when there is one already.
    pub fn giveGatherWork(self: *MemTable, work: []*skiplist.Node) void {
        std.debug.assert(work.len == gather.work_size);
        if (self.spare_gather.cmpxchgStrong(null, work.ptr, .release, .monotonic) != null) {
            arena_mod.freeSliceTracked(work);
        }
    }

    /// RocksDB's MemTable::ApproximateMemoryUsage: what the arena really holds in use, and the
    /// point index's tables.
    pub fn memoryUsage(self: *MemTable) u64 {
        return self.arena.usage() + self.rep.heldBytes();
    }

    /// The counter or figure `word` names (`memtable_stats` writes them all, in this order).
    pub fn stat(self: *MemTable, word: limits.StatsWord) u64 {
        return switch (word) {
            .num_entries => self.num_entries.load(.monotonic),
            .num_deletes => self.num_deletes.load(.monotonic),
            .data_size => self.data_size.load(.monotonic),
            .first_seq => self.firstSeq(),
            .earliest_seq => self.earliest_seq.load(.monotonic),
            .memory_usage => self.memoryUsage(),
            .arena_allocated_bytes => self.arena.allocatedBytes(),
            .arena_block_size => self.arena.block_size,
            .write_buffer_size => self.write_buffer_size,
            .num_range_deletes => self.numRangeDeletes(),
            .bloom_hits => self.bloom_hits.load(.monotonic),
            .bloom_misses => self.bloom_misses.load(.monotonic),
            .immutable => @intFromBool(self.isImmutable()),
            .rep => @backingInt(self.rep.kind()),
        };
    }

    pub fn protectionBytes(self: *const MemTable) u8 {
        return self.protection_bytes;
    }

    /// RocksDB's MemTable::MarkImmutable (MemTableRep::MarkReadOnly): no more writes.
    pub fn markImmutable(self: *MemTable) void {
        self.immutable.store(true, .release);
    }

    pub fn isImmutable(self: *const MemTable) bool {
        return self.immutable.load(.acquire);
    }

    /// RocksDB's first_seqno: 0 while empty (callers tell "empty" by the entry count).
    pub fn firstSeq(self: *const MemTable) u64 {
        const s = self.first_seq.load(.monotonic);
        return if (s == seq_unset) 0 else s;
    }

    /// The sorted entries of a memtable whose representation keeps no order, for an iterator:
    /// when the memtable is immutable, the shared view (made once); otherwise a private copy
    /// (`owned`: the caller frees it). REQUIRES: not `rep.caps().ordered`.
    pub fn sortedView(self: *MemTable, owned: *bool) error{OutOfMemory}![]*skiplist.Node {
        std.debug.assert(!self.rep.caps().ordered);
        owned.* = false;
        if (self.view.load(.acquire)) |v| return v.*;
        if (!self.isImmutable()) {
            owned.* = true;
            return self.rep.sortedCopy();
        }
        self.view_lock.lock();
        defer self.view_lock.unlock();
        if (self.view.load(.acquire)) |v| return v.*;
        const holder = try arena_mod.allocTracked([]*skiplist.Node);
        errdefer arena_mod.destroyTracked(holder);
        holder.* = try self.rep.sortedCopy();
        self.view.store(holder, .release);
        return holder.*;
    }

    /// Counts an entry just linked (`write.zig`, `batch.zig`, `tombstones.zig`).
    pub fn counted(self: *MemTable, seq: u64, value_type: limits.ValueType, key_len: usize, value_len: usize) void {
        atomicMin(&self.first_seq, seq);
        atomicMin(&self.earliest_seq, seq);
        _ = self.num_entries.fetchAdd(1, .monotonic);
        if (value_type == .deletion or value_type == .single_deletion) _ = self.num_deletes.fetchAdd(1, .monotonic);
        _ = self.data_size.fetchAdd(coding.entryEncodedLength(key_len, value_len), .monotonic);
    }

    /// Before linking `count` point entries: their slots in the key filter (the first; 0
    /// without one). Allocates nothing: a write rejected after this costs no memory.
    pub fn reserveKeys(self: *MemTable, count: u64) u64 {
        const f = if (self.key_filter) |*f| f else return 0;
        return f.reserve(count);
    }

    /// Records a point entry's key, linked, in the filters (RocksDB's MemTable::Add for the
    /// bloom filter); `slot` from `reserveKeys`.
    pub fn bloomAdd(self: *MemTable, key: []const u8, slot: u64) void {
        if (self.key_filter) |*f| f.add(slot, key);
        const b = self.bloom orelse return;
        if (self.extractor.prefixOf(key)) |p| b.add(p);
        if (self.whole_key_filtering) b.add(key);
    }

    /// False when the filters prove the memtable has no version of `key`.
    pub fn mayContain(self: *MemTable, key: []const u8) bool {
        if (self.bloom) |b| {
            const may = if (self.whole_key_filtering)
                b.mayContain(key)
            else if (self.extractor.prefixOf(key)) |p| b.mayContain(p) else true;
            _ = (if (may) &self.bloom_hits else &self.bloom_misses).fetchAdd(1, .monotonic);
            if (!may) return false;
        }
        const f = if (self.key_filter) |*f| f else return true;
        return f.mayContain(key);
    }

    /// For a prefix seek: false when no key with `prefix` can be here.
    pub fn mayContainPrefix(self: *MemTable, prefix: []const u8) bool {
        const b = self.bloom orelse return true;
        if (self.extractor.kind == .none) return true;
        return b.mayContain(prefix);
    }

    pub const add = write.add;
    pub const addRangeDeletion = write.addRangeDeletion;
    pub const addBatch = batch.addBatch;
    pub const findNewest = lookup.findNewest;
    pub const nextVersion = lookup.nextVersion;
    pub const acquireFragments = tombstones.acquireFragments;
    pub const maxCovering = tombstones.maxCovering;
    pub const numRangeDeletes = tombstones.count;
    pub const Record = batch.Record;

    /// TESTING ONLY (`memtable_testing_corrupt`): flips one bit of the stored entry of `key` at
    /// exactly `seq` (any type) — the last byte of its value, or of its key when asked (or when
    /// the value is empty) — to prove that corruption is detected. False when there is no such
    /// entry, or no byte to flip.
    pub fn corruptForTesting(self: *MemTable, key: []const u8, seq: u64, part: enum { value, key }) bool {
        std.debug.assert(seq <= limits.sequence_max);
        const node = self.findNewest(key, seq) orelse return false;
        if (node.key().sequence() != seq) return false;
        const e = coding.decodeEntry(node.entry());
        const key_end: [*]u8 = @constCast(e.key.user_key.ptr + e.key.user_key.len);
        const value_end: [*]u8 = @constCast(e.value.ptr + e.value.len);
        if (part == .key or e.value.len == 0) {
            if (e.key.user_key.len == 0) return false;
            (key_end - 1)[0] ^= 0x01;
        } else {
            (value_end - 1)[0] ^= 0x01;
        }
        return true;
    }
};

const testing = std.testing;

test {
    _ = write;
    _ = batch;
    _ = lookup;
    _ = tombstones;
    _ = fragments;
    _ = iterator;
    _ = @import("scan.zig");
    _ = @import("bloom.zig");
    _ = @import("key_filter.zig");
}

test "options a representation does not take are not supported" {
    try testing.expect((Options{}).supported());
    try testing.expect((Options{ .point_index = true, .concurrent_writes = true, .hint_extractor = .{ .kind = .fixed, .n = 2 } }).supported());
    try testing.expect(!(Options{ .rep = .{ .kind = .hash_skiplist } }).supported());
    try testing.expect((Options{ .rep = .{ .kind = .hash_skiplist }, .extractor = .{ .kind = .fixed, .n = 2 } }).supported());
    try testing.expect(!(Options{ .rep = .{ .kind = .vector }, .point_index = true }).supported());
    try testing.expect((Options{ .rep = .{ .kind = .vector }, .concurrent_writes = true }).supported());
}

test "the last reference frees every byte: entries, tombstones, views, hints" {
    const live_before = arena_mod.bytes_live.load(.monotonic);
    const mt = try MemTable.create(.{ .write_buffer_size = 1 << 20, .rep = .{ .kind = .vector } });
    try mt.add(1, .value, "k", "v");
    try mt.addRangeDeletion(2, "a", "b");
    (try mt.acquireFragments()).?.release();
    mt.markImmutable();
    var owned = false;
    _ = try mt.sortedView(&owned);
    try testing.expect(!owned);
    try testing.expectEqual(@as(u32, 2), mt.ref());
    try testing.expectEqual(@as(u32, 1), mt.unref());
    try testing.expectEqual(@as(u32, 0), mt.unref());
    const hinted = try MemTable.create(.{ .hint_extractor = .{ .kind = .fixed, .n = 1 } });
    try hinted.add(1, .value, "k", "v");
    try testing.expectEqual(@as(u32, 0), hinted.unref());
    try testing.expectEqual(live_before, arena_mod.bytes_live.load(.monotonic));
}

// ---- every representation answers alike ---------------------------------------------------

const differential_reps = [_]rep_mod.Options{
    .{},
    .{ .kind = .hash_skiplist, .bucket_count = 13, .height = 3, .branching = 2 },
    .{ .kind = .hash_linklist, .bucket_count = 5, .threshold = 4 },
    .{ .kind = .vector, .reserve = 10 },
};
const Differential = [differential_reps.len]*MemTable;

/// Random adds and batches into every memtable: each add answers alike everywhere. Returns the
/// next unused sequence number.
fn writeAlike(mts: *const Differential, r: std.Random, ops: usize) !u64 {
    var seq: u64 = 1;
    var op: usize = 0;
    while (op < ops) : (op += 1) {
        var kb: [8]u8 = undefined;
        // Keys of 1 to 4 letters: some shorter than the prefix (outside the domain).
        const klen = r.intRangeAtMost(usize, 1, 4);
        for (kb[0..klen]) |*c| c.* = 'a' + r.uintLessThan(u8, 4);
        const key = kb[0..klen];
        const t: limits.ValueType = switch (r.uintLessThan(u8, 10)) {
            0 => .deletion,
            1, 2 => .merge,
            else => .value,
        };
        if (r.uintLessThan(u8, 20) == 0) {
            // A batch of three records, one of them a range deletion.
            const records = [_]Record{
                .{ .seq = seq, .value_type = .value, .key = key, .value = "b" },
                .{ .seq = seq + 1, .value_type = .merge, .key = "ab", .value = "m" },
                .{ .seq = seq + 2, .value_type = .range_deletion, .key = "b", .value = "bc" },
            };
            for (mts) |mt| {
                var failed: ?usize = null;
                try mt.addBatch(&records, &failed);
            }
            seq += 3;
            continue;
        }
        // Sometimes an older sequence number for an existing key: versions out of order.
        const s = if (r.uintLessThan(u8, 8) == 0) r.uintLessThan(u64, seq) else seq;
        var results: [differential_reps.len]?anyerror = undefined;
        for (mts, 0..) |mt, i| {
            results[i] = null;
            mt.add(s, t, key, "v") catch |err| {
                results[i] = err;
            };
        }
        for (results[1..]) |res| try testing.expectEqual(results[0], res);
        if (s == seq) seq += 1;
    }
    return seq;
}

/// Every entry an iterator at `snapshot` shows, forward, as (user key, trailer) pairs; backward
/// gives the same in reverse.
fn collectEntries(mt: *MemTable, snapshot: u64, flags: Iterator.Flags, out: *std.ArrayList(coding.Key)) !void {
    const it = try Iterator.create(mt, snapshot, flags);
    defer it.destroy();
    try it.seekToFirst();
    while (it.valid()) : (it.next()) try out.append(testing.allocator, it.node().key());
    var i = out.items.len;
    try it.seekToLast();
    while (it.valid()) : (it.prev()) {
        i -= 1;
        try testing.expectEqual(std.math.Order.eq, coding.compareKeys(out.items[i], it.node().key()));
    }
    try testing.expectEqual(@as(usize, 0), i);
}

/// The same entries at `snapshot` everywhere, and every key's version run at it.
fn expectSameVersions(mts: *const Differential, snapshot: u64) !void {
    var want: std.ArrayList(coding.Key) = .empty;
    defer want.deinit(testing.allocator);
    try collectEntries(mts[0], snapshot, .{ .ignore_range_deletions = true }, &want);
    for (mts[1..]) |mt| {
        var got: std.ArrayList(coding.Key) = .empty;
        defer got.deinit(testing.allocator);
        try collectEntries(mt, snapshot, .{ .ignore_range_deletions = true }, &got);
        try testing.expectEqual(want.items.len, got.items.len);
        for (want.items, got.items) |a, b| try testing.expectEqual(std.math.Order.eq, coding.compareKeys(a, b));
        for (want.items, 0..) |k, j| {
            if (j > 0 and std.mem.eql(u8, want.items[j - 1].user_key, k.user_key)) continue;
            var x = mts[0].findNewest(k.user_key, snapshot);
            var y = mt.findNewest(k.user_key, snapshot);
            while (x != null or y != null) {
                try testing.expectEqual(std.math.Order.eq, coding.compareKeys(x.?.key(), y.?.key()));
                x = mts[0].nextVersion(x.?);
                y = mt.nextVersion(y.?);
            }
        }
    }
}

/// Prefix-same-as-start seeks (a hash bucket alone) agree with the skiplist's, both ways.
fn expectSamePrefixSeeks(mts: *const Differential, snapshot: u64) !void {
    for ([_][]const u8{ "a", "ab", "b", "ca", "dd", "e" }) |key| {
        const base = try Iterator.create(mts[0], snapshot, .{ .prefix_same_as_start = true });
        defer base.destroy();
        for (mts[1..]) |mt| {
            const it = try Iterator.create(mt, snapshot, .{ .prefix_same_as_start = true });
            defer it.destroy();
            try base.seek(key);
            try it.seek(key);
            while (base.valid()) : ({
                base.next();
                it.next();
            }) try testing.expectEqual(std.math.Order.eq, coding.compareKeys(base.node().key(), it.node().key()));
            try testing.expect(!it.valid());
            try base.seekForPrev(key);
            try it.seekForPrev(key);
            while (base.valid()) : ({
                base.prev();
                it.prev();
            }) try testing.expectEqual(std.math.Order.eq, coding.compareKeys(base.node().key(), it.node().key()));
            try testing.expect(!it.valid());
        }
    }
}

test "every representation holds the same versions: gets, version runs, iterators, batches" {
    const live_before = arena_mod.bytes_live.load(.monotonic);
    var mts: Differential = undefined;
    for (differential_reps, 0..) |k, i| mts[i] = try MemTable.create(.{
        .write_buffer_size = 1 << 20,
        .rep = k,
        .extractor = .{ .kind = .fixed, .n = 2 },
        .protection_bytes = 2,
    });
    var prng = std.Random.DefaultPrng.init(11);
    var seq = try writeAlike(&mts, prng.random(), 3000);
    // A duplicate batch fails as a whole everywhere, and changes nothing.
    for (mts) |mt| try mt.addRangeDeletion(seq, "q", "r");
    const dup = [_]Record{
        .{ .seq = seq + 1, .value_type = .value, .key = "zz", .value = "x" },
        .{ .seq = seq, .value_type = .range_deletion, .key = "q", .value = "r" },
    };
    seq += 2;
    const count = mts[0].num_entries.load(.monotonic);
    for (mts) |mt| {
        var failed: ?usize = null;
        try testing.expectError(error.Duplicate, mt.addBatch(&dup, &failed));
        try testing.expectEqual(@as(?usize, 1), failed);
        try testing.expectEqual(count, mt.num_entries.load(.monotonic));
    }
    // Immutable: a second pass over the shared view, and writes refused.
    for (mts[1..]) |mt| mt.markImmutable();
    var pass: usize = 0;
    while (pass < 2) : (pass += 1) {
        for ([_]u64{ 1, seq / 3, seq / 2, seq }) |snap| try expectSameVersions(&mts, snap);
    }
    try testing.expectError(error.Immutable, mts[1].add(seq, .value, "k", "v"));
    try expectSamePrefixSeeks(&mts, seq);
    for (mts) |mt| try testing.expectEqual(@as(u32, 0), mt.unref());
    try testing.expectEqual(live_before, arena_mod.bytes_live.load(.monotonic));
}
