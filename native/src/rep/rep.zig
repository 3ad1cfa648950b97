//! The hash and vector representations of a memtable's point entries (RocksDB's
//! HashSkipListRep, HashLinkListRep and VectorRep); the skiplist representation is
//! `skiplist.zig` itself. Every representation stores entries as `skiplist.Node`s in the
//! memtable's arena, so the rest of the memtable (gets, merge runs, protection checks,
//! iterators) handles one entry type.
//!
//! - Hash representations: the user key's prefix (the prefix extractor's, or the whole key when
//!   it is outside the extractor's domain) picks one of `bucket_count` buckets; a bucket is a
//!   skiplist of its own (`hashSkipList`, height and branching options) or a sorted linked list
//!   (a skiplist of height 1) that is rebuilt as a full skiplist once it holds more than
//!   `threshold` entries (`hashLinkList`). All versions of a user key share a bucket, so point
//!   lookups and prefix seeks touch one bucket. A total-order iteration needs a sorted view of
//!   every bucket: built on demand, O(n log n) time and 8 bytes per entry (as RocksDB's, which
//!   builds a whole new skiplist), cached once the memtable is immutable.
//! - Vector: entries are appended to an array of slots (segments that never move) — the
//!   fastest insert — and chained by a hash of their user key through the node's level-0 link,
//!   which finds duplicates and answers point lookups. Iteration sorts a copy of the slots
//!   (O(n log n)); once the memtable is immutable the sorted copy is made once and kept.
//!
//! Thread safety: readers never lock. Hash representations take one writer at a time (the
//! memtable's guard); the vector takes concurrent writers (slots are claimed with an atomic
//! counter, chains grow by CAS).
const std = @import("std");
const limits = @import("../limits.zig");
const coding = @import("../coding.zig");
const arena_mod = @import("../arena.zig");
const skiplist = @import("skiplist.zig");
const prefix_mod = @import("../prefix.zig");

const Arena = arena_mod.Arena;
const Node = skiplist.Node;
const SkipList = skiplist.SkipList;
const InsertError = skiplist.InsertError;

pub const Kind = enum(u32) { skiplist = 0, hash_skiplist = 1, hash_linklist = 2, vector = 3 };

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

pub const bucket_count_max: u32 = 1 << 26;

/// The internal key a seek for `user_key` at `snapshot` starts from.
fn seekKey(user_key: []const u8, snapshot: u64) coding.Key {
    return .{ .user_key = user_key, .trailer = coding.packTrailer(snapshot, limits.value_type_for_seek) };
}

fn lessNode(_: void, a: *Node, b: *Node) bool {
    return coding.compareKeys(a.key(), b.key()) == .lt;
}

// ---- hash representations -------------------------------------------------------------------

pub const Bucket = struct {
    list: SkipList,
    /// Entries in the list (the writer's count; readers do not use it).
    count: u32 = 0,
    /// A linked list (height 1) that is to become a skiplist past the threshold.
    linked: bool,
};

