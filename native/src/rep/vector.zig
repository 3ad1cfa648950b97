//! The vector representation of a memtable's point entries (RocksDB's VectorRep): entries are
//! appended to an array of slots (segments that never move) — the fastest insert — and chained
//! by a hash of their user key through the node's level-0 link, which finds duplicates and
//! answers point lookups. Iteration sorts a copy of the slots (O(n log n), `rep.zig`'s
//! `sortedCopy`); once the memtable is immutable the sorted copy is made once and kept.
//!
//! Thread safety: readers never lock. Any number of writers at once: slots are claimed with an
//! atomic counter, segments are made under a spinlock, chains grow by CAS, and a node's slot is
//! filled (release) only after it is linked into its chain.
const std = @import("std");
const limits = @import("../limits.zig");
const coding = @import("../coding.zig");
const arena_mod = @import("../arena.zig");
const skiplist = @import("skiplist.zig");
const rep_mod = @import("rep.zig");

const Arena = arena_mod.Arena;
const Node = skiplist.Node;
const InsertError = skiplist.InsertError;

/// How far ahead a batch fetches the chain head of a later record.
const prefetch_distance = 8;

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

    pub fn init(arena: *Arena, config: rep_mod.Config) error{OutOfMemory}!VectorRep {
        const options = config.options;
        const write_buffer_size = config.write_buffer_size;
        std.debug.assert(options.kind == .vector);
        std.debug.assert(options.reserve <= rep_mod.bucket_count_max);
        if (config.concurrent_writes) std.debug.assert(arena.isConcurrent());
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
            .protection_bytes = config.protection_bytes,
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
        std.debug.assert(s < segment_max);
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
    pub fn collect(self: *const VectorRep, gpa: std.mem.Allocator, out: *std.ArrayList(*Node)) error{OutOfMemory}!void {
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

    /// The newest version of `user_key` with sequence number ≤ `snapshot` (the smallest entry
    /// at or after the seek key with that user key), or null: one pass over the key's chain.
    pub fn findNewest(self: *const VectorRep, user_key: []const u8, snapshot: u64) ?*Node {
        const key: coding.Key = .{ .user_key = user_key, .trailer = coding.packTrailer(snapshot, limits.value_type_for_seek) };
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

    /// A batch of inserts (see `rep.zig`). One writer: when the batch's sequence numbers are
    /// consecutive from one above every stored one (`consecutive_from`, what a decoded batch applied
    /// in order has), no record can equal a stored one and nothing is looked up; otherwise
    /// `check` walks each record's chain. `allocate` claims a slot and makes a node for every
    /// record, `link` links them (cannot fail with one writer). Concurrent writers: each record
    /// is checked, and linked with its own `claimSeq` answer, as `insert` does.
    pub const Batch = struct {
        rep: *VectorRep,
        entries: []const coding.Entry,
        concurrent: bool,
        /// One writer: no entry can equal a stored one (see above).
        fresh: bool,
        prepared: []Prepared,
        /// Concurrent writers: each entry's `claimSeq` answer.
        claimed_fresh: []bool,

        pub fn init(gpa: std.mem.Allocator, rep: *VectorRep, entries: []const coding.Entry, concurrent: bool, consecutive_from: ?u64) error{OutOfMemory}!Batch {
            const prepared = try gpa.alloc(Prepared, entries.len);
            errdefer gpa.free(prepared);
            const claimed_fresh = try gpa.alloc(bool, if (concurrent) entries.len else 0);
            const fresh = !concurrent and consecutive_from != null and rep.freshFrom(consecutive_from.?);
            if (std.debug.runtime_safety and fresh) {
                for (entries) |e| std.debug.assert(e.key.sequence() >= consecutive_from.?);
            }
            return .{ .rep = rep, .entries = entries, .concurrent = concurrent, .fresh = fresh, .prepared = prepared, .claimed_fresh = claimed_fresh };
        }

        pub fn deinit(self: *Batch, gpa: std.mem.Allocator) void {
            gpa.free(self.prepared);
            gpa.free(self.claimed_fresh);
            self.* = undefined;
        }

        pub fn check(self: *Batch, failed: *usize) InsertError!void {
            if (self.fresh) return;
            for (self.entries, 0..) |e, i| {
                if (self.rep.contains(e.key)) {
                    failed.* = i;
                    return error.Duplicate;
                }
            }
        }

        pub fn allocate(self: *Batch) error{OutOfMemory}!void {
            for (self.entries, self.prepared) |e, *p| p.* = try self.rep.prepare(e.key, e.value);
            if (self.concurrent) {
                for (self.entries, self.claimed_fresh) |e, *f| f.* = self.rep.claimSeq(e.key.sequence());
            } else {
                for (self.entries) |e| _ = self.rep.claimSeq(e.key.sequence());
            }
        }

        /// One writer: cannot fail (checked). Concurrent: `error.Duplicate` when another writer
        /// linked an equal entry since `check`, with `failed` its index.
        pub fn link(self: *Batch, failed: *usize) error{Duplicate}!void {
            const n = self.prepared.len;
            for (self.prepared, 0..) |p, i| {
                // The chain heads of later records: their misses overlap this link.
                if (i + prefetch_distance < n) @prefetch(self.rep.chainOf(self.entries[i + prefetch_distance].key.user_key), .{ .rw = .write });
                const fresh = if (self.concurrent) self.claimed_fresh[i] else self.fresh;
                self.rep.link(p, fresh) catch |err| {
                    std.debug.assert(self.concurrent); // one writer: checked before
                    failed.* = i;
                    return err;
                };
            }
        }
    };
};

const testing = std.testing;
const Cursor = @import("cursor.zig").Cursor;

fn testKey(buf: []u8, i: u32, seq: u64) coding.Key {
    const s = std.fmt.bufPrint(buf, "key{d:0>6}", .{i}) catch unreachable;
    return .{ .user_key = s, .trailer = coding.packTrailer(seq, 1) };
}

test "vector: appends, finds versions through its chains, sorts a copy" {
    var arena = Arena.init(4096);
    defer arena.deinit();
    var rep: rep_mod.Rep = try .init(&arena, .{ .options = .{ .kind = .vector }, .write_buffer_size = 1 << 16, .protection_bytes = 2, .seed = 1 });
    defer rep.deinit();
    var i: u32 = 0;
    while (i < 3000) : (i += 1) {
        var buf: [32]u8 = undefined;
        _ = try rep.insert(testKey(&buf, (i * 7919) % 1000, 1 + i / 1000), "v");
    }
    var buf: [32]u8 = undefined;
    try testing.expectError(error.Duplicate, rep.insert(testKey(&buf, 5, 2), "w"));
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
    c.seek(.{ .user_key = k, .trailer = coding.packTrailer(10, limits.value_type_for_seek) });
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
    var rep: rep_mod.Rep = try .init(&arena, .{ .options = .{ .kind = .vector }, .write_buffer_size = 1 << 20, .concurrent_writes = true, .seed = 1 });
    defer rep.deinit();
    const per = 5000;
    const Worker = struct {
        fn run(r: *rep_mod.Rep, t: u32, dups: *std.atomic.Value(u32)) void {
            var i: u32 = 0;
            while (i < per) : (i += 1) {
                var buf: [32]u8 = undefined;
                // Threads 0/1 and 2/3 write the same keys: one of each pair wins.
                _ = r.insertConcurrently(testKey(&buf, (t / 2) * per + i, 1), "v") catch |err| {
                    std.debug.assert(err == error.Duplicate);
                    _ = dups.fetchAdd(1, .monotonic);
                };
            }
        }
    };
    var dups: std.atomic.Value(u32) = .init(0);
    var threads: [4]std.Thread = undefined;
    for (&threads, 0..) |*t, i| t.* = try std.Thread.spawn(.{}, Worker.run, .{ &rep, @as(u32, @intCast(i)), &dups });
    for (threads) |t| t.join();
    try testing.expectEqual(@as(u32, 2 * per), dups.load(.monotonic));
    const view = try rep.sortedCopy();
    defer arena_mod.freeSliceTracked(view);
    try testing.expectEqual(@as(usize, 2 * per), view.len);
    for (view[1..], 0..) |n, j| try testing.expectEqual(std.math.Order.lt, coding.compareKeys(view[j].key(), n.key()));
}
