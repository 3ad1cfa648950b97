//! InlineSkipList: the sorted index of a memtable (RocksDB's `memtable/inlineskiplist.h`): the
//! node layout, searches, single inserts (with a splice as the hint) and concurrent inserts.
//! Sorted runs (a batch linked in one ascending pass) are in `skiplist_run.zig`.
//!
//! Thread safety: writers either take turns — `insert`, `insertWithSplice`, `linkUnlinked`,
//! `appendCopy` and the runs of `skiplist_run.zig` are for one writer at a time, which the
//! caller guarantees (the memtable's single-writer guard) — or all use the concurrent inserts
//! (`insertConcurrently`, `linkConcurrently`: a compare-and-swap per level, over an arena that
//! allocates concurrently); the two kinds never mix on one list. Any number of readers run
//! alongside either, without locks. A node is published by a release store (or CAS) of the
//! level-0 pointer that links it, after its entry bytes and its own next pointers are written;
//! readers load next pointers with acquire ordering, so a reader that sees a node sees its whole
//! entry.
//!
//! Invariants:
//! 1. Nodes are never freed or moved while the list lives (they live in the arena).
//! 2. A linked node's entry never changes; only its next pointers do, and only to insert a
//!    node directly after it.
//! 3. Level i holds a sorted subsequence of level i-1.
//! 4. A node's entry follows its next[0] directly, so the head of its user key (its first 8
//!    bytes as a big-endian integer, `Node.keyHead`) lies right after next[0].
//!
//! Layout of a node of height h, in one arena allocation (no separate key allocation):
//!     next[h-1] … next[1] ‖ next[0] ‖ entry bytes
//! A `*Node` points at next[0]; next[i] is i words before it; the entry follows next[0].
//! Searches compare a `Probe` (the search key with its head) against nodes. A node's head is
//! read in place: after the entry's one-byte key length, one unaligned load of the user key's
//! first 8 bytes (`coding.entryKeyHead`), so unequal heads decide with one integer compare on
//! the line that holds next[0] (or the next one), and only equal heads decode the entry. The
//! head is not stored beside next[0]: that cost 8 bytes per node, about 6% of a small entry,
//! to save about 4 instructions per comparison, under the same cache misses.
//!
//! The single, hinted and concurrent inserts share private search machinery (`searchFromHead`,
//! `checkSplice`, `heightFrom`, `allocateNode`), so they stay in this file; its tests and their
//! helpers are in skiplist_test.zig.
const std = @import("std");
const limits = @import("../limits.zig");
const coding = @import("../coding.zig");
const Arena = @import("../arena.zig").Arena;

pub const height_max = limits.skiplist_height_max;
pub const branching = limits.skiplist_branching;

const Link = std.atomic.Value(?*Node);

pub const Node = extern struct {
    next0: Link,

    pub inline fn link(self: *Node, level: usize) *Link {
        const base: [*]Link = @ptrCast(&self.next0);
        return &(base - level)[0];
    }

    pub inline fn next(self: *Node, level: usize) ?*Node {
        return self.link(level).load(.acquire);
    }

    pub inline fn setNext(self: *Node, level: usize, n: ?*Node) void {
        self.link(level).store(n, .release);
    }

    pub inline fn noBarrierSetNext(self: *Node, level: usize, n: ?*Node) void {
        self.link(level).store(n, .unordered);
    }

    pub inline fn entry(self: *Node) [*]u8 {
        const p: [*]u8 = @ptrCast(self);
        return p + @sizeOf(Node);
    }

    pub inline fn key(self: *Node) coding.Key {
        return coding.decodeKey(self.entry());
    }

    /// `coding.keyHead` of the entry's user key, read in place (invariant 4).
    pub inline fn keyHead(self: *Node) u64 {
        return coding.entryKeyHead(self.entry());
    }
};

comptime {
    std.debug.assert(@sizeOf(Link) == @sizeOf(usize));
    std.debug.assert(@offsetOf(Node, "next0") == 0); // next[i] lies i words before a *Node
    std.debug.assert(@sizeOf(Node) == @sizeOf(Link)); // the entry follows next[0]
    std.debug.assert(@alignOf(Node) <= limits.arena_alignment);
}

