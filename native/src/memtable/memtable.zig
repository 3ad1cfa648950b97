//! MemTable: one arena, one inline skiplist and the counters RocksDB's `MemTable` keeps.
//!
//! Owns every byte of its entries (in `arena`); `destroy` frees them all at once. The
//! semantics above a single version (snapshots over versions, merge folding, result shapes)
//! belong to the TypeScript side; this file answers "which versions exist, in what order".
//!
//! Thread safety: reads (`findNewest`, iterators, fragments, the bloom filter and point index)
//! never lock and may run on any thread alongside writes. Writes: one thread at a time, which
//! a guard enforces (`error.ConcurrentWrite` for a second writer), unless the memtable was
//! created with `concurrent_writes` (CAS-linked inserts, a sharded arena). `refs` and the
//! counters are atomic, so handles can be shared across threads.
const std = @import("std");
const limits = @import("../limits.zig");
const coding = @import("../coding.zig");
const arena_mod = @import("../arena.zig");
const skiplist = @import("../rep/skiplist.zig");
const prefix_mod = @import("../prefix.zig");
const Bloom = @import("bloom.zig").Bloom;
const PointIndex = @import("../rep/point_index.zig").PointIndex;
const rep_mod = @import("../rep/rep.zig");

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
    /// REQUIRES: a hash representation comes with an extractor; the point index and insert
    /// hints only with the skiplist; concurrent writes not with a hash representation.
    rep: rep_mod.Options = .{},
};

/// Insert hints: one splice per recently used prefix, in a table probed linearly over four
/// slots (a prefix whose four slots are taken replaces the first).
const hint_slots = 512;
const hint_probe = 4;
const HintSlot = struct { prefix_hash: u64 = 0, used: bool = false, splice: skiplist.Splice = .{} };

pub const AddError = error{ Duplicate, OutOfMemory, Corruption, SingleDeleteMisuse, ConcurrentWrite, Immutable };

fn atomicMin(v: *std.atomic.Value(u64), x: u64) void {
    var cur = v.load(.monotonic);
    while (x < cur) cur = v.cmpxchgWeak(cur, x, .monotonic, .monotonic) orelse return;
}

/// One fragment of the range tombstones: [start, end) is covered by the tombstones whose
/// sequence numbers are seqs[seqs_from..seqs_to] (descending, distinct).
pub const Fragment = struct {
    start: []const u8,
    end: []const u8,
    seqs_from: u32,
    seqs_to: u32,
};