pub const HashRep = struct {
    arena: *Arena,
    buckets: [*]std.atomic.Value(?*Bucket),
    bucket_count: u32,
    extractor: prefix_mod.Extractor,
    height: u32,
    branching: u32,
    /// 0: buckets are skiplists from the start (hashSkipList).
    threshold: u32,
    seed: u64,
    protection_bytes: u8,
    paranoid: bool,

    pub fn init(arena: *Arena, options: Options, extractor: prefix_mod.Extractor, seed: u64, protection_bytes: u8, paranoid: bool) error{OutOfMemory}!HashRep {
        std.debug.assert(options.bucket_count >= 1 and options.bucket_count <= bucket_count_max);
        const bytes = @as(usize, options.bucket_count) * @sizeOf(std.atomic.Value(?*Bucket));
        const raw = try arena.allocateTable(bytes);
        const linked = options.kind == .hash_linklist;
        return .{
            .arena = arena,
            .buckets = @ptrCast(@alignCast(raw)),
            .bucket_count = options.bucket_count,
            .extractor = extractor,
            .height = if (linked) skiplist.height_max else options.height,
            .branching = if (linked) skiplist.branching else options.branching,
            .threshold = if (linked) @max(options.threshold, 1) else 0,
            .seed = seed,
            .protection_bytes = protection_bytes,
            .paranoid = paranoid,
        };
    }

    /// The bucket of `user_key`: by its prefix, or by the whole key outside the domain.
    pub fn bucketIndex(self: *const HashRep, user_key: []const u8) usize {
        const p = self.extractor.prefixOf(user_key) orelse user_key;
        return @intCast(std.hash.Wyhash.hash(0x6275636B6574, p) % self.bucket_count);
    }

    pub fn bucketOf(self: *const HashRep, user_key: []const u8) ?*Bucket {
        return self.buckets[self.bucketIndex(user_key)].load(.acquire);
    }

    fn newBucket(self: *HashRep, linked: bool) error{OutOfMemory}!*Bucket {
        const raw = try self.arena.allocateAligned(@sizeOf(Bucket));
        const b: *Bucket = @ptrCast(@alignCast(raw));
        self.seed +%= 0x9E3779B97F4A7C15;
        b.* = .{
            .list = try SkipList.initWith(self.arena, self.seed, .{
                .height = if (linked) 1 else self.height,
                .branching = self.branching,
                .splice = false,
            }),
            .linked = linked,
        };
        b.list.protection_bytes = self.protection_bytes;
        b.list.paranoid = self.paranoid;
        return b;
    }

    fn bucketFor(self: *HashRep, index: usize) error{OutOfMemory}!*Bucket {
        if (self.buckets[index].load(.acquire)) |b| return b;
        const b = try self.newBucket(self.threshold != 0);
        self.buckets[index].store(b, .release);
        return b;
    }

    pub fn insert(self: *HashRep, key: coding.Key, value: []const u8) InsertError!*Node {
        const index = self.bucketIndex(key.user_key);
        const b = try self.bucketFor(index);
        const node = try b.list.insert(key, value);
        self.counted(index, b);
        return node;
    }

    /// After a link into bucket `b`: a linked list past the threshold becomes a skiplist. When
    /// there is no memory for it, it stays a list (slower, still correct).
    fn counted(self: *HashRep, index: usize, b: *Bucket) void {
        b.count += 1;
        if (b.linked and b.count > self.threshold) self.convert(index, b) catch {};
    }

    /// Rebuilds bucket `old` as a skiplist of copies of its entries (RocksDB's HashLinkList
    /// does the same when a bucket outgrows `threshold_use_skiplist`) and publishes it. Readers
    /// inside the old list finish there: its nodes stay in the arena, in order.
    fn convert(self: *HashRep, index: usize, old: *Bucket) error{OutOfMemory}!void {
        const fresh = try self.newBucket(false);
        var last: [skiplist.height_max]?*Node = @splat(null);
        var n = old.list.head.next(0);
        while (n) |x| : (n = x.next(0)) {
            _ = try skiplist.appendCopy(&fresh.list, x, skiplist.entrySize(x, self.protection_bytes), &last);
        }
        fresh.count = old.count;
        self.buckets[index].store(fresh, .release);
    }

    /// A node for `key` ready to link (its bucket exists afterwards): the allocation half of
    /// an insert, for batches that allocate everything before linking anything.
    pub fn prepare(self: *HashRep, key: coding.Key, value: []const u8) error{OutOfMemory}!SkipList.Unlinked {
        const b = try self.bucketFor(self.bucketIndex(key.user_key));
        return b.list.allocateSorted(key, value);
    }

    /// Links a prepared node. REQUIRES: no equal entry (checked before).
    pub fn link(self: *HashRep, u: SkipList.Unlinked) void {
        const index = self.bucketIndex(u.node.key().user_key);
        const b = self.buckets[index].load(.acquire).?;
        b.list.linkUnlinked(u);
        self.counted(index, b);
    }

    pub fn findGreaterOrEqual(self: *const HashRep, key: coding.Key) ?*Node {
        const b = self.bucketOf(key.user_key) orelse return null;
        return b.list.findGreaterOrEqual(key);
    }

    pub fn contains(self: *const HashRep, key: coding.Key) bool {
        const b = self.bucketOf(key.user_key) orelse return false;
        return b.list.contains(key);
    }

    /// Appends every entry's node (bucket by bucket, each in order) to `out`.
    fn collect(self: *const HashRep, gpa: std.mem.Allocator, out: *std.ArrayList(*Node)) error{OutOfMemory}!void {
        var i: usize = 0;
        while (i < self.bucket_count) : (i += 1) {
            const b = self.buckets[i].load(.acquire) orelse continue;
            var n = b.list.head.next(0);
            while (n) |x| : (n = x.next(0)) try out.append(gpa, x);
        }
    }
};