/// A search key and its head (`coding.keyHead`), computed once per search.
pub const Probe = struct {
    key: coding.Key,
    head: u64,

    pub inline fn of(key: coding.Key) Probe {
        return .{ .key = key, .head = coding.keyHead(key.user_key) };
    }

    /// The key of a node, with its head.
    pub inline fn ofNode(n: *Node) Probe {
        return .{ .key = n.key(), .head = n.keyHead() };
    }
};

/// Compares node `n`'s entry with `p`: by the heads when they differ (one integer compare), by
/// the decoded internal key when they tie. (Not asserted against the bytes: an entry changed in
/// memory is corruption, reported by protection bytes and paranoid checks, never a panic.)
pub inline fn compareNode(n: *Node, p: *const Probe) std.math.Order {
    if (std.debug.runtime_safety) std.debug.assert(p.head == coding.keyHead(p.key.user_key));
    const head = n.keyHead();
    if (head != p.head) return if (head < p.head) .lt else .gt;
    return coding.compareEntry(n.entry(), p.key);
}

/// The nodes bracketing a key at every level: prev[i] < key ≤ next[i] (next may be null).
/// Kept between inserts as the hint for the next one (RocksDB's `Splice`).
pub const Splice = struct {
    height: u32 = 0,
    prev: [height_max + 1]*Node = undefined,
    next: [height_max + 1]?*Node = undefined,
};

pub const InsertError = error{ Duplicate, OutOfMemory, Corruption };