/// The range tombstones of a memtable cut into non-overlapping fragments (RocksDB's
/// FragmentedRangeTombstoneList). Immutable once built; reference-counted: the memtable's cache
/// holds one reference, every reader (a get, an iterator) holds one while it uses the list.
pub const Fragments = struct {
    refs: std.atomic.Value(u32) = .init(1),
    /// The tombstone count this list was built from (at least that many are in it).
    built_for: u64,
    frags: []Fragment,
    seqs: []u64,

    pub fn release(self: *Fragments) void {
        if (self.refs.fetchSub(1, .acq_rel) != 1) return;
        arena_mod.freeSliceTracked(self.frags);
        arena_mod.freeSliceTracked(self.seqs);
        arena_mod.destroyTracked(self);
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

    /// The largest sequence number ≤ `snapshot` of a tombstone in fragment `i`; 0 if none.
    pub fn maxSeqIn(self: *const Fragments, i: usize, snapshot: u64) u64 {
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
};

const Tombstone = struct { start: []const u8, end: []const u8, seq: u64 };

/// The range tombstones in the order they were added, newest first: each new tombstone is
/// pushed (in the arena) after it is linked into the table, so a reader can tell which ones a
/// fragment list does not include yet (`ordinal` above the list's `built_for`).
const TombstoneLog = struct {
    node: *skiplist.Node,
    ordinal: u64,
    prev: ?*TombstoneLog,
};

/// A read scans at most this many tombstones added since the cached fragment list was built
/// before it folds them in (a rebuild that costs one pass over the list).
const pending_scan_max = 16;

fn lessTombstone(_: void, a: Tombstone, b: Tombstone) bool {
    return std.mem.order(u8, a.start, b.start) == .lt;
}

fn tombstoneOf(node: *skiplist.Node) Tombstone {
    const e = coding.decodeEntry(node.entry());
    return .{ .start = e.key.user_key, .end = e.value, .seq = e.key.sequence() };
}

fn lessBytes(_: void, a: []const u8, b: []const u8) bool {
    return std.mem.order(u8, a, b) == .lt;
}

fn greaterSeq(_: void, a: u64, b: u64) bool {
    return a > b;
}

pub const MemTable = struct {
    magic: u64 = memtable_magic,
    refs: std.atomic.Value(u32) = .init(1),
    arena: Arena,
    /// The point entries.
    rep: rep_mod.Rep,
    protection_bytes: u8,
    /// Set once by `markImmutable`; writes are refused from then on.
    immutable: std.atomic.Value(bool) = .init(false),
    /// The sorted view of an immutable hash or vector memtable, made by the first iterator
    /// that needs it (under `view_lock`) and kept until the memtable is freed.
    view: std.atomic.Value(?*[]*skiplist.Node) = .init(null),
    view_lock: arena_mod.SpinLock = .{},
    /// Range tombstones, apart from point entries as in RocksDB: entry key = start ‖ trailer
    /// with type RangeDeletion, value = end (exclusive).
    range_del: skiplist.SkipList,
    write_buffer_size: u64,
    num_entries: std.atomic.Value(u64) = .init(0),
    num_deletes: std.atomic.Value(u64) = .init(0),
    num_range_deletes: std.atomic.Value(u64) = .init(0),
    /// Sum of encoded entry lengths (RocksDB's data_size_).
    data_size: std.atomic.Value(u64) = .init(0),
    /// Smallest sequence number added; `seq_unset` while empty.
    first_seq: std.atomic.Value(u64) = .init(seq_unset),
    earliest_seq: std.atomic.Value(u64),
    concurrent_writes: bool,
    /// The single-writer guard (when writes are not concurrent): 1 while an add runs, so a
    /// second writer gets an error instead of corrupting the list.
    writing: std.atomic.Value(u32) = .init(0),
    extractor: prefix_mod.Extractor,
    bloom: ?Bloom = null,
    index: ?PointIndex = null,
    hint_extractor: prefix_mod.Extractor,
    hints: ?*[hint_slots]HintSlot = null,
    whole_key_filtering: bool,
    /// Lookups the bloom filter let through / turned away (RocksDB's bloom_memtable_hit_count
    /// and bloom_memtable_miss_count).
    bloom_hits: std.atomic.Value(u64) = .init(0),
    bloom_misses: std.atomic.Value(u64) = .init(0),
    check_single_deletes: bool,
    /// The cached fragments (one reference) and the spinlock that guards taking a reference
    /// to them; readers without range tombstones never touch either.
    fragments: ?*Fragments = null,
    fragments_lock: std.atomic.Value(u32) = .init(0),
    tombstone_log: std.atomic.Value(?*TombstoneLog) = .init(null),

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
        const seed = @intFromPtr(mt) ^ 0x9E3779B97F4A7C15;
        mt.rep = switch (options.rep.kind) {
            .skiplist => .{ .skiplist = try skiplist.SkipList.init(&mt.arena, seed) },
            .hash_skiplist => .{ .hash_skiplist = try rep_mod.HashRep.init(&mt.arena, options.rep, options.extractor, seed, options.protection_bytes, options.paranoid) },
            .hash_linklist => .{ .hash_linklist = try rep_mod.HashRep.init(&mt.arena, options.rep, options.extractor, seed, options.protection_bytes, options.paranoid) },
            .vector => .{ .vector = try rep_mod.VectorRep.init(&mt.arena, options.rep, options.write_buffer_size, options.protection_bytes) },
        };
        mt.range_del = try skiplist.SkipList.init(&mt.arena, @intFromPtr(mt) ^ 0xC2B2AE3D27D4EB4F);
        if (options.hint_extractor.kind != .none) {
            const hints = try arena_mod.allocTracked([hint_slots]HintSlot);
            hints.* = @splat(.{});
            mt.hints = hints;
        }
        errdefer if (mt.hints) |h| arena_mod.destroyTracked(h);
        if (options.point_index) {
            // About one bucket per 128 bytes of write buffer (entries are rarely smaller).
            mt.index = try PointIndex.init(&mt.arena, @max(1024, @min(options.write_buffer_size / 128, 1 << 26)));
        }
        if ((options.extractor.kind != .none or options.whole_key_filtering) and options.bloom_bits > 0) {
            mt.bloom = try Bloom.init(&mt.arena, options.bloom_bits);
        }
        if (mt.rep == .skiplist) {
            mt.rep.skiplist.protection_bytes = options.protection_bytes;
            mt.rep.skiplist.paranoid = options.paranoid;
        }
        mt.range_del.protection_bytes = options.protection_bytes;
        mt.range_del.paranoid = options.paranoid;
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
            if (self.fragments) |f| f.release();
            if (self.hints) |h| arena_mod.destroyTracked(h);
            if (self.view.load(.acquire)) |v| {
                arena_mod.freeSliceTracked(v.*);
                arena_mod.destroyTracked(v);
            }
            self.arena.deinit();
            arena_mod.destroyTracked(self);
            return 0;
        }
        return before - 1;
    }

    /// RocksDB's MemTable::ApproximateMemoryUsage: what the arena really holds in use.
    pub fn memoryUsage(self: *MemTable) u64 {
        return self.arena.usage();
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

    /// The sorted entries of a hash or vector memtable for an iterator: when the memtable is
    /// immutable, the shared view (made once); otherwise a private copy (`owned`: the caller
    /// frees it). REQUIRES: not the skiplist representation.
    pub fn sortedView(self: *MemTable, owned: *bool) error{OutOfMemory}![]*skiplist.Node {
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

    fn counted(self: *MemTable, seq: u64, value_type: limits.ValueType, key_len: usize, value_len: usize) void {
        atomicMin(&self.first_seq, seq);
        atomicMin(&self.earliest_seq, seq);
        _ = self.num_entries.fetchAdd(1, .monotonic);
        if (value_type == .deletion or value_type == .single_deletion) _ = self.num_deletes.fetchAdd(1, .monotonic);
        _ = self.data_size.fetchAdd(coding.entryEncodedLength(key_len, value_len), .monotonic);
    }

    /// Enters a write: with concurrent writes, nothing to do; otherwise takes the single-writer
    /// guard or reports the other writer.
    fn enter(self: *MemTable) AddError!void {
        if (self.isImmutable()) return error.Immutable;
        if (self.concurrent_writes) return;
        if (self.writing.cmpxchgStrong(0, 1, .acquire, .monotonic) != null) return error.ConcurrentWrite;
    }

    fn leave(self: *MemTable) void {
        if (!self.concurrent_writes) self.writing.store(0, .release);
    }

    /// Records a point entry's key in the bloom filter (RocksDB's MemTable::Add).
    fn bloomAdd(self: *MemTable, key: []const u8) void {
        const b = self.bloom orelse return;
        if (self.extractor.prefixOf(key)) |p| b.add(p);
        if (self.whole_key_filtering) b.add(key);
    }

    /// False when the bloom filter proves the memtable has no version of `key`.
    pub fn mayContain(self: *MemTable, key: []const u8) bool {
        const b = self.bloom orelse return true;
        const may = if (self.whole_key_filtering)
            b.mayContain(key)
        else if (self.extractor.prefixOf(key)) |p| b.mayContain(p) else true;
        _ = (if (may) &self.bloom_hits else &self.bloom_misses).fetchAdd(1, .monotonic);
        return may;
    }

    /// For a prefix seek: false when no key with `prefix` can be here.
    pub fn mayContainPrefix(self: *MemTable, prefix: []const u8) bool {
        const b = self.bloom orelse return true;
        if (self.extractor.kind == .none) return true;
        return b.mayContain(prefix);
    }

    /// Inserts into the range-deletion table, or (`list` null) the point representation.
    fn insertPoint(self: *MemTable, list_or_rep: ?*skiplist.SkipList, key: coding.Key, value: []const u8) AddError!*skiplist.Node {
        const list = list_or_rep orelse switch (self.rep) {
            .skiplist => &self.rep.skiplist,
            .hash_skiplist, .hash_linklist => |*h| return h.insert(key, value),
            .vector => |*v| return v.insert(key, value),
        };
        if (self.concurrent_writes) return list.insertConcurrently(key, value);
        if (self.hints) |hints| {
            if (list_or_rep == null) {
                if (self.hint_extractor.prefixOf(key.user_key)) |p| {
                    const h = std.hash.Wyhash.hash(0x68696E74, p);
                    const home: usize = @intCast(h % hint_slots);
                    var slot = &hints[home];
                    var probe: usize = 0;
                    while (probe < hint_probe) : (probe += 1) {
                        const s = &hints[(home + probe) % hint_slots];
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
                    return list.insertWithSplice(key, value, &slot.splice);
                }
            }
        }
        return list.insert(key, value);
    }

    /// REQUIRES: key.len ≤ key_size_max, value.len ≤ value_size_max, seq ≤ sequence_max,
    /// value_type a point type; no concurrent add.
    pub fn add(self: *MemTable, seq: u64, value_type: limits.ValueType, key: []const u8, value: []const u8) AddError!void {
        std.debug.assert(key.len <= limits.key_size_max);
        std.debug.assert(value.len <= limits.value_size_max);
        std.debug.assert(limits.ValueType.isKnownPointType(@backingInt(value_type)));
        try self.enter();
        defer self.leave();
        if (value_type == .single_deletion and self.check_single_deletes and self.singleDeleteMisuse(key, seq)) {
            return error.SingleDeleteMisuse;
        }
        const ikey: coding.Key = .{ .user_key = key, .trailer = coding.packTrailer(seq, @backingInt(value_type)) };
        const spare = if (self.index) |*ix| try ix.prepare(key) else null;
        const node = try self.insertPoint(null, ikey, value);
        if (self.index) |*ix| ix.update(node, spare);
        self.bloomAdd(key);
        self.counted(seq, value_type, key.len, value.len);
    }

    /// Stores the range tombstone [start, end) at `seq` in the range-deletion table.
    /// REQUIRES: as `add`, and start ≤ end bytewise.
    pub fn addRangeDeletion(self: *MemTable, seq: u64, start: []const u8, end: []const u8) AddError!void {
        std.debug.assert(std.mem.order(u8, start, end) != .gt);
        const ikey: coding.Key = .{ .user_key = start, .trailer = coding.packTrailer(seq, @backingInt(limits.ValueType.range_deletion)) };
        try self.enter();
        defer self.leave();
        const log = try self.newLogEntry();
        log.node = try self.insertPoint(&self.range_del, ikey, end);
        self.counted(seq, .range_deletion, start.len, end.len);
        self.publishTombstone(log);
    }

    fn newLogEntry(self: *MemTable) error{OutOfMemory}!*TombstoneLog {
        const raw = try self.arena.allocateAligned(@sizeOf(TombstoneLog));
        return @ptrCast(@alignCast(raw));
    }

    /// Makes a linked tombstone visible to the fragment cache (a lock-free push).
    fn publishTombstone(self: *MemTable, log: *TombstoneLog) void {
        var head = self.tombstone_log.load(.acquire);
        while (true) {
            log.prev = head;
            log.ordinal = if (head) |h| h.ordinal + 1 else 1;
            head = self.tombstone_log.cmpxchgWeak(head, log, .release, .acquire) orelse break;
        }
        _ = self.num_range_deletes.fetchAdd(1, .release);
    }

    /// The SingleDelete contract (RocksDB): below a SingleDeletion, down to the previous one,
    /// a key has at most one version and it is a Value. Anything else is misuse.
    fn singleDeleteMisuse(self: *MemTable, key: []const u8, seq: u64) bool {
        if (seq == 0) return false;
        var node = self.findNewest(key, seq - 1) orelse return false;
        var values: u32 = 0;
        while (true) {
            const t = node.key().valueType();
            if (t == @backingInt(limits.ValueType.single_deletion)) return false;
            if (t != @backingInt(limits.ValueType.value)) return true;
            values += 1;
            if (values > 1) return true;
            node = self.rep.nextVersion(node) orelse return false;
        }
    }

    /// The newest version of `key` with sequence number ≤ `snapshot`, or null.
    pub fn findNewest(self: *MemTable, key: []const u8, snapshot: u64) ?*skiplist.Node {
        if (self.index) |*ix| {
            // The newest version, then older ones along level 0 down to the snapshot.
            var n = ix.lookup(key) orelse return null;
            while (n.key().sequence() > snapshot) {
                n = n.next(0) orelse return null;
                if (!std.mem.eql(u8, n.key().user_key, key)) return null;
            }
            return n;
        }
        return self.rep.findNewest(key, snapshot);
    }

    /// The next older version of `node`'s user key (a point entry), or null.
    pub fn nextVersion(self: *MemTable, node: *skiplist.Node) ?*skiplist.Node {
        return self.rep.nextVersion(node);
    }

    pub fn numRangeDeletes(self: *const MemTable) u64 {
        return self.num_range_deletes.load(.acquire);
    }

    fn lockFragments(self: *MemTable) void {
        while (self.fragments_lock.cmpxchgWeak(0, 1, .acquire, .monotonic) != null) std.atomic.spinLoopHint();
    }

    fn unlockFragments(self: *MemTable) void {
        self.fragments_lock.store(0, .release);
    }

    fn cachedFragments(self: *MemTable) ?*Fragments {
        self.lockFragments();
        defer self.unlockFragments();
        const f = self.fragments orelse return null;
        _ = f.refs.fetchAdd(1, .monotonic);
        return f;
    }

    /// The fragmented range tombstones, up to date, with a reference for the caller (release
    /// it), or null when there are none. The list is cached; tombstones added since it was
    /// built are folded into a new list in one pass over the old one (RocksDB rebuilds its
    /// cached list from scratch after every range deletion).
    pub fn acquireFragments(self: *MemTable) error{OutOfMemory}!?*Fragments {
        if (self.num_range_deletes.load(.acquire) == 0) return null;
        const cached = self.cachedFragments();
        const head = self.tombstone_log.load(.acquire).?;
        if (cached) |f| {
            if (f.built_for >= head.ordinal) return f;
        }
        defer if (cached) |f| f.release();
        return try self.rebuildFragments(cached, head);
    }

    /// The largest sequence number ≤ `snapshot` of a range tombstone that covers `key`; 0 if
    /// none. Uses the cached fragment list and scans the few tombstones added since it was
    /// built; when there are more, folds them in first.
    pub fn maxCovering(self: *MemTable, key: []const u8, snapshot: u64) error{OutOfMemory}!u64 {
        if (self.num_range_deletes.load(.acquire) == 0) return 0;
        const cached = self.cachedFragments();
        defer if (cached) |f| f.release();
        const built = if (cached) |f| f.built_for else 0;
        var best: u64 = 0;
        var scanned: u32 = 0;
        var log = self.tombstone_log.load(.acquire);
        while (log) |l| : (log = l.prev) {
            if (l.ordinal <= built) break;
            scanned += 1;
            if (scanned > pending_scan_max) {
                const fresh = try self.rebuildFragments(cached, self.tombstone_log.load(.acquire).?);
                defer fresh.release();
                return fresh.maxCovering(key, snapshot);
            }
            const t = tombstoneOf(l.node);
            if (t.seq <= snapshot and t.seq > best and std.mem.order(u8, t.start, key) != .gt and
                std.mem.order(u8, key, t.end) == .lt) best = t.seq;
        }
        if (cached) |f| best = @max(best, f.maxCovering(key, snapshot));
        return best;
    }

    /// A list with every tombstone up to `head` (`old` plus the ones after it), published
    /// as the cache unless a newer one got there first; returned with a reference.
    fn rebuildFragments(self: *MemTable, old: ?*Fragments, head: *TombstoneLog) error{OutOfMemory}!*Fragments {
        const fresh = try buildFragments(old, head);
        self.lockFragments();
        if (self.fragments) |current| {
            if (current.built_for >= fresh.built_for) {
                _ = current.refs.fetchAdd(1, .monotonic);
                self.unlockFragments();
                fresh.release();
                return current;
            }
        }
        const replaced = self.fragments;
        self.fragments = fresh;
        _ = fresh.refs.fetchAdd(1, .monotonic); // the caller's; the cache keeps the first
        self.unlockFragments();
        if (replaced) |r| r.release();
        return fresh;
    }

    /// Sweeps the boundaries of `old`'s fragments and of the tombstones logged after it, in
    /// order: every elementary interval gets the union of the old fragment's seqs and the seqs
    /// of the new tombstones over it. O(old fragments + new tombstones · log).
    fn buildFragments(old: ?*Fragments, head: *TombstoneLog) error{OutOfMemory}!*Fragments {
        const gpa = arena_mod.backing_allocator;
        const built = if (old) |f| f.built_for else 0;
        var tombs: std.ArrayList(Tombstone) = .empty;
        defer tombs.deinit(gpa);
        var new_bounds: std.ArrayList([]const u8) = .empty;
        defer new_bounds.deinit(gpa);
        var log: ?*TombstoneLog = head;
        while (log) |l| : (log = l.prev) {
            if (l.ordinal <= built) break;
            const t = tombstoneOf(l.node);
            if (std.mem.order(u8, t.start, t.end) != .lt) continue; // empty: hides nothing
            try tombs.append(gpa, t);
            try new_bounds.append(gpa, t.start);
            try new_bounds.append(gpa, t.end);
        }
        std.mem.sort(Tombstone, tombs.items, {}, lessTombstone);
        std.mem.sort([]const u8, new_bounds.items, {}, lessBytes);

        // All boundaries in order: the old fragments' (already sorted) merged with the new.
        const old_frags: []const Fragment = if (old) |f| f.frags else &.{};
        var bounds: std.ArrayList([]const u8) = .empty;
        defer bounds.deinit(gpa);
        try bounds.ensureTotalCapacity(gpa, 2 * old_frags.len + new_bounds.items.len);
        var oi: usize = 0; // index into the old boundary sequence: start0, end0, start1, …
        var ni: usize = 0;
        while (oi < 2 * old_frags.len or ni < new_bounds.items.len) {
            const from_old = ni >= new_bounds.items.len or (oi < 2 * old_frags.len and
                std.mem.order(u8, oldBound(old_frags, oi), new_bounds.items[ni]) != .gt);
            const b = if (from_old) oldBound(old_frags, oi) else new_bounds.items[ni];
            if (from_old) oi += 1 else ni += 1;
            if (bounds.items.len > 0 and std.mem.eql(u8, bounds.items[bounds.items.len - 1], b)) continue;
            bounds.appendAssumeCapacity(b);
        }

        var frags: std.ArrayList(Fragment) = .empty;
        defer frags.deinit(gpa);
        var seqs: std.ArrayList(u64) = .empty;
        defer seqs.deinit(gpa);
        var active: std.ArrayList(Tombstone) = .empty;
        defer active.deinit(gpa);
        var next_tomb: usize = 0;
        var of: usize = 0; // the first old fragment that does not end at or before b
        var i: usize = 0;
        while (i + 1 < bounds.items.len) : (i += 1) {
            const b = bounds.items[i];
            var a: usize = 0;
            while (a < active.items.len) {
                if (std.mem.order(u8, active.items[a].end, b) != .gt) {
                    _ = active.swapRemove(a);
                } else a += 1;
            }
            while (next_tomb < tombs.items.len and std.mem.order(u8, tombs.items[next_tomb].start, b) != .gt) : (next_tomb += 1) {
                try active.append(gpa, tombs.items[next_tomb]);
            }
            while (of < old_frags.len and std.mem.order(u8, old_frags[of].end, b) != .gt) of += 1;
            const old_seqs: []const u64 = if (of < old_frags.len and std.mem.order(u8, old_frags[of].start, b) != .gt)
                old.?.seqs[old_frags[of].seqs_from..old_frags[of].seqs_to]
            else
                &.{};
            if (active.items.len == 0 and old_seqs.len == 0) continue;
            const from = seqs.items.len;
            try seqs.appendSlice(gpa, old_seqs);
            for (active.items) |t| try seqs.append(gpa, t.seq);
            const run = seqs.items[from..];
            if (active.items.len > 0) std.mem.sort(u64, run, {}, greaterSeq);
            var distinct: usize = 0;
            for (run) |sq| {
                if (distinct > 0 and run[distinct - 1] == sq) continue;
                run[distinct] = sq;
                distinct += 1;
            }
            seqs.shrinkRetainingCapacity(from + distinct);
            try frags.append(gpa, .{
                .start = b,
                .end = bounds.items[i + 1],
                .seqs_from = @intCast(from),
                .seqs_to = @intCast(from + distinct),
            });
        }
        const out = try arena_mod.allocTracked(Fragments);
        errdefer arena_mod.destroyTracked(out);
        const out_frags = try arena_mod.allocSliceTracked(Fragment, frags.items.len);
        errdefer arena_mod.freeSliceTracked(out_frags);
        const out_seqs = try arena_mod.allocSliceTracked(u64, seqs.items.len);
        @memcpy(out_frags, frags.items);
        @memcpy(out_seqs, seqs.items);
        out.* = .{ .built_for = head.ordinal, .frags = out_frags, .seqs = out_seqs };
        return out;
    }

    fn oldBound(frags: []const Fragment, i: usize) []const u8 {
        const f = frags[i / 2];
        return if (i % 2 == 0) f.start else f.end;
    }

    // ---- write batches ---------------------------------------------------------------------

    /// A batch while other threads may insert too: every check first (no other writer can
    /// create an entry with this batch's sequence numbers when they come from one allocator),
    /// then one CAS insert per record.
    fn addBatchConcurrently(self: *MemTable, records: []const Record, failed: *?usize) AddError!void {
        for (records, 0..) |r, i| {
            const ikey: coding.Key = .{ .user_key = r.key, .trailer = coding.packTrailer(r.seq, @backingInt(r.value_type)) };
            const there = if (r.value_type == .range_deletion) self.range_del.contains(ikey) else self.rep.contains(ikey);
            if (there) {
                failed.* = i;
                return error.Duplicate;
            }
            if (r.value_type == .single_deletion and self.check_single_deletes and self.singleDeleteMisuse(r.key, r.seq)) {
                failed.* = i;
                return error.SingleDeleteMisuse;
            }
        }
        for (records, 0..) |r, i| {
            const ikey: coding.Key = .{ .user_key = r.key, .trailer = coding.packTrailer(r.seq, @backingInt(r.value_type)) };
            if (r.value_type == .range_deletion) {
                const log = try self.newLogEntry();
                log.node = self.range_del.insertConcurrently(ikey, r.value) catch |err| {
                    failed.* = i;
                    return err;
                };
                self.counted(r.seq, r.value_type, r.key.len, r.value.len);
                self.publishTombstone(log);
            } else {
                const spare = if (self.index) |*ix| try ix.prepare(r.key) else null;
                const node = self.insertPoint(null, ikey, r.value) catch |err| {
                    failed.* = i;
                    return err;
                };
                if (self.index) |*ix| ix.update(node, spare);
                self.bloomAdd(r.key);
                self.counted(r.seq, r.value_type, r.key.len, r.value.len);
            }
        }
    }

    /// `addBatch` for the hash and vector representations: every check (duplicates in the
    /// batch and in the memtable, the SingleDelete contract) and every allocation (nodes,
    /// buckets, slots, tombstone log entries) first, then the links, which cannot fail.
    fn addBatchToRep(self: *MemTable, records: []const Record, failed: *?usize) AddError!void {
        const gpa = arena_mod.backing_allocator;
        const n = records.len;
        const order = try gpa.alloc(u32, n);
        defer gpa.free(order);
        for (order, 0..) |*o, i| o.* = @intCast(i);
        const ctx: SortCtx = .{ .records = records };
        // A decoded batch numbers its records first, first+1, …: no two can be equal, and no
        // sort is needed to find duplicates among them. Anything else is sorted and checked.
        const numbered = for (records, 0..) |r, i| {
            if (r.seq != records[0].seq + i) break false;
        } else true;
        if (!numbered) std.mem.sort(u32, order, ctx, SortCtx.lessTypedGroups);
        // Vector: sequence numbers above every stored one cannot collide (see VectorRep).
        const fresh = numbered and self.rep == .vector and self.rep.vector.freshFrom(records[0].seq);
        for (order, 0..) |i, k| {
            const r = records[i];
            const ikey = ctx.ikey(i);
            const range = r.value_type == .range_deletion;
            const dup_in_batch = !numbered and k > 0 and (records[order[k - 1]].value_type == .range_deletion) == range and
                coding.compareKeys(ctx.ikey(order[k - 1]), ikey) == .eq;
            const there = if (range) self.range_del.contains(ikey) else !fresh and self.rep.contains(ikey);
            if (dup_in_batch or there) {
                failed.* = i;
                return error.Duplicate;
            }
            if (r.value_type == .single_deletion and self.check_single_deletes and self.singleDeleteMisuse(r.key, r.seq)) {
                failed.* = i;
                return error.SingleDeleteMisuse;
            }
        }
        const Prepared = union(enum) { hash: skiplist.SkipList.Unlinked, vector: rep_mod.VectorRep.Prepared, range: skiplist.SkipList.Unlinked };
        const prepared = try gpa.alloc(Prepared, n);
        defer gpa.free(prepared);
        var logs: std.ArrayList(*TombstoneLog) = .empty;
        defer logs.deinit(gpa);
        for (order) |i| {
            const r = records[i];
            const ikey = ctx.ikey(i);
            if (r.value_type == .range_deletion) {
                prepared[i] = .{ .range = try self.range_del.allocateSorted(ikey, r.value) };
                try logs.append(gpa, try self.newLogEntry());
            } else if (self.rep.hash()) |h| {
                prepared[i] = .{ .hash = try h.prepare(ikey, r.value) };
            } else {
                prepared[i] = .{ .vector = try self.rep.vector.prepare(ikey, r.value) };
            }
        }
        if (self.rep == .vector) {
            for (records) |r| _ = self.rep.vector.claimSeq(r.seq);
        }
        var next_log: usize = 0;
        for (order, 0..) |i, k| {
            const r = records[i];
            // The chain heads of later records: their misses overlap this link.
            if (self.rep == .vector and k + 8 < n) @prefetch(self.rep.vector.chainOf(records[order[k + 8]].key), .{ .rw = .write });
            switch (prepared[i]) {
                .hash => |u| self.rep.hash().?.link(u),
                .vector => |p| self.rep.vector.link(p, fresh) catch unreachable, // checked, single writer
                .range => |u| {
                    self.range_del.linkUnlinked(u);
                    const log = logs.items[next_log];
                    next_log += 1;
                    log.node = u.node;
                    self.counted(r.seq, r.value_type, r.key.len, r.value.len);
                    self.publishTombstone(log);
                    continue;
                },
            }
            self.bloomAdd(r.key);
            self.counted(r.seq, r.value_type, r.key.len, r.value.len);
        }
    }

    pub const Record = struct {
        seq: u64,
        value_type: limits.ValueType,
        key: []const u8,
        /// The value; for a RangeDeletion, the end key.
        value: []const u8,
    };

    const SortCtx = struct {
        records: []const Record,
        fn ikey(self: SortCtx, i: u32) coding.Key {
            const r = self.records[i];
            return .{ .user_key = r.key, .trailer = coding.packTrailer(r.seq, @backingInt(r.value_type)) };
        }
        fn less(self: SortCtx, a: u32, b: u32) bool {
            return coding.compareKeys(self.ikey(a), self.ikey(b)) == .lt;
        }
        /// Point entries before range deletions, each group in internal-key order.
        fn lessTypedGroups(self: SortCtx, a: u32, b: u32) bool {
            const ra = self.records[a].value_type == .range_deletion;
            const rb = self.records[b].value_type == .range_deletion;
            if (ra != rb) return rb;
            return self.less(a, b);
        }
    };

    /// Inserts every record or none: all checks (duplicates, the SingleDelete contract,
    /// paranoid order) and all allocations happen before the first node is linked. Records are
    /// inserted in key order, so the search of one key starts from the previous key's splice.
    /// On failure `failed` is the index of the record at fault (when one is). Entries of a
    /// failed batch's allocations stay unused in the arena. REQUIRES: no concurrent add.
    pub fn addBatch(self: *MemTable, records: []const Record, failed: *?usize) AddError!void {
        failed.* = null;
        try self.enter();
        defer self.leave();
        if (self.concurrent_writes) return self.addBatchConcurrently(records, failed);
        const gpa = arena_mod.backing_allocator;
        const n = records.len;
        if (n == 0) return;
        if (self.rep != .skiplist) return self.addBatchToRep(records, failed);
        const list = &self.rep.skiplist;
        const order = try gpa.alloc(u32, n);
        defer gpa.free(order);
        const preds = try gpa.alloc(skiplist.Preds, n);
        defer gpa.free(preds);
        const nodes = try gpa.alloc(skiplist.SkipList.Unlinked, n);
        defer gpa.free(nodes);
        for (order, 0..) |*o, i| o.* = @intCast(i);
        const ctx: SortCtx = .{ .records = records };
        // Point entries first, then range deletions; each group in internal-key order.
        var points: usize = 0;
        for (order) |*o| {
            if (records[o.*].value_type != .range_deletion) {
                std.mem.swap(u32, o, &order[points]);
                points += 1;
            }
        }
        std.mem.sort(u32, order[0..points], ctx, SortCtx.less);
        std.mem.sort(u32, order[points..], ctx, SortCtx.less);

        for (order[0..points]) |i| {
            const r = records[i];
            if (r.value_type == .single_deletion and self.check_single_deletes and self.singleDeleteMisuse(r.key, r.seq)) {
                failed.* = i;
                return error.SingleDeleteMisuse;
            }
        }
        var ikeys: [16]coding.Key = undefined;
        var group_preds: [16]skiplist.Preds = undefined;
        inline for (.{ 0, 1 }) |group| {
            const group_list = if (group == 0) list else &self.range_del;
            const run = if (group == 0) order[0..points] else order[points..];
            for (run, 0..) |i, k| {
                if (k > 0 and coding.compareKeys(ctx.ikey(run[k - 1]), ctx.ikey(i)) == .eq) {
                    failed.* = i;
                    return error.Duplicate;
                }
            }
            var g: usize = 0;
            while (g < run.len) : (g += ikeys.len) {
                const members = run[g..@min(run.len, g + ikeys.len)];
                for (members, 0..) |i, k| ikeys[k] = ctx.ikey(i);
                var at: usize = 0;
                group_list.prepareGroup(ikeys[0..members.len], group_preds[0..members.len], &at) catch |err| {
                    failed.* = members[at];
                    return err;
                };
                for (members, 0..) |i, k| preds[i] = group_preds[k];
            }
        }
        for (order[0..points]) |i| nodes[i] = try list.allocateSorted(ctx.ikey(i), records[i].value);
        const spares = try gpa.alloc(?*anyopaque, if (self.index != null) n else 0);
        defer gpa.free(spares);
        if (self.index) |*ix| {
            for (order[0..points]) |i| spares[i] = @ptrCast(try ix.prepare(records[i].key));
        }
        for (order[points..]) |i| nodes[i] = try self.range_del.allocateSorted(ctx.ikey(i), records[i].value);
        const logs = try gpa.alloc(*TombstoneLog, n - points);
        defer gpa.free(logs);
        for (logs) |*l| l.* = try self.newLogEntry();

        var last: [skiplist.height_max]?*skiplist.Node = @splat(null);
        for (order[0..points], 0..) |i, k| {
            // The predecessors of a later record were last touched during its search: fetch
            // them again ahead of time.
            if (k + 8 < points) @prefetch(preds[order[k + 8]][0], .{ .rw = .write });
            list.linkSorted(nodes[i], &preds[i], &last);
            if (self.index) |*ix| ix.update(nodes[i].node, @ptrCast(@alignCast(spares[i])));
            const r = records[i];
            self.bloomAdd(r.key);
            self.counted(r.seq, r.value_type, r.key.len, r.value.len);
        }
        last = @splat(null);
        for (order[points..], logs) |i, log| {
            self.range_del.linkSorted(nodes[i], &preds[i], &last);
            const r = records[i];
            self.counted(r.seq, r.value_type, r.key.len, r.value.len);
            log.node = nodes[i].node;
            self.publishTombstone(log);
        }
    }
};

/// A cursor that hides versions newer than its snapshot and, unless asked not to, versions a
/// range tombstone at or below the snapshot covers. Over the range-deletion table it lists the
/// tombstones themselves. Pins its memtable with a reference, and the fragmented tombstones as
/// of its creation (as RocksDB's iterators do).
pub const Iterator = struct {
    magic: u64 = iterator_magic,
    mt: *MemTable,
    it: rep_mod.Cursor,
    /// Hash and vector representations: the sorted view this iterator walks (made at the
    /// first positioning that needs total order), and whether it is the iterator's own copy.
    view: ?[]*skiplist.Node = null,
    view_owned: bool = false,
    snapshot: u64,
    fragments: ?*Fragments,
    /// The fragment that held the last key looked up (a scan meets keys in order).
    fragment_hint: usize = 0,
    flags: Flags = .{},
    /// The prefix the last seek set (points into the entry it landed on, which never moves).
    prefix: ?[]const u8 = null,
    /// The `prefix` read option: only user keys starting with these bytes (owned copy).
    bound: ?[]u8 = null,
    bound_alloc: ?[]u8 = null,

    pub const Flags = packed struct(u32) {
        range_table: bool = false,
        ignore_range_deletions: bool = false,
        /// After a seek, stop at the first key whose prefix differs from the sought key's.
        prefix_same_as_start: bool = false,
        /// Seeks ignore the prefix bloom filter (always a total-order seek).
        total_order_seek: bool = false,
        _: u28 = 0,
    };

    pub fn create(mt: *MemTable, snapshot: u64, flags: Flags) error{OutOfMemory}!*Iterator {
        const self = try arena_mod.allocTracked(Iterator);
        errdefer arena_mod.destroyTracked(self);
        const fragments = if (flags.range_table or flags.ignore_range_deletions) null else try mt.acquireFragments();
        _ = mt.ref();
        const cursor: rep_mod.Cursor = if (flags.range_table)
            .overList(&mt.range_del)
        else if (mt.rep == .skiplist) .overList(&mt.rep.skiplist) else .{};
        self.* = .{ .mt = mt, .it = cursor, .snapshot = snapshot, .fragments = fragments, .flags = flags };
        return self;
    }

    /// Whether positioning goes through a sorted view (hash and vector representations).
    fn viewed(self: *const Iterator) bool {
        return !self.flags.range_table and self.mt.rep != .skiplist;
    }

    /// Before a total-order positioning: the cursor over the sorted view (made now if needed).
    fn totalOrder(self: *Iterator) error{OutOfMemory}!void {
        if (!self.viewed()) return;
        const view = self.view orelse blk: {
            const v = try self.mt.sortedView(&self.view_owned);
            self.view = v;
            break :blk v;
        };
        self.it = .overView(view);
    }

    /// Before a seek: with `prefix_same_as_start` on a hash representation, a key with a
    /// prefix seeks within its bucket only (RocksDB's prefix iterator); otherwise total order.
    fn seekOrder(self: *Iterator, key: []const u8) error{OutOfMemory}!void {
        if (!self.viewed()) return;
        if (self.flags.prefix_same_as_start and self.bound == null and self.mt.extractor.prefixOf(key) != null) {
            if (self.mt.rep.hash()) |h| {
                if (h.bucketOf(key)) |b| {
                    self.it = .overList(&b.list);
                } else self.it = .overView(&.{}); // no key with this prefix
                return;
            }
        }
        return self.totalOrder();
    }

    /// Restricts the iterator to user keys that start with `prefix` (copied).
    pub fn setBound(self: *Iterator, prefix: []const u8) error{OutOfMemory}!void {
        const copy = try arena_mod.allocSliceTracked(u8, @max(prefix.len, 1));
        @memcpy(copy[0..prefix.len], prefix);
        if (self.bound_alloc) |b| arena_mod.freeSliceTracked(b);
        self.bound = copy[0..prefix.len];
        self.bound_alloc = copy;
        self.it.node = null;
    }

    fn checkBound(self: *Iterator) void {
        const b = self.bound orelse return;
        const n = self.it.node orelse return;
        if (!std.mem.startsWith(u8, n.key().user_key, b)) self.it.node = null;
    }

    pub fn destroy(self: *Iterator) void {
        const mt = self.mt;
        if (self.view_owned) arena_mod.freeSliceTracked(self.view.?);
        if (self.bound_alloc) |b| arena_mod.freeSliceTracked(b);
        if (self.fragments) |f| f.release();
        self.magic = 0;
        arena_mod.destroyTracked(self);
        _ = mt.unref();
    }

    fn visible(self: *Iterator) bool {
        const n = self.it.node orelse return true;
        const k = n.key();
        const seq = k.sequence();
        if (seq > self.snapshot) return false;
        const f = self.fragments orelse return true;
        const hint = self.fragment_hint;
        const i = if (hint < f.frags.len and
            std.mem.order(u8, f.frags[hint].start, k.user_key) != .gt and
            std.mem.order(u8, k.user_key, f.frags[hint].end) == .lt) hint else (f.find(k.user_key) orelse return true);
        self.fragment_hint = i;
        return f.maxSeqIn(i, self.snapshot) <= seq;
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
    pub fn seekToFirst(self: *Iterator) error{OutOfMemory}!void {
        try self.totalOrder();
        self.prefix = null;
        if (self.bound) |b| {
            self.it.seek(.{ .user_key = b, .trailer = coding.packTrailer(limits.sequence_max, limits.value_type_for_seek) });
        } else self.it.seekToFirst();
        self.skipForward();
        self.checkBound();
    }
    pub fn seekToLast(self: *Iterator) error{OutOfMemory}!void {
        try self.totalOrder();
        self.prefix = null;
        if (self.bound) |b| {
            // The last key below the prefix's successor (b with its last non-0xFF byte raised).
            var end = b.len;
            while (end > 0 and b[end - 1] == 0xFF) end -= 1;
            if (end == 0) self.it.seekToLast() else {
                var buf: [256]u8 = undefined;
                if (end <= buf.len) {
                    @memcpy(buf[0..end], b[0..end]);
                    buf[end - 1] += 1;
                    self.it.seekLessThan(.{ .user_key = buf[0..end], .trailer = std.math.maxInt(u64) });
                } else {
                    // Long prefixes: walk from the first key with the prefix to the last.
                    self.it.seek(.{ .user_key = b, .trailer = coding.packTrailer(limits.sequence_max, limits.value_type_for_seek) });
                    var last: ?*skiplist.Node = null;
                    while (self.it.node) |n| : (self.it.next()) {
                        if (!std.mem.startsWith(u8, n.key().user_key, b)) break;
                        last = n;
                    }
                    self.it.node = last;
                }
            }
        } else self.it.seekToLast();
        self.skipBackward();
        self.checkBound();
    }
    /// With a prefix extractor and no total-order seek, a prefix the bloom filter rules out
    /// leaves the iterator invalid at once (RocksDB's memtable prefix seek); with
    /// `prefix_same_as_start` the iterator then stays within the sought key's prefix.
    fn startPrefix(self: *Iterator, key: []const u8) bool {
        self.prefix = null;
        if (self.flags.range_table) return true;
        const p = self.mt.extractor.prefixOf(key) orelse return true;
        if (!self.flags.total_order_seek and !self.mt.mayContainPrefix(p)) {
            self.it.node = null;
            return false;
        }
        return true;
    }
    fn settlePrefix(self: *Iterator, sought: []const u8) void {
        if (!self.flags.prefix_same_as_start or self.flags.range_table) return;
        const want = self.mt.extractor.prefixOf(sought) orelse return;
        const n = self.it.node orelse return;
        const have = self.mt.extractor.prefixOf(n.key().user_key);
        if (have == null or !std.mem.eql(u8, have.?, want)) {
            self.it.node = null;
            return;
        }
        self.prefix = have.?;
    }
    fn checkPrefix(self: *Iterator) void {
        const p = self.prefix orelse return;
        const n = self.it.node orelse return;
        const have = self.mt.extractor.prefixOf(n.key().user_key);
        if (have == null or !std.mem.eql(u8, have.?, p)) self.it.node = null;
    }
    /// First visible entry whose user key is ≥ `key`.
    pub fn seek(self: *Iterator, key: []const u8) error{OutOfMemory}!void {
        try self.seekOrder(key);
        if (!self.startPrefix(key)) return;
        // With a bound, a key before it seeks to the bound's first key.
        const from = if (self.bound) |b| (if (std.mem.order(u8, key, b) == .lt) b else key) else key;
        self.it.seek(.{ .user_key = from, .trailer = coding.packTrailer(limits.sequence_max, limits.value_type_for_seek) });
        self.skipForward();
        self.settlePrefix(key);
        self.checkBound();
    }
    /// Last visible entry whose user key is ≤ `key`.
    pub fn seekForPrev(self: *Iterator, key: []const u8) error{OutOfMemory}!void {
        try self.seekOrder(key);
        if (!self.startPrefix(key)) return;
        if (self.bound) |b| {
            // A key past every key with the prefix seeks to the last of them.
            if (std.mem.order(u8, key, b) == .gt and !std.mem.startsWith(u8, key, b)) return self.seekToLast();
        }
        self.it.seekForPrev(.{ .user_key = key, .trailer = 0 });
        self.skipBackward();
        self.settlePrefix(key);
        self.checkBound();
    }
    pub fn next(self: *Iterator) void {
        self.it.next();
        self.skipForward();
        self.checkPrefix();
        self.checkBound();
    }
    pub fn prev(self: *Iterator) void {
        self.it.prev();
        self.skipBackward();
        self.checkPrefix();
        self.checkBound();
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
    try testing.expectEqual(@as(u64, 4), mt.num_entries.load(.monotonic));
    try testing.expectEqual(@as(u64, 1), mt.num_deletes.load(.monotonic));
    try testing.expectEqual(@as(u64, 5), mt.first_seq.load(.monotonic));
    try testing.expectEqual(@as(u64, 5), mt.earliest_seq.load(.monotonic));
    try testing.expect(mt.findNewest("k", 4) == null);
    try testing.expectEqual(@as(u64, 5), mt.findNewest("k", 6).?.key().sequence());
    try testing.expectEqual(@as(u8, 0), mt.findNewest("k", 8).?.key().valueType());
    // Merge (type 2) sorts before Value (type 1) at the same seq: trailer descending.
    try testing.expectEqual(@as(u8, 2), mt.findNewest("k", 100).?.key().valueType());
    try testing.expect(mt.findNewest("j", 100) == null);
    try testing.expect(mt.findNewest("kk", 100) == null);

    const it = try Iterator.create(mt, 7, .{});
    try testing.expectEqual(@as(u32, 1), mt.unref()); // the iterator still holds one
    try it.seekToFirst();
    try testing.expectEqual(@as(u64, 7), it.node().key().sequence());
    it.next();
    try testing.expectEqual(@as(u64, 5), it.node().key().sequence());
    it.next();
    try testing.expect(!it.valid());
    try it.seekToLast();
    try testing.expectEqual(@as(u64, 5), it.node().key().sequence());
    it.prev();
    try testing.expectEqual(@as(u64, 7), it.node().key().sequence());
    it.prev();
    try testing.expect(!it.valid());
    it.destroy();
    try testing.expectEqual(live_before, arena_mod.bytes_live.load(.monotonic));
}

test "range tombstones: fragments, coverage at snapshots, cache rebuilt after each new one" {
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
    // Iteration hides covered versions: put c@7 (covered by b-f@10), c@12 (visible).
    try mt.add(7, .value, "c", "old");
    try mt.add(12, .value, "c", "new");
    const it = try Iterator.create(mt, limits.sequence_max, .{});
    try it.seekToFirst();
    try testing.expectEqual(@as(u64, 12), it.node().key().sequence());
    it.next();
    try testing.expect(!it.valid());
    it.destroy();
    const raw = try Iterator.create(mt, limits.sequence_max, .{ .ignore_range_deletions = true });
    try raw.seekToLast();
    try testing.expectEqual(@as(u64, 7), raw.node().key().sequence());
    raw.destroy();
    try testing.expectEqual(@as(u32, 0), mt.unref());
    try testing.expectEqual(live_before, arena_mod.bytes_live.load(.monotonic));
}

test "single delete contract checked in paranoid mode" {
    const mt = try MemTable.create(.{ .paranoid = true });
    defer _ = mt.unref();
    try mt.add(1, .value, "ok", "v");
    try mt.add(2, .single_deletion, "ok", "");
    try mt.add(3, .value, "ok", "v2");
    try mt.add(4, .single_deletion, "ok", "");
    try mt.add(5, .single_deletion, "absent", "");
    try mt.add(1, .value, "twice", "a");
    try mt.add(2, .value, "twice", "b");
    try testing.expectError(error.SingleDeleteMisuse, mt.add(3, .single_deletion, "twice", ""));
    try mt.add(1, .deletion, "del", "");
    try testing.expectError(error.SingleDeleteMisuse, mt.add(2, .single_deletion, "del", ""));
    try mt.add(1, .merge, "m", "x");
    try testing.expectError(error.SingleDeleteMisuse, mt.add(2, .single_deletion, "m", ""));
}

test "batches insert all records or none, in any order" {
    const live_before = arena_mod.bytes_live.load(.monotonic);
    const mt = try MemTable.create(.{ .write_buffer_size = 1 << 20 });
    try mt.add(3, .value, "exists", "x");
    var failed: ?usize = null;
    const bad = [_]MemTable.Record{
        .{ .seq = 10, .value_type = .value, .key = "z", .value = "1" },
        .{ .seq = 3, .value_type = .value, .key = "exists", .value = "dup" },
    };
    try testing.expectError(error.Duplicate, mt.addBatch(&bad, &failed));
    try testing.expectEqual(@as(?usize, 1), failed);
    try testing.expectEqual(@as(u64, 1), mt.num_entries.load(.monotonic));
    try testing.expect(mt.findNewest("z", 100) == null);
    const good = [_]MemTable.Record{
        .{ .seq = 20, .value_type = .value, .key = "q", .value = "q20" },
        .{ .seq = 21, .value_type = .range_deletion, .key = "a", .value = "c" },
        .{ .seq = 22, .value_type = .value, .key = "b", .value = "b22" },
        .{ .seq = 23, .value_type = .deletion, .key = "q", .value = "" },
    };
    try mt.addBatch(&good, &failed);
    try testing.expectEqual(@as(u64, 5), mt.num_entries.load(.monotonic));
    try testing.expectEqual(@as(u64, 1), mt.numRangeDeletes());
    try testing.expectEqual(@as(u64, 23), mt.findNewest("q", 100).?.key().sequence());
    try testing.expectEqual(@as(u64, 20), mt.findNewest("q", 22).?.key().sequence());
    try testing.expectEqual(@as(u64, 22), mt.findNewest("b", 100).?.key().sequence());
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

test "single-writer guard: a second writer is refused while one is inside" {
    const mt = try MemTable.create(.{});
    defer _ = mt.unref();
    mt.writing.store(1, .release); // as if another thread were inside add()
    try testing.expectError(error.ConcurrentWrite, mt.add(1, .value, "k", "v"));
    try testing.expectError(error.ConcurrentWrite, mt.addRangeDeletion(2, "a", "b"));
    var failed: ?usize = null;
    const recs = [_]MemTable.Record{.{ .seq = 3, .value_type = .value, .key = "k", .value = "v" }};
    try testing.expectError(error.ConcurrentWrite, mt.addBatch(&recs, &failed));
    mt.writing.store(0, .release);
    try mt.add(1, .value, "k", "v");
    try testing.expectEqual(@as(u64, 1), mt.num_entries.load(.monotonic));
}

test "concurrent writers: point entries, tombstones and batches from four threads" {
    const live_before = arena_mod.bytes_live.load(.monotonic);
    const mt = try MemTable.create(.{ .concurrent_writes = true, .arena_block_size = 64 * 1024 });
    const Writer = struct {
        fn run(m: *MemTable, t: u64) void {
            var buf: [32]u8 = undefined;
            var i: u64 = 0;
            while (i < 3000) : (i += 1) {
                const seq = t * 1_000_000 + i + 1;
                const key = std.fmt.bufPrint(&buf, "k{d:0>5}", .{(i * 7 + t) % 5000}) catch unreachable;
                m.add(seq, .value, key, "v") catch unreachable;
                if (i % 500 == 0) m.addRangeDeletion(seq + 500_000, "k00000", "k00010") catch unreachable;
            }
            const recs = [_]MemTable.Record{
                .{ .seq = t * 1_000_000 + 900_000, .value_type = .value, .key = "batch", .value = "b" },
                .{ .seq = t * 1_000_000 + 900_001, .value_type = .deletion, .key = "batch2", .value = "" },
            };
            var failed: ?usize = null;
            m.addBatch(&recs, &failed) catch unreachable;
        }
    };
    var threads: [4]std.Thread = undefined;
    for (&threads, 0..) |*th, i| th.* = try std.Thread.spawn(.{}, Writer.run, .{ mt, @as(u64, i) });
    for (threads) |th| th.join();
    try testing.expectEqual(@as(u64, 4 * (3000 + 6 + 2)), mt.num_entries.load(.monotonic));
    try testing.expectEqual(@as(u64, 4 * 6), mt.numRangeDeletes());
    // Every entry is found, the list is sorted, and the tombstones fragment consistently.
    try testing.expectEqual(@as(usize, 4 * 3002), try skiplist.expectSortedCount(&mt.rep.skiplist));
    const f = (try mt.acquireFragments()).?;
    try testing.expectEqual(@as(u64, 4 * 6), f.built_for);
    f.release();
    try testing.expect(mt.memoryUsage() <= mt.arena.allocatedBytes());
    try testing.expectEqual(@as(u32, 0), mt.unref());
    try testing.expectEqual(live_before, arena_mod.bytes_live.load(.monotonic));
}

test "insert hints: one splice per prefix" {
    const mt = try MemTable.create(.{ .hint_extractor = .{ .kind = .fixed, .n = 2 } });
    defer _ = mt.unref();
    try testing.expect(mt.hints != null);
    var buf: [16]u8 = undefined;
    var i: u32 = 0;
    while (i < 2000) : (i += 1) {
        const key = std.fmt.bufPrint(&buf, "{c}{c}{d:0>8}", .{ 'a' + @as(u8, @intCast(i % 2)), 'x', i / 2 }) catch unreachable;
        try mt.add(i + 1, .value, key, "v");
    }
    var used: usize = 0;
    for (mt.hints.?) |s| used += @intFromBool(s.used);
    try testing.expectEqual(@as(usize, 2), used);
    try testing.expectEqual(@as(u64, 2000), mt.num_entries.load(.monotonic));
}

/// Every entry an iterator at `snapshot` shows, forward, as (user key, trailer) pairs.
fn collectEntries(mt: *MemTable, snapshot: u64, flags: Iterator.Flags, out: *std.ArrayList(coding.Key)) !void {
    const it = try Iterator.create(mt, snapshot, flags);
    defer it.destroy();
    try it.seekToFirst();
    while (it.valid()) : (it.next()) try out.append(testing.allocator, it.node().key());
    // Backward gives the same entries in reverse.
    var i = out.items.len;
    try it.seekToLast();
    while (it.valid()) : (it.prev()) {
        i -= 1;
        try testing.expectEqual(std.math.Order.eq, coding.compareKeys(out.items[i], it.node().key()));
    }
    try testing.expectEqual(@as(usize, 0), i);
}

test "every representation holds the same versions: gets, version runs, iterators, batches" {
    const live_before = arena_mod.bytes_live.load(.monotonic);
    const kinds = [_]rep_mod.Options{
        .{},
        .{ .kind = .hash_skiplist, .bucket_count = 13, .height = 3, .branching = 2 },
        .{ .kind = .hash_linklist, .bucket_count = 5, .threshold = 4 },
        .{ .kind = .vector, .reserve = 10 },
    };
    var mts: [kinds.len]*MemTable = undefined;
    for (kinds, 0..) |k, i| mts[i] = try MemTable.create(.{
        .write_buffer_size = 1 << 20,
        .rep = k,
        .extractor = .{ .kind = .fixed, .n = 2 },
        .protection_bytes = 2,
    });
    var prng = std.Random.DefaultPrng.init(11);
    const r = prng.random();
    var seq: u64 = 1;
    var op: usize = 0;
    while (op < 3000) : (op += 1) {
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
            const records = [_]MemTable.Record{
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
        var results: [kinds.len]?anyerror = undefined;
        for (mts, 0..) |mt, i| {
            results[i] = null;
            mt.add(s, t, key, "v") catch |err| {
                results[i] = err;
            };
        }
        for (results[1..]) |res| try testing.expectEqual(results[0], res);
        if (s == seq) seq += 1;
    }
    // A duplicate batch fails as a whole everywhere, and changes nothing.
    for (mts) |mt| try mt.addRangeDeletion(seq, "q", "r");
    const dup = [_]MemTable.Record{
        .{ .seq = seq + 1, .value_type = .value, .key = "zz", .value = "x" },
        .{ .seq = seq, .value_type = .range_deletion, .key = "q", .value = "r" },
    };
    seq += 2;
    const count = mts[0].num_entries.load(.monotonic);
    for (mts) |mt| {
        var failed: ?usize = null;
        const fails = mt.addBatch(&dup, &failed);
        try testing.expectError(error.Duplicate, fails);
        try testing.expectEqual(@as(?usize, 1), failed);
        try testing.expectEqual(count, mt.num_entries.load(.monotonic));
    }
    // Immutable: a second pass over the shared view, and writes refused.
    for (mts[1..]) |mt| mt.markImmutable();
    var pass: usize = 0;
    while (pass < 2) : (pass += 1) {
        for ([_]u64{ 1, seq / 3, seq / 2, seq }) |snap| {
            var want: std.ArrayList(coding.Key) = .empty;
            defer want.deinit(testing.allocator);
            try collectEntries(mts[0], snap, .{ .ignore_range_deletions = true }, &want);
            for (mts[1..]) |mt| {
                var got: std.ArrayList(coding.Key) = .empty;
                defer got.deinit(testing.allocator);
                try collectEntries(mt, snap, .{ .ignore_range_deletions = true }, &got);
                try testing.expectEqual(want.items.len, got.items.len);
                for (want.items, got.items) |a, b| try testing.expectEqual(std.math.Order.eq, coding.compareKeys(a, b));
                // Every key's version run at this snapshot matches.
                for (want.items, 0..) |k, j| {
                    if (j > 0 and std.mem.eql(u8, want.items[j - 1].user_key, k.user_key)) continue;
                    var x = mts[0].findNewest(k.user_key, snap);
                    var y = mt.findNewest(k.user_key, snap);
                    while (x != null or y != null) {
                        try testing.expectEqual(std.math.Order.eq, coding.compareKeys(x.?.key(), y.?.key()));
                        x = mts[0].nextVersion(x.?);
                        y = mt.nextVersion(y.?);
                    }
                }
            }
        }
    }
    try testing.expectError(error.Immutable, mts[1].add(seq, .value, "k", "v"));
    // Prefix-same-as-start seeks (a hash bucket alone) agree with the skiplist's.
    for ([_][]const u8{ "a", "ab", "b", "ca", "dd", "e" }) |key| {
        const base = try Iterator.create(mts[0], seq, .{ .prefix_same_as_start = true });
        defer base.destroy();
        for (mts[1..]) |mt| {
            const it = try Iterator.create(mt, seq, .{ .prefix_same_as_start = true });
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
    for (mts) |mt| try testing.expectEqual(@as(u32, 0), mt.unref());
    try testing.expectEqual(live_before, arena_mod.bytes_live.load(.monotonic));
}