// ---- vector ---------------------------------------------------------------------------------

const Slot = std.atomic.Value(?*Node);
const segment_max = 40;

pub const VectorRep = struct {
    arena: *Arena,
    /// Segment s holds `first << s` slots; segments never move once allocated.
    segments: [segment_max]std.atomic.Value(?[*]Slot) = @splat(.init(null)),
    first_shift: u6,
    /// Slots handed out; a slot stays null until its entry is linked (or forever, when its
    /// insert failed), and readers skip null slots.
    claimed: std.atomic.Value(u64) = .init(0),
    /// One more than the largest sequence number claimed by an insert (0: none). An insert
    /// whose sequence number is above every earlier one cannot be a duplicate, so the usual
    /// write (ascending sequence numbers) skips the walk of its chain.
    seq_bound: std.atomic.Value(u64) = .init(0),
    /// Chains of nodes by user-key hash, linked through each node's level-0 pointer.
    chains: [*]Slot,
    chain_mask: u64,
    grow_lock: arena_mod.SpinLock = .{},
    protection_bytes: u8,

    pub fn init(arena: *Arena, options: Options, write_buffer_size: u64, protection_bytes: u8) error{OutOfMemory}!VectorRep {
        const first = std.math.ceilPowerOfTwo(u64, @max(options.reserve, 256)) catch unreachable;
        // About one chain per 128 bytes of write buffer (entries are rarely smaller).
        const chain_count = std.math.ceilPowerOfTwo(u64, @max(1024, @min(write_buffer_size / 128, 1 << 26))) catch unreachable;
        const bytes: usize = @intCast(chain_count * @sizeOf(Slot));
        const raw = try arena.allocateTable(bytes);
        var v: VectorRep = .{
            .arena = arena,
            .first_shift = @intCast(std.math.log2_int(u64, first)),
            .chains = @ptrCast(@alignCast(raw)),
            .chain_mask = chain_count - 1,
            .protection_bytes = protection_bytes,
        };
        if (options.reserve > 0) _ = try v.slot(0);
        return v;
    }

    fn hashOf(user_key: []const u8) u64 {
        return std.hash.Wyhash.hash(0x766563746F72, user_key);
    }

    /// The slot with index `i`, allocating its segment when needed.
    fn slot(self: *VectorRep, i: u64) error{OutOfMemory}!*Slot {
        const p = i + (@as(u64, 1) << self.first_shift);
        const top: u6 = @intCast(63 - @clz(p));
        const s = top - self.first_shift;
        const offset = p - (@as(u64, 1) << top);
        if (self.segments[s].load(.acquire)) |seg| return &seg[@intCast(offset)];
        self.grow_lock.lock();
        defer self.grow_lock.unlock();
        if (self.segments[s].load(.acquire)) |seg| return &seg[@intCast(offset)];
        const len = @as(usize, 1) << (self.first_shift + @as(u6, @intCast(s)));
        const raw = try self.arena.allocateAligned(len * @sizeOf(Slot));
        @memset(raw[0 .. len * @sizeOf(Slot)], 0);
        const seg: [*]Slot = @ptrCast(@alignCast(raw));
        self.segments[s].store(seg, .release);
        return &seg[@intCast(offset)];
    }

    /// The filled slots' nodes, in insertion order (what a reader can see now).
    fn collect(self: *const VectorRep, gpa: std.mem.Allocator, out: *std.ArrayList(*Node)) error{OutOfMemory}!void {
        const n = self.claimed.load(.acquire);
        try out.ensureUnusedCapacity(gpa, @intCast(n));
        var s: usize = 0;
        var done: u64 = 0;
        while (done < n and s < segment_max) : (s += 1) {
            const seg = self.segments[s].load(.acquire) orelse break;
            const len = @as(u64, 1) << (self.first_shift + @as(u6, @intCast(s)));
            const take = @min(len, n - done);
            for (seg[0..@intCast(take)]) |*sl| {
                if (sl.load(.acquire)) |node| out.appendAssumeCapacity(node);
            }
            done += take;
        }
    }

    /// The node of `key` exactly (same user key, seq and type) among `from` … `until`.
    fn findExact(from: ?*Node, until: ?*Node, key: coding.Key) bool {
        var n = from;
        while (n) |x| : (n = x.next(0)) {
            if (x == until) return false;
            if (coding.compareEntry(x.entry(), key) == .eq) return true;
        }
        return false;
    }

    pub const Prepared = struct { node: *Node, slot: *Slot };

    /// The allocation half of an insert: a slot and a node for `key`.
    pub fn prepare(self: *VectorRep, key: coding.Key, value: []const u8) error{OutOfMemory}!Prepared {
        const s = try self.slot(self.claimed.fetchAdd(1, .monotonic));
        return .{ .node = try skiplist.newNode(self.arena, key, value, 1, self.protection_bytes), .slot = s };
    }

    /// Records that entries up to sequence number `seq` exist (or are being linked); true when
    /// `seq` is above every sequence number recorded before, so no entry can equal one at
    /// `seq`. A concurrent insert at the same `seq` gets false and checks its chain, and the
    /// CAS in `link` catches whichever of the two links second.
    pub fn claimSeq(self: *VectorRep, seq: u64) bool {
        return self.seq_bound.fetchMax(seq + 1, .acq_rel) <= seq;
    }

    /// Whether every sequence number ≥ `seq` is unclaimed (single writer: nothing races).
    pub fn freshFrom(self: *const VectorRep, seq: u64) bool {
        return self.seq_bound.load(.acquire) <= seq;
    }

    pub fn chainOf(self: *VectorRep, user_key: []const u8) *Slot {
        return &self.chains[@intCast(hashOf(user_key) & self.chain_mask)];
    }

    /// Links a prepared node into its chain and its slot; `error.Duplicate` (nothing linked,
    /// the slot stays empty) when an equal entry is there — not looked for when `fresh` (its
    /// sequence number is new, see `claimSeq`). Safe against concurrent links.
    pub fn link(self: *VectorRep, p: Prepared, fresh: bool) error{Duplicate}!void {
        const key = p.node.key();
        const chain = self.chainOf(key.user_key);
        var head = chain.load(.acquire);
        if (!fresh and findExact(head, null, key)) return error.Duplicate;
        while (true) {
            p.node.noBarrierSetNext(0, head);
            const seen = chain.cmpxchgWeak(head, p.node, .release, .acquire) orelse break;
            // Another writer got there first: check what it added, then try again.
            if (findExact(seen, head, key)) return error.Duplicate;
            head = seen;
        }
        p.slot.store(p.node, .release);
    }

    pub fn insert(self: *VectorRep, key: coding.Key, value: []const u8) InsertError!*Node {
        const chain = self.chainOf(key.user_key);
        @prefetch(chain, .{ .rw = .write }); // its miss overlaps the allocation below
        const fresh = self.claimSeq(key.sequence());
        if (!fresh and findExact(chain.load(.acquire), null, key)) return error.Duplicate; // allocate nothing
        const p = try self.prepare(key, value);
        try self.link(p, fresh);
        return p.node;
    }

    pub fn contains(self: *const VectorRep, key: coding.Key) bool {
        return findExact(self.chains[@intCast(hashOf(key.user_key) & self.chain_mask)].load(.acquire), null, key);
    }

    /// The smallest entry ≥ `key` with `key`'s user key (a version lookup), or null: one pass
    /// over the key's chain.
    pub fn findGreaterOrEqualSameKey(self: *const VectorRep, key: coding.Key) ?*Node {
        var best: ?*Node = null;
        var n = self.chains[@intCast(hashOf(key.user_key) & self.chain_mask)].load(.acquire);
        while (n) |x| : (n = x.next(0)) {
            const k = x.key();
            if (!std.mem.eql(u8, k.user_key, key.user_key)) continue;
            if (coding.compareKeys(k, key) == .lt) continue;
            if (best == null or coding.compareKeys(k, best.?.key()) == .lt) best = x;
        }
        return best;
    }

    /// The next older version of `node`'s user key, or null.
    pub fn nextVersion(self: *const VectorRep, node: *Node) ?*Node {
        const k = node.key();
        const after: coding.Key = .{ .user_key = k.user_key, .trailer = k.trailer };
        var best: ?*Node = null;
        var n = self.chains[@intCast(hashOf(k.user_key) & self.chain_mask)].load(.acquire);
        while (n) |x| : (n = x.next(0)) {
            const xk = x.key();
            if (!std.mem.eql(u8, xk.user_key, k.user_key)) continue;
            if (coding.compareKeys(xk, after) != .gt) continue;
            if (best == null or coding.compareKeys(xk, best.?.key()) == .lt) best = x;
        }
        return best;
    }
};