pub const SkipList = struct {
    arena: *Arena,
    head: *Node,
    /// Height of the tallest node; read by readers without ordering (a stale value only
    /// makes a search start lower, still correct because every level is a sublist).
    max_height: std.atomic.Value(u32),
    rng_state: u64,
    /// The tallest a node may be (≤ height_max) and the branching factor: RocksDB's
    /// `skiplist_height` / `skiplist_branching_factor` (hash buckets use smaller lists).
    height_limit: u32 = height_max,
    branching_factor: u32 = branching,
    /// The splice of the last `insert`, so sequential keys do not search from the head; lists
    /// made without one (hash buckets: many small lists) search from the head every time.
    seq_splice: ?*Splice,
    /// Bytes of protection stored after every entry (0, 1, 2, 4 or 8).
    protection_bytes: u8 = 0,
    /// Verify that an insert's neighbours are in order before linking it.
    paranoid: bool = false,

    pub fn init(arena: *Arena, seed: u64) error{OutOfMemory}!SkipList {
        return initWith(arena, seed, .{});
    }

    pub const Shape = struct { height: u32 = height_max, branching: u32 = branching, splice: bool = true };

    /// A list of at most `shape.height` levels branching by `shape.branching` (≥ 2).
    pub fn initWith(arena: *Arena, seed: u64, shape: Shape) error{OutOfMemory}!SkipList {
        std.debug.assert(shape.height >= 1);
        std.debug.assert(shape.height <= height_max);
        std.debug.assert(shape.branching >= 2);
        const head = try allocateNode(arena, shape.height, 0);
        var i: usize = 0;
        while (i < shape.height) : (i += 1) head.noBarrierSetNext(i, null);
        var seq_splice: ?*Splice = null;
        if (shape.splice) {
            const raw = try arena.allocateAligned(@sizeOf(Splice));
            const sp: *Splice = @ptrCast(@alignCast(raw));
            sp.* = .{};
            seq_splice = sp;
        }
        return .{
            .arena = arena,
            .head = head,
            .max_height = .init(1),
            .rng_state = seed | 1,
            .height_limit = shape.height,
            .branching_factor = shape.branching,
            .seq_splice = seq_splice,
        };
    }

    fn allocateNode(arena: *Arena, height: u32, entry_len: usize) error{OutOfMemory}!*Node {
        std.debug.assert(height >= 1);
        std.debug.assert(height <= height_max);
        const prefix = @sizeOf(Link) * (height - 1);
        const raw = try arena.allocateAligned(prefix + @sizeOf(Node) + entry_len);
        return @ptrCast(@alignCast(raw + prefix));
    }

    pub fn randomHeight(self: *SkipList) u32 {
        return heightFrom(&self.rng_state, self.height_limit, self.branching_factor);
    }

    /// A height ≤ `limit` with P(h > k) = b^-k, drawn from the xorshift64* state `rng` (cheap,
    /// good enough to pick levels).
    fn heightFrom(rng: *u64, limit: u32, b: u32) u32 {
        std.debug.assert(limit >= 1);
        std.debug.assert(b >= 2);
        var h: u32 = 1;
        while (h < limit) {
            rng.* ^= rng.* >> 12;
            rng.* ^= rng.* << 25;
            rng.* ^= rng.* >> 27;
            const r = rng.* *% 0x2545F4914F6CDD1D;
            if ((r >> 32) % b != 0) break;
            h += 1;
        }
        return h;
    }

    /// Fills `splice` for `key` at every level below `top`, searching from the head.
    fn searchFromHead(self: *SkipList, key: *const Probe, splice: *Splice, top: u32) void {
        splice.prev[top] = self.head;
        splice.next[top] = null;
        descend(key, splice, top);
    }

    /// Recomputes levels `from`-1 … 0 of `splice`, each from the level above it.
    fn descend(key: *const Probe, splice: *Splice, from: u32) void {
        var i = from;
        while (i > 0) {
            i -= 1;
            findSpliceForLevel(key, splice.prev[i + 1], splice.next[i + 1], i, &splice.prev[i], &splice.next[i]);
        }
    }

    pub inline fn keyIsAfterNode(key: *const Probe, n: ?*Node) bool {
        const node = n orelse return false;
        return compareNode(node, key) == .lt;
    }

    /// First node ≥ key, or null.
    pub fn findGreaterOrEqual(self: *SkipList, key: coding.Key) ?*Node {
        return self.findGreaterOrEqualProbe(&Probe.of(key));
    }

    /// `findGreaterOrEqual` of a probe.
    pub fn findGreaterOrEqualProbe(self: *SkipList, key: *const Probe) ?*Node {
        var x = self.head;
        var level: usize = self.max_height.load(.monotonic) - 1;
        var last_bigger: ?*Node = null;
        while (true) {
            const n = x.next(level);
            if (n != null and n != last_bigger) {
                // The comparison below pulls n into cache; start fetching its successor too.
                @prefetch(n.?.next(level), .{});
                switch (compareNode(n.?, key)) {
                    .lt => {
                        x = n.?;
                        continue;
                    },
                    .eq => return n,
                    .gt => {},
                }
            }
            if (level == 0) return n;
            last_bigger = n;
            level -= 1;
        }
    }

    /// Last node < key, or null when there is none.
    pub fn findLessThan(self: *SkipList, key: coding.Key) ?*Node {
        return self.findLessThanProbe(&Probe.of(key));
    }

    /// `findLessThan` of a probe.
    pub fn findLessThanProbe(self: *SkipList, key: *const Probe) ?*Node {
        var x = self.head;
        var level: usize = self.max_height.load(.monotonic) - 1;
        var last_not_after: ?*Node = null;
        while (true) {
            const n = x.next(level);
            if (n != last_not_after and keyIsAfterNode(key, n)) {
                x = n.?;
            } else {
                if (level == 0) return if (x == self.head) null else x;
                last_not_after = n;
                level -= 1;
            }
        }
    }

    /// Last node ≤ key, or null.
    pub fn findLessOrEqual(self: *SkipList, key: coding.Key) ?*Node {
        const p = Probe.of(key);
        const ge = self.findGreaterOrEqualProbe(&p);
        if (ge) |n| {
            if (compareNode(n, &p) == .eq) return n;
        }
        return self.findLessThanProbe(&p);
    }

    pub fn findFirst(self: *SkipList) ?*Node {
        return self.head.next(0);
    }

    pub fn findLast(self: *SkipList) ?*Node {
        var x = self.head;
        var level: usize = self.max_height.load(.monotonic) - 1;
        while (true) {
            if (x.next(level)) |n| {
                x = n;
            } else {
                if (level == 0) return if (x == self.head) null else x;
                level -= 1;
            }
        }
    }

    pub fn contains(self: *SkipList, key: coding.Key) bool {
        const p = Probe.of(key);
        const n = self.findGreaterOrEqualProbe(&p) orelse return false;
        return compareNode(n, &p) == .eq;
    }

    /// Finds prev/next for `level` starting from `before` (known < key).
    inline fn findSpliceForLevel(key: *const Probe, before_in: *Node, after: ?*Node, level: usize, out_prev: **Node, out_next: *?*Node) void {
        var before = before_in;
        while (true) {
            const n = before.next(level);
            if (n) |p| @prefetch(p.next(level), .{});
            if (n == after or !keyIsAfterNode(key, n)) {
                out_prev.* = before;
                out_next.* = n;
                return;
            }
            before = n.?;
        }
    }

    /// Brings `splice` up to date for `key`, reusing the levels where it still brackets the
    /// key (so sequential inserts do not search from the head). Returns the height up to which
    /// it recomputed: levels at and above it bracketed the key when checked bottom-up, but may
    /// have gone stale (an insert elsewhere through another splice): `insertWithSplice`
    /// re-validates them as it links, as RocksDB's InlineSkipList does.
    fn recomputeSplice(self: *SkipList, key: *const Probe, splice: *Splice) u32 {
        const max_height = self.max_height.load(.monotonic);
        var recompute_height: u32 = 0;
        if (splice.height < max_height) {
            splice.prev[max_height] = self.head;
            splice.next[max_height] = null;
            splice.height = max_height;
            recompute_height = max_height;
        } else {
            // Climb until the splice brackets the key at this level.
            while (recompute_height < max_height) {
                const level = recompute_height;
                if (splice.prev[level].next(level) != splice.next[level]) {
                    recompute_height += 1; // stale: something was inserted inside the splice
                } else if (splice.prev[level] != self.head and !keyIsAfterNode(key, splice.prev[level])) {
                    recompute_height = max_height; // key is before the splice: start over
                } else if (keyIsAfterNode(key, splice.next[level])) {
                    recompute_height += 1; // key is after the splice
                } else break;
            }
            if (recompute_height == max_height) {
                splice.prev[max_height] = self.head;
                splice.next[max_height] = null;
            }
        }
        descend(key, splice, recompute_height);
        return recompute_height;
    }

    /// Inserts an entry for `key` with `value`, copying both into one new node.
    /// Reports `error.Duplicate` (and allocates nothing) when an entry with the same internal
    /// key (user key, seq and type) exists. REQUIRES: no concurrent insert.
    pub fn insert(self: *SkipList, key: coding.Key, value: []const u8) InsertError!*Node {
        if (self.seq_splice) |sp| return self.insertWithSplice(key, value, sp);
        var splice: Splice = .{};
        return self.insertWithSplice(key, value, &splice);
    }

    /// `insert` from `splice` (a hint kept by the caller). REQUIRES: no concurrent insert.
    pub fn insertWithSplice(self: *SkipList, key: coding.Key, value: []const u8, splice: *Splice) InsertError!*Node {
        std.debug.assert(!self.arena.isConcurrent()); // the one-writer inserts never mix with CAS ones
        const p = Probe.of(key);
        const recomputed = self.recomputeSplice(&p, splice);
        try self.checkSplice(&p, splice);
        const height = self.randomHeight();
        const node = try self.allocateEntry(key, value, height);
        self.linkWithSplice(node, height, &p, splice, recomputed);
        return node;
    }

    /// Links a node made by `allocateUnlinked` (for this list or, when it is no taller, another
    /// one) at its place, searching from the head. REQUIRES: no equal entry in the list (the
    /// caller checked), no concurrent insert. Allocates nothing, so it cannot fail.
    pub fn linkUnlinked(self: *SkipList, u: Unlinked) void {
        std.debug.assert(!self.arena.isConcurrent());
        std.debug.assert(u.height >= 1);
        const key = Probe.ofNode(u.node);
        var splice: Splice = .{};
        const recomputed = self.recomputeSplice(&key, &splice);
        if (std.debug.runtime_safety) {
            if (splice.next[0]) |n| std.debug.assert(compareNode(n, &key) != .eq);
        }
        self.linkWithSplice(u.node, @min(u.height, self.height_limit), &key, &splice, recomputed);
    }

    fn linkWithSplice(self: *SkipList, node: *Node, height: u32, key: *const Probe, splice: *Splice, recomputed: u32) void {
        std.debug.assert(height >= 1);
        std.debug.assert(height <= self.height_limit);
        const max_height = self.max_height.load(.monotonic);
        if (height > max_height) {
            var l = max_height;
            while (l < height) : (l += 1) {
                splice.prev[l] = self.head;
                splice.next[l] = null;
            }
            splice.prev[height] = self.head;
            splice.next[height] = null;
            // Readers that see the new height early find head->next == null at the new
            // levels and drop down: correct without ordering.
            self.max_height.store(height, .monotonic);
            splice.height = @max(splice.height, height);
        }
        var level: usize = 0;
        while (level < height) : (level += 1) {
            if (level >= recomputed and splice.prev[level].next(level) != splice.next[level]) {
                // Stale above the levels just recomputed: something was linked after prev.
                findSpliceForLevel(key, splice.prev[level], null, level, &splice.prev[level], &splice.next[level]);
            }
            node.noBarrierSetNext(level, splice.next[level]);
            splice.prev[level].setNext(level, node); // release: publishes the node
        }
        // The splice now brackets the new node's successor region: prev = node.
        level = 0;
        while (level < height) : (level += 1) splice.prev[level] = node;
    }

    /// The checks before linking `key` where `splice` (fresh for `key`) says: an equal entry
    /// is a duplicate; in paranoid mode the neighbours must be in order around it.
    fn checkSplice(self: *SkipList, key: *const Probe, splice: *const Splice) InsertError!void {
        return self.checkNeighbours(key, splice.prev[0], splice.next[0]);
    }

    pub fn checkNeighbours(self: *SkipList, key: *const Probe, prev: *Node, next: ?*Node) InsertError!void {
        if (next) |n| {
            if (compareNode(n, key) == .eq) return error.Duplicate;
        }
        if (!self.paranoid) return;
        // Paranoid: the bytes themselves, not the heads (a corrupt head must not vouch for itself).
        if (prev != self.head and coding.compareEntry(prev.entry(), key.key) != .lt) return error.Corruption;
        if (next) |n| {
            if (coding.compareEntry(n.entry(), key.key) != .gt) return error.Corruption;
            if (n.next(0)) |after| {
                if (coding.compareKeys(n.key(), after.key()) != .lt) return error.Corruption;
            }
        }
    }

    /// A node of `height` holding the entry (and its protection bytes), not linked.
    pub fn allocateEntry(self: *SkipList, key: coding.Key, value: []const u8, height: u32) error{OutOfMemory}!*Node {
        return newNode(self.arena, key, value, height, self.protection_bytes);
    }

    // ---- concurrent inserts (allow_concurrent_memtable_write) ----------------------------

    /// Inserts like `insert`, safe against other concurrent inserts on other threads (RocksDB's
    /// InlineSkipList::InsertConcurrently): the node is linked level by level with a
    /// compare-and-swap on its predecessor's pointer; a lost race recomputes the predecessor at
    /// that level from the one it had. Duplicates are found at level 0, before any link.
    /// REQUIRES: the arena allocates concurrently.
    pub fn insertConcurrently(self: *SkipList, key: coding.Key, value: []const u8) InsertError!*Node {
        std.debug.assert(self.arena.isConcurrent());
        const p = Probe.of(key);
        var splice: Splice = .{};
        const searched = self.max_height.load(.acquire);
        self.searchFromHead(&p, &splice, searched);
        try self.checkSplice(&p, &splice); // allocates nothing for a duplicate
        const height = self.concurrentHeight();
        const node = try self.allocateEntry(key, value, height);
        try self.linkConcurrentlyAfter(node, height, &p, &splice, searched);
        return node;
    }

    /// The linking half of `insertConcurrently`, for a node from `allocateUnlinkedConcurrently`
    /// (a batch allocates every node before it links any). `error.Duplicate` when an equal entry
    /// is there: the node then stays unused in the arena. REQUIRES: the arena allocates
    /// concurrently.
    pub fn linkConcurrently(self: *SkipList, u: Unlinked) InsertError!void {
        std.debug.assert(self.arena.isConcurrent());
        std.debug.assert(u.height >= 1);
        std.debug.assert(u.height <= self.height_limit);
        const key = Probe.ofNode(u.node);
        var splice: Splice = .{};
        const searched = self.max_height.load(.acquire);
        self.searchFromHead(&key, &splice, searched);
        try self.checkSplice(&key, &splice);
        try self.linkConcurrentlyAfter(u.node, u.height, &key, &splice, searched);
    }

    /// Links `node` with CAS level by level; `splice` holds the predecessors found by a search
    /// of the `searched` lowest levels.
    fn linkConcurrentlyAfter(self: *SkipList, node: *Node, height: u32, key: *const Probe, splice: *Splice, searched: u32) error{Duplicate}!void {
        var max_height = searched;
        while (height > max_height) {
            if (self.max_height.cmpxchgWeak(max_height, height, .acq_rel, .acquire)) |seen| {
                max_height = seen;
            } else {
                break;
            }
        }
        var level: usize = 0;
        while (level < height) : (level += 1) {
            if (level >= searched) {
                // A level above the search: other threads may have linked nodes there since.
                findSpliceForLevel(key, self.head, null, level, &splice.prev[level], &splice.next[level]);
            }
            while (true) {
                node.noBarrierSetNext(level, splice.next[level]);
                if (splice.prev[level].link(level).cmpxchgStrong(splice.next[level], node, .release, .acquire) == null) break;
                // Lost a race: something was linked right after prev. Search on from prev.
                findSpliceForLevel(key, splice.prev[level], null, level, &splice.prev[level], &splice.next[level]);
                if (level == 0) {
                    if (splice.next[0]) |n| {
                        // The node is not linked anywhere yet: it stays unused in the arena.
                        if (compareNode(n, key) == .eq) return error.Duplicate;
                    }
                }
            }
        }
    }

    // ---- unlinked nodes (batches allocate every node before they link any) ---------------

    /// A node made and not yet linked, with the height it is to be linked at.
    pub const Unlinked = struct { node: *Node, height: u32 };

    threadlocal var height_rng: u64 = 0;
    var height_seed = std.atomic.Value(u64).init(0x9E3779B97F4A7C15);

    /// A random height from a per-thread generator (concurrent inserts share no state).
    pub fn concurrentHeight(self: *const SkipList) u32 {
        if (height_rng == 0) height_rng = height_seed.fetchAdd(0x9E3779B97F4A7C15, .monotonic) | 1;
        return heightFrom(&height_rng, self.height_limit, self.branching_factor);
    }

    /// An unlinked node for `key` with a random height, for one writer.
    pub fn allocateUnlinked(self: *SkipList, key: coding.Key, value: []const u8) error{OutOfMemory}!Unlinked {
        const height = self.randomHeight();
        return .{ .node = try self.allocateEntry(key, value, height), .height = height };
    }

    /// An unlinked node for `key` with a random height from this thread's generator, for
    /// `linkConcurrently`.
    pub fn allocateUnlinkedConcurrently(self: *SkipList, key: coding.Key, value: []const u8) error{OutOfMemory}!Unlinked {
        const height = self.concurrentHeight();
        return .{ .node = try self.allocateEntry(key, value, height), .height = height };
    }
};