// ---- the representation of a memtable -------------------------------------------------------

/// The sorted entries of a hash or vector representation, for iteration.
pub const View = struct {
    nodes: []*Node,
};

pub const Rep = union(Kind) {
    skiplist: SkipList,
    hash_skiplist: HashRep,
    hash_linklist: HashRep,
    vector: VectorRep,

    pub fn hash(self: *Rep) ?*HashRep {
        return switch (self.*) {
            .hash_skiplist, .hash_linklist => |*h| h,
            else => null,
        };
    }

    /// The newest version of `key` with sequence number ≤ `snapshot`, or null.
    pub fn findNewest(self: *Rep, key: []const u8, snapshot: u64) ?*Node {
        const lookup = seekKey(key, snapshot);
        const node = switch (self.*) {
            .skiplist => |*l| l.findGreaterOrEqual(lookup),
            .hash_skiplist, .hash_linklist => |*h| h.findGreaterOrEqual(lookup),
            .vector => |*v| return v.findGreaterOrEqualSameKey(lookup),
        } orelse return null;
        if (!std.mem.eql(u8, node.key().user_key, key)) return null;
        return node;
    }

    /// The next older version of `node`'s user key, or null.
    pub fn nextVersion(self: *Rep, node: *Node) ?*Node {
        if (self.* == .vector) return self.vector.nextVersion(node);
        const n = node.next(0) orelse return null;
        if (!std.mem.eql(u8, n.key().user_key, node.key().user_key)) return null;
        return n;
    }

    pub fn contains(self: *Rep, key: coding.Key) bool {
        return switch (self.*) {
            .skiplist => |*l| l.contains(key),
            .hash_skiplist, .hash_linklist => |*h| h.contains(key),
            .vector => |*v| v.contains(key),
        };
    }

    /// Every entry, sorted, in memory from `arena_mod.backing_allocator` (tracked): the caller
    /// frees `nodes` with `arena_mod.freeSliceTracked`. Not for the skiplist representation.
    pub fn sortedCopy(self: *Rep) error{OutOfMemory}![]*Node {
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
        for (list.items, keyed) |n, *k| k.* = .{ .head = keyHead(n), .node = n };
        std.mem.sort(Keyed, keyed, {}, lessKeyed);
        const out = try arena_mod.allocSliceTracked(*Node, @max(list.items.len, 1));
        for (keyed, 0..) |k, i| out[i] = k.node;
        return out[0..list.items.len];
    }

    const Keyed = struct { head: u64, node: *Node };

    /// The user key's first 8 bytes, big-endian, zero-padded: a < b implies head(a) ≤ head(b).
    fn keyHead(n: *Node) u64 {
        const k = n.key().user_key;
        var b: [8]u8 = @splat(0);
        const len = @min(k.len, 8);
        @memcpy(b[0..len], k[0..len]);
        return std.mem.readInt(u64, &b, .big);
    }

    fn lessKeyed(_: void, a: Keyed, b: Keyed) bool {
        if (a.head != b.head) return a.head < b.head;
        return lessNode({}, a.node, b.node);
    }
};