/// A node of `height` in `arena` holding the entry (and `protection_bytes` of protection), not
/// linked anywhere; its next pointers are undefined.
pub fn newNode(arena: *Arena, key: coding.Key, value: []const u8, height: u32, protection_bytes: u8) error{OutOfMemory}!*Node {
    const entry_len = coding.entryEncodedLength(key.user_key.len, value.len);
    const node = try SkipList.allocateNode(arena, height, entry_len + protection_bytes);
    const written = coding.encodeEntry(node.entry(), key, value);
    std.debug.assert(written == entry_len);
    if (protection_bytes != 0) coding.writeProtection(node.entry()[0..entry_len], protection_bytes);
    return node;
}

/// The newest version of `user_key` with sequence number ≤ `snapshot` in `list`, or null.
pub fn findNewest(list: *SkipList, user_key: []const u8, snapshot: u64) ?*Node {
    const seek: coding.Key = .{ .user_key = user_key, .trailer = coding.packTrailer(snapshot, limits.value_type_for_seek) };
    const node = list.findGreaterOrEqual(seek) orelse return null;
    if (!std.mem.eql(u8, node.key().user_key, user_key)) return null;
    return node;
}

/// Lookups searched together by `findNewestGroup`: enough cache misses in flight to hide most
/// of a miss's latency, few enough that every search's state stays in L1 (about 1 KiB).
/// Measured with `bench/multi_get.ts` at 1M entries (Bun, batches of 64): 16 gave 3.8× a single
/// `get` per key, 32 gave 4.3×.
pub const lookup_group_max = 32;