/// A cursor over a skiplist (a whole list or one hash bucket) or over a sorted view.
pub const Cursor = struct {
    list: ?*SkipList = null,
    view: []const *Node = &.{},
    pos: usize = 0,
    node: ?*Node = null,

    pub fn overList(list: *SkipList) Cursor {
        return .{ .list = list };
    }

    pub fn overView(view: []const *Node) Cursor {
        return .{ .view = view };
    }

    fn at(self: *Cursor, i: usize) void {
        self.pos = i;
        self.node = if (i < self.view.len) self.view[i] else null;
    }

    /// Index of the first view node ≥ key.
    fn lowerBound(self: *const Cursor, key: coding.Key) usize {
        var lo: usize = 0;
        var hi: usize = self.view.len;
        while (lo < hi) {
            const mid = lo + (hi - lo) / 2;
            if (coding.compareEntry(self.view[mid].entry(), key) == .lt) lo = mid + 1 else hi = mid;
        }
        return lo;
    }

    /// Index of the first view node > key.
    fn upperBound(self: *const Cursor, key: coding.Key) usize {
        var lo: usize = 0;
        var hi: usize = self.view.len;
        while (lo < hi) {
            const mid = lo + (hi - lo) / 2;
            if (coding.compareEntry(self.view[mid].entry(), key) != .gt) lo = mid + 1 else hi = mid;
        }
        return lo;
    }

    pub fn valid(self: *const Cursor) bool {
        return self.node != null;
    }
    pub fn next(self: *Cursor) void {
        if (self.list != null) {
            self.node = self.node.?.next(0);
        } else self.at(self.pos + 1);
    }
    pub fn prev(self: *Cursor) void {
        if (self.list) |l| {
            self.node = l.findLessThan(self.node.?.key());
        } else if (self.pos == 0) self.node = null else self.at(self.pos - 1);
    }
    /// First entry ≥ key.
    pub fn seek(self: *Cursor, key: coding.Key) void {
        if (self.list) |l| {
            self.node = l.findGreaterOrEqual(key);
        } else self.at(self.lowerBound(key));
    }
    /// Last entry ≤ key.
    pub fn seekForPrev(self: *Cursor, key: coding.Key) void {
        if (self.list) |l| {
            self.node = l.findLessOrEqual(key);
        } else {
            const i = self.upperBound(key);
            if (i == 0) self.node = null else self.at(i - 1);
        }
    }
    /// Last entry < key.
    pub fn seekLessThan(self: *Cursor, key: coding.Key) void {
        if (self.list) |l| {
            self.node = l.findLessThan(key);
        } else {
            const i = self.lowerBound(key);
            if (i == 0) self.node = null else self.at(i - 1);
        }
    }
    pub fn seekToFirst(self: *Cursor) void {
        if (self.list) |l| {
            self.node = l.findFirst();
        } else self.at(0);
    }
    pub fn seekToLast(self: *Cursor) void {
        if (self.list) |l| {
            self.node = l.findLast();
        } else if (self.view.len == 0) self.node = null else self.at(self.view.len - 1);
    }
};