/// `findNewest` of each of `user_keys` (at most `lookup_group_max`), into `out`: the searches
/// advance in lockstep, one step of each in turn, each step prefetching the node the search
/// compares next, so their cache misses overlap instead of following one another.
pub fn findNewestGroup(list: *SkipList, user_keys: []const []const u8, snapshot: u64, out: []?*Node) void {
    std.debug.assert(user_keys.len <= lookup_group_max);
    std.debug.assert(out.len == user_keys.len);
    const trailer = coding.packTrailer(snapshot, limits.value_type_for_seek);
    var probes: [lookup_group_max]Probe = undefined;
    var x: [lookup_group_max]*Node = undefined;
    var level: [lookup_group_max]u32 = undefined;
    var active: [lookup_group_max]u8 = undefined;
    var n_active: usize = user_keys.len;
    const top: u32 = list.max_height.load(.monotonic);
    for (user_keys, 0..) |k, i| {
        probes[i] = .of(.{ .user_key = k, .trailer = trailer });
        x[i] = list.head;
        level[i] = top - 1;
        active[i] = @intCast(i);
    }
    // First node ≥ each probe, as `findGreaterOrEqual` finds it.
    while (n_active > 0) {
        var a: usize = 0;
        while (a < n_active) {
            const i = active[a];
            const lv = level[i];
            const n = x[i].next(lv);
            if (n != null and compareNode(n.?, &probes[i]) == .lt) {
                x[i] = n.?;
                if (n.?.next(lv)) |ahead| @prefetch(ahead, .{});
                a += 1;
                continue;
            }
            if (lv == 0) {
                out[i] = n;
                n_active -= 1;
                active[a] = active[n_active];
                continue;
            }
            level[i] = lv - 1;
            if (x[i].next(lv - 1)) |ahead| @prefetch(ahead, .{});
            a += 1;
        }
    }
    for (user_keys, out) |k, *o| {
        if (o.*) |node| {
            if (!std.mem.eql(u8, node.key().user_key, k)) o.* = null;
        }
    }
}