const testing = std.testing;

fn testKey(buf: []u8, i: u32, seq: u64) coding.Key {
    const s = std.fmt.bufPrint(buf, "key{d:0>6}", .{i}) catch unreachable;
    return .{ .user_key = s, .trailer = coding.packTrailer(seq, 1) };
}

test "hash representations: buckets by prefix, duplicates, link lists become skiplists" {
    inline for (.{ Kind.hash_skiplist, Kind.hash_linklist }) |kind| {
        var arena = Arena.init(4096);
        defer arena.deinit();
        // Prefix "keyNN": 100 prefixes of 100 keys each, in 7 buckets (collisions on purpose).
        var rep: Rep = @unionInit(Rep, @tagName(kind), try HashRep.init(&arena, .{ .kind = kind, .bucket_count = 7, .threshold = 16 }, .{ .kind = .fixed, .n = 5 }, 1, 0, true));
        var prng = std.Random.DefaultPrng.init(3);
        var present: [10000]bool = @splat(false);
        var i: usize = 0;
        while (i < 20000) : (i += 1) {
            const k = prng.random().uintLessThan(u32, 10000);
            var buf: [32]u8 = undefined;
            const key = testKey(&buf, k, 1);
            if (rep.hash().?.insert(key, "v")) |_| {
                try testing.expect(!present[k]);
                present[k] = true;
            } else |err| {
                try testing.expectEqual(error.Duplicate, err);
                try testing.expect(present[k]);
            }
        }
        var count: usize = 0;
        for (present, 0..) |p, k| {
            var buf: [32]u8 = undefined;
            const key = testKey(&buf, @intCast(k), 1);
            try testing.expectEqual(p, rep.contains(key));
            if (p) {
                count += 1;
                try testing.expectEqual(@as(u64, 1), rep.findNewest(key.user_key, 5).?.key().sequence());
            }
        }
        // Every bucket is sorted, and link lists past the threshold became skiplists.
        const h = rep.hash().?;
        var total: usize = 0;
        var b: usize = 0;
        while (b < h.bucket_count) : (b += 1) {
            const bucket = h.buckets[b].load(.acquire) orelse continue;
            total += try skiplist.expectSortedCount(&bucket.list);
            if (kind == .hash_linklist) try testing.expect(!bucket.linked);
        }
        try testing.expectEqual(count, total);
        const view = try rep.sortedCopy();
        defer arena_mod.freeSliceTracked(view);
        try testing.expectEqual(count, view.len);
        for (view[1..], 0..) |n, j| try testing.expectEqual(std.math.Order.lt, coding.compareKeys(view[j].key(), n.key()));
    }
}

test "vector: appends, finds versions through its chains, sorts a copy" {
    var arena = Arena.init(4096);
    defer arena.deinit();
    var rep: Rep = .{ .vector = try VectorRep.init(&arena, .{ .kind = .vector }, 1 << 16, 2) };
    var i: u32 = 0;
    while (i < 3000) : (i += 1) {
        var buf: [32]u8 = undefined;
        _ = try rep.vector.insert(testKey(&buf, (i * 7919) % 1000, 1 + i / 1000), "v");
    }
    var buf: [32]u8 = undefined;
    try testing.expectError(error.Duplicate, rep.vector.insert(testKey(&buf, 5, 2), "w"));
    const k = testKey(&buf, 5, 0).user_key;
    try testing.expectEqual(@as(u64, 3), rep.findNewest(k, 10).?.key().sequence());
    try testing.expectEqual(@as(u64, 2), rep.findNewest(k, 2).?.key().sequence());
    try testing.expect(rep.findNewest(k, 0) == null);
    const newest = rep.findNewest(k, 10).?;
    try testing.expectEqual(@as(u64, 2), rep.nextVersion(newest).?.key().sequence());
    try testing.expectEqual(@as(u64, 1), rep.nextVersion(rep.nextVersion(newest).?).?.key().sequence());
    try testing.expect(rep.nextVersion(rep.nextVersion(rep.nextVersion(newest).?).?) == null);
    const view = try rep.sortedCopy();
    defer arena_mod.freeSliceTracked(view);
    try testing.expectEqual(@as(usize, 3000), view.len);
    var c = Cursor.overView(view);
    c.seek(seekKey(k, 10));
    try testing.expectEqual(@as(u64, 3), c.node.?.key().sequence());
    c.seekForPrev(.{ .user_key = k, .trailer = 0 });
    try testing.expectEqual(@as(u64, 1), c.node.?.key().sequence());
    c.next();
    try testing.expect(!std.mem.eql(u8, c.node.?.key().user_key, k));
    c.seekToLast();
    try testing.expectEqual(@as(usize, 2999), c.pos);
    c.seekToFirst();
    c.prev();
    try testing.expect(!c.valid());
}

test "vector: concurrent writers lose nothing and duplicate nothing" {
    var arena = Arena.init(1 << 16);
    defer arena.deinit();
    try arena.makeConcurrent();
    var v = try VectorRep.init(&arena, .{ .kind = .vector }, 1 << 20, 0);
    const per = 5000;
    const Worker = struct {
        fn run(rep: *VectorRep, t: u32, dups: *std.atomic.Value(u32)) void {
            var i: u32 = 0;
            while (i < per) : (i += 1) {
                var buf: [32]u8 = undefined;
                // Threads 0/1 and 2/3 write the same keys: one of each pair wins.
                _ = rep.insert(testKey(&buf, (t / 2) * per + i, 1), "v") catch |err| {
                    std.debug.assert(err == error.Duplicate);
                    _ = dups.fetchAdd(1, .monotonic);
                };
            }
        }
    };
    var dups: std.atomic.Value(u32) = .init(0);
    var threads: [4]std.Thread = undefined;
    for (&threads, 0..) |*t, i| t.* = try std.Thread.spawn(.{}, Worker.run, .{ &v, @as(u32, @intCast(i)), &dups });
    for (threads) |t| t.join();
    try testing.expectEqual(@as(u32, 2 * per), dups.load(.monotonic));
    var rep: Rep = .{ .vector = v };
    const view = try rep.sortedCopy();
    defer arena_mod.freeSliceTracked(view);
    try testing.expectEqual(@as(usize, 2 * per), view.len);
    for (view[1..], 0..) |n, j| try testing.expectEqual(std.math.Order.lt, coding.compareKeys(view[j].key(), n.key()));
}