/// The next older version of `node`'s user key in its list (the level-0 successor when it has
/// the same user key: versions of a key are adjacent, newest first), or null.
pub fn nextVersion(node: *Node) ?*Node {
    const n = node.next(0) orelse return null;
    if (!std.mem.eql(u8, n.key().user_key, node.key().user_key)) return null;
    std.debug.assert(n.key().trailer < node.key().trailer);
    return n;
}

/// Bytes of the entry at `node`, protection included.
pub fn entrySize(node: *Node, protection_bytes: u8) usize {
    return coding.entryLength(node.entry()) + protection_bytes;
}

/// Appends a byte copy of `src`'s entry (`len` bytes, protection included, so a corrupt entry
/// stays detectably corrupt) after every node of `list`; `last` holds the list's last node
/// per level (all null for an empty list). REQUIRES: the entry sorts after every node; no
/// concurrent insert. For rebuilding a list in order.
pub fn appendCopy(list: *SkipList, src: *Node, len: usize, last: *[height_max]?*Node) error{OutOfMemory}!*Node {
    std.debug.assert(!list.arena.isConcurrent());
    if (std.debug.runtime_safety) {
        if (last[0]) |tail| std.debug.assert(coding.compareKeys(tail.key(), src.key()) == .lt);
    }
    if (std.debug.runtime_safety) std.debug.assert(len >= coding.entryLength(src.entry()));
    const height = list.randomHeight();
    const node = try SkipList.allocateNode(list.arena, height, len);
    @memcpy(node.entry()[0..len], src.entry()[0..len]);
    if (height > list.max_height.load(.monotonic)) list.max_height.store(height, .monotonic);
    var level: usize = 0;
    while (level < height) : (level += 1) {
        node.noBarrierSetNext(level, null);
        (last[level] orelse list.head).setNext(level, node);
        last[level] = node;
    }
    return node;
}
