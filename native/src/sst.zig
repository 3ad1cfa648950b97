//! The flush job natively: immutable memtables (newest first) become the bytes of one SST file
//! in RocksDB's block-based format (format version 5, CRC32c block checksums, no compression),
//! with the rules of `src/flush/flush_job.ts` — per user key, the newest version of each
//! live-snapshot stripe, versions a tombstone of their stripe covers dropped, deletions and
//! every tombstone kept — except that Merge operands are kept as they are (folding them needs
//! the merge operator, which lives in JavaScript; reads fold them).
//!
//! Entries are copied straight from the skiplist nodes into the data blocks: the internal key
//! of a memtable entry is already the key an SST stores. Runs on whichever thread calls it; it
//! only reads the memtables (which must be immutable: no writer may add to them meanwhile).
const std = @import("std");
const limits = @import("limits.zig");
const coding = @import("coding.zig");
const arena_mod = @import("arena.zig");
const skiplist = @import("rep/skiplist.zig");
const mt_mod = @import("memtable/memtable.zig");

const MemTable = mt_mod.MemTable;
const Node = skiplist.Node;
const Allocator = std.mem.Allocator;

pub const builder_magic: u64 = 0x5353544255494C44; // "SSTBUILD"
const table_magic: u64 = 0x88E241B785F4CFF7;
const trailer_len = 5;

pub fn crc32c(bytes: []const u8) u32 {
    return std.hash.crc.@"CRC-32/ISCSI".hash(bytes);
}

fn mask(crc: u32) u32 {
    return ((crc >> 15) | (crc << 17)) +% 0xA282EAD8;
}

fn putVarint(list: *std.ArrayList(u8), gpa: Allocator, v: u64) !void {
    var x = v;
    while (x >= 0x80) : (x >>= 7) try list.append(gpa, @as(u8, @truncate(x)) | 0x80);
    try list.append(gpa, @truncate(x));
}

fn putFixed32(list: *std.ArrayList(u8), gpa: Allocator, v: u32) !void {
    var b: [4]u8 = undefined;
    std.mem.writeInt(u32, &b, v, .little);
    try list.appendSlice(gpa, &b);
}

/// A block of prefix-compressed entries with restart points.
const BlockBuilder = struct {
    buf: std.ArrayList(u8) = .empty,
    restarts: std.ArrayList(u32) = .empty,
    last: std.ArrayList(u8) = .empty,
    counter: u32 = 0,
    entries: u32 = 0,
    interval: u32,

    fn deinit(self: *BlockBuilder, gpa: Allocator) void {
        self.buf.deinit(gpa);
        self.restarts.deinit(gpa);
        self.last.deinit(gpa);
    }

    fn estimate(self: *const BlockBuilder) usize {
        return self.buf.items.len + 4 * (self.restarts.items.len + 1) + 4;
    }

    fn add(self: *BlockBuilder, gpa: Allocator, key: []const u8, value: []const u8) !void {
        var shared: usize = 0;
        if (self.entries == 0) {
            try self.restarts.append(gpa, 0);
        } else if (self.counter < self.interval) {
            const n = @min(self.last.items.len, key.len);
            while (shared < n and self.last.items[shared] == key[shared]) shared += 1;
        } else {
            try self.restarts.append(gpa, @intCast(self.buf.items.len));
            self.counter = 0;
        }
        try putVarint(&self.buf, gpa, shared);
        try putVarint(&self.buf, gpa, key.len - shared);
        try putVarint(&self.buf, gpa, value.len);
        try self.buf.appendSlice(gpa, key[shared..]);
        try self.buf.appendSlice(gpa, value);
        self.last.clearRetainingCapacity();
        try self.last.appendSlice(gpa, key);
        self.counter += 1;
        self.entries += 1;
    }

    /// Appends the finished contents to `out` and resets the builder.
    fn finish(self: *BlockBuilder, gpa: Allocator, out: *std.ArrayList(u8)) !void {
        if (self.entries == 0) try self.restarts.append(gpa, 0);
        for (self.restarts.items) |r| try putFixed32(&self.buf, gpa, r);
        try putFixed32(&self.buf, gpa, @intCast(self.restarts.items.len));
        try out.appendSlice(gpa, self.buf.items);
        self.buf.clearRetainingCapacity();
        self.restarts.clearRetainingCapacity();
        self.last.clearRetainingCapacity();
        self.counter = 0;
        self.entries = 0;
    }
};

const Handle = struct { offset: u64, size: u64 };

pub const Stats = struct {
    input_entries: u64 = 0,
    output_entries: u64 = 0,
    range_tombstones: u64 = 0,
    smallest_seq: u64 = std.math.maxInt(u64),
    largest_seq: u64 = 0,
    deleted_keys: u64 = 0,
    merge_operands: u64 = 0,
    raw_key_size: u64 = 0,
    raw_value_size: u64 = 0,
    data_size: u64 = 0,
    index_size: u64 = 0,
    data_blocks: u64 = 0,
};

pub const SstBuilder = struct {
    magic: u64 = builder_magic,
    gpa: Allocator,
    memtables: std.ArrayList(*MemTable) = .empty,
    snapshots: std.ArrayList(u64) = .empty,
    block_size: u32,
    restart_interval: u32,
    file: std.ArrayList(u8) = .empty,
    stats: Stats = .{},
    smallest_key: std.ArrayList(u8) = .empty,
    largest_key: std.ArrayList(u8) = .empty,
    built: bool = false,

    pub fn create(block_size: u32, restart_interval: u32) error{OutOfMemory}!*SstBuilder {
        const self = try arena_mod.allocTracked(SstBuilder);
        self.* = .{ .gpa = arena_mod.backing_allocator, .block_size = block_size, .restart_interval = restart_interval };
        return self;
    }

    pub fn destroy(self: *SstBuilder) void {
        for (self.memtables.items) |m| _ = m.unref();
        self.memtables.deinit(self.gpa);
        self.snapshots.deinit(self.gpa);
        self.file.deinit(self.gpa);
        self.smallest_key.deinit(self.gpa);
        self.largest_key.deinit(self.gpa);
        self.magic = 0;
        arena_mod.destroyTracked(self);
    }

    /// Adds the next memtable (newest first); holds a reference to it.
    pub fn addMemTable(self: *SstBuilder, mt: *MemTable) error{OutOfMemory}!void {
        try self.memtables.append(self.gpa, mt);
        _ = mt.ref();
    }

    fn stripe(self: *const SstBuilder, seq: u64) usize {
        return std.sort.lowerBound(u64, self.snapshots.items, seq, orderU64);
    }

    fn orderU64(a: u64, b: u64) std.math.Order {
        return std.math.order(a, b);
    }

    /// The largest sequence number a reader of `seq`'s stripe can see.
    fn ceiling(self: *const SstBuilder, seq: u64) u64 {
        const i = self.stripe(seq);
        return if (i < self.snapshots.items.len) self.snapshots.items[i] else limits.sequence_max;
    }

    /// Builds the file; afterwards `file` holds its bytes. `error.Corruption` when an entry
    /// fails its protection check (nothing of it reaches the file).
    pub fn build(self: *SstBuilder) error{ OutOfMemory, Corruption }!void {
        std.debug.assert(!self.built);
        std.mem.sort(u64, self.snapshots.items, {}, std.sort.asc(u64));
        const gpa = self.gpa;
        const n = self.memtables.items.len;
        const frags = try gpa.alloc(?*mt_mod.Fragments, n);
        defer gpa.free(frags);
        @memset(frags, null);
        defer for (frags) |f| if (f) |x| x.release();
        for (self.memtables.items, 0..) |m, i| frags[i] = try m.acquireFragments();

        var data: BlockBuilder = .{ .interval = self.restart_interval };
        defer data.deinit(gpa);
        var index: BlockBuilder = .{ .interval = 1 };
        defer index.deinit(gpa);
        var last_key: std.ArrayList(u8) = .empty;
        defer last_key.deinit(gpa);
        var group: std.ArrayList(*Node) = .empty;
        defer group.deinit(gpa);

        const Emit = struct {
            b: *SstBuilder,
            data: *BlockBuilder,
            index: *BlockBuilder,
            last_key: *std.ArrayList(u8),

            fn flushBlock(e: @This()) !void {
                const gpa2 = e.b.gpa;
                const h = try e.b.writeBlock(e.data);
                e.b.stats.data_size += h.size + trailer_len;
                e.b.stats.data_blocks += 1;
                var hv: std.ArrayList(u8) = .empty;
                defer hv.deinit(gpa2);
                try putVarint(&hv, gpa2, h.offset);
                try putVarint(&hv, gpa2, h.size);
                try e.index.add(gpa2, e.last_key.items, hv.items);
            }

            fn entry(e: @This(), node: *Node) !void {
                const gpa2 = e.b.gpa;
                const ent = coding.decodeEntry(node.entry());
                const ikey_start = @intFromPtr(ent.key.user_key.ptr);
                const ikey: []const u8 = @as([*]const u8, @ptrFromInt(ikey_start))[0 .. ent.key.user_key.len + 8];
                if (e.data.entries > 0 and e.data.estimate() >= e.b.block_size) try e.flushBlock();
                try e.data.add(gpa2, ikey, ent.value);
                e.last_key.clearRetainingCapacity();
                try e.last_key.appendSlice(gpa2, ikey);
                const s = &e.b.stats;
                s.output_entries += 1;
                const t = ent.key.valueType();
                if (t == @backingInt(limits.ValueType.deletion) or t == @backingInt(limits.ValueType.single_deletion)) s.deleted_keys += 1;
                if (t == @backingInt(limits.ValueType.merge)) s.merge_operands += 1;
                s.raw_key_size += ikey.len;
                s.raw_value_size += ent.value.len;
                const seq = ent.key.sequence();
                s.smallest_seq = @min(s.smallest_seq, seq);
                s.largest_seq = @max(s.largest_seq, seq);
                if (e.b.smallest_key.items.len == 0 and s.output_entries == 1) try e.b.smallest_key.appendSlice(gpa2, ent.key.user_key);
                e.b.largest_key.clearRetainingCapacity();
                try e.b.largest_key.appendSlice(gpa2, ent.key.user_key);
            }
        };
        const emit: Emit = .{ .b = self, .data = &data, .index = &index, .last_key = &last_key };

        // The point entries of all memtables merged in internal-key order; an entry equal to
        // one already seen (the same write in an older memtable) is skipped.
        const its = try gpa.alloc(*mt_mod.Iterator, n);
        defer gpa.free(its);
        var made: usize = 0;
        defer for (its[0..made]) |it| it.destroy();
        for (self.memtables.items) |m| {
            its[made] = try mt_mod.Iterator.create(m, limits.sequence_max, .{ .ignore_range_deletions = true });
            made += 1;
            try its[made - 1].seekToFirst();
        }
        var prev: ?*Node = null;
        while (true) {
            var best: ?usize = null;
            for (its, 0..) |it, i| {
                if (!it.valid()) continue;
                if (best == null or coding.compareKeys(it.node().key(), its[best.?].node().key()) == .lt) best = i;
            }
            const b = best orelse break;
            const node = its[b].node();
            if (!coding.verifyProtection(node.entry(), self.memtables.items[b].protectionBytes())) return error.Corruption;
            its[b].next();
            if (prev) |p| {
                if (coding.compareKeys(p.key(), node.key()) == .eq) continue;
            }
            prev = node;
            self.stats.input_entries += 1;
            if (group.items.len > 0 and !std.mem.eql(u8, group.items[0].key().user_key, node.key().user_key)) {
                try self.flushKey(group.items, frags, emit);
                group.clearRetainingCapacity();
            }
            try group.append(gpa, node);
        }
        if (group.items.len > 0) try self.flushKey(group.items, frags, emit);
        if (data.entries > 0) try emit.flushBlock();

        const index_handle = try self.writeBlock(&index);
        self.stats.index_size = index_handle.size + trailer_len;
        const range_handle = try self.writeTombstones();
        const props_handle = try self.writeProperties();
        var meta: BlockBuilder = .{ .interval = 1 };
        defer meta.deinit(gpa);
        var hv: std.ArrayList(u8) = .empty;
        defer hv.deinit(gpa);
        try putVarint(&hv, gpa, props_handle.offset);
        try putVarint(&hv, gpa, props_handle.size);
        try meta.add(gpa, "rocksdb.properties", hv.items);
        if (range_handle) |h| {
            hv.clearRetainingCapacity();
            try putVarint(&hv, gpa, h.offset);
            try putVarint(&hv, gpa, h.size);
            try meta.add(gpa, "rocksdb.range_del", hv.items);
        }
        const meta_handle = try self.writeBlock(&meta);
        // Footer: checksum type, two handles, padding to 40 bytes, version, magic.
        const footer_start = self.file.items.len;
        try self.file.append(gpa, 1);
        try putVarint(&self.file, gpa, meta_handle.offset);
        try putVarint(&self.file, gpa, meta_handle.size);
        try putVarint(&self.file, gpa, index_handle.offset);
        try putVarint(&self.file, gpa, index_handle.size);
        while (self.file.items.len < footer_start + 41) try self.file.append(gpa, 0);
        try putFixed32(&self.file, gpa, 5);
        var m: [8]u8 = undefined;
        std.mem.writeInt(u64, &m, table_magic, .little);
        try self.file.appendSlice(gpa, &m);
        if (self.stats.smallest_seq == std.math.maxInt(u64)) self.stats.smallest_seq = 0;
        self.built = true;
    }

    /// The flush rules for one user key's versions (newest first).
    fn flushKey(self: *SstBuilder, versions: []*Node, frags: []?*mt_mod.Fragments, emit: anytype) !void {
        var last_stripe: ?usize = null;
        var i: usize = 0;
        while (i < versions.len) {
            const v = versions[i];
            const st = self.stripe(v.key().sequence());
            if ((last_stripe != null and last_stripe.? == st) or self.covered(v, frags)) {
                i += 1;
                continue;
            }
            last_stripe = st;
            try emit.entry(v);
            i += 1;
            if (v.key().valueType() != @backingInt(limits.ValueType.merge)) continue;
            // Operands are kept: so are the ones below in the stripe, and what ends them.
            while (i < versions.len) {
                const w = versions[i];
                if (self.stripe(w.key().sequence()) != st or self.covered(w, frags)) break;
                try emit.entry(w);
                i += 1;
                if (w.key().valueType() != @backingInt(limits.ValueType.merge)) break;
            }
        }
    }

    /// Whether a tombstone of `v`'s stripe (in any of the memtables) covers it.
    fn covered(self: *const SstBuilder, v: *Node, frags: []?*mt_mod.Fragments) bool {
        const k = v.key();
        const seq = k.sequence();
        const ceil = self.ceiling(seq);
        for (frags) |f| {
            const fr = f orelse continue;
            if (fr.maxCovering(k.user_key, ceil) > seq) return true;
        }
        return false;
    }

    fn writeBlock(self: *SstBuilder, b: *BlockBuilder) !Handle {
        const gpa = self.gpa;
        const start = self.file.items.len;
        try b.finish(gpa, &self.file);
        const size = self.file.items.len - start;
        try self.file.append(gpa, 0);
        const crc = mask(crc32c(self.file.items[start .. start + size + 1]));
        try putFixed32(&self.file, gpa, crc);
        return .{ .offset = start, .size = size };
    }

    const Tomb = struct { ikey: []const u8, end: []const u8 };

    fn lessTomb(_: void, a: Tomb, b: Tomb) bool {
        return coding.compareKeys(splitIkey(a.ikey), splitIkey(b.ikey)) == .lt;
    }

    fn splitIkey(ikey: []const u8) coding.Key {
        return .{ .user_key = ikey[0 .. ikey.len - 8], .trailer = std.mem.readInt(u64, ikey[ikey.len - 8 ..][0..8], .little) };
    }

    /// Every memtable's range tombstones, sorted, each once: the range-deletion block.
    fn writeTombstones(self: *SstBuilder) error{ OutOfMemory, Corruption }!?Handle {
        const gpa = self.gpa;
        var tombs: std.ArrayList(Tomb) = .empty;
        defer tombs.deinit(gpa);
        for (self.memtables.items) |m| {
            var node = m.range_del.head.next(0);
            while (node) |x| : (node = x.next(0)) {
                if (!coding.verifyProtection(x.entry(), m.protectionBytes())) return error.Corruption;
                const e = coding.decodeEntry(x.entry());
                const ikey: []const u8 = @as([*]const u8, @ptrCast(e.key.user_key.ptr))[0 .. e.key.user_key.len + 8];
                try tombs.append(gpa, .{ .ikey = ikey, .end = e.value });
            }
        }
        if (tombs.items.len == 0) return null;
        std.mem.sort(Tomb, tombs.items, {}, lessTomb);
        var b: BlockBuilder = .{ .interval = 1 };
        defer b.deinit(gpa);
        var prev: ?[]const u8 = null;
        for (tombs.items) |t| {
            if (prev) |p| if (std.mem.eql(u8, p, t.ikey)) continue;
            prev = t.ikey;
            try b.add(gpa, t.ikey, t.end);
            const s = &self.stats;
            s.range_tombstones += 1;
            s.deleted_keys += 1;
            s.raw_key_size += t.ikey.len;
            s.raw_value_size += t.end.len;
            const seq = splitIkey(t.ikey).sequence();
            s.smallest_seq = @min(s.smallest_seq, seq);
            s.largest_seq = @max(s.largest_seq, seq);
        }
        return try self.writeBlock(&b);
    }

    fn writeProperties(self: *SstBuilder) !Handle {
        const gpa = self.gpa;
        const s = self.stats;
        const Prop = struct { name: []const u8, num: ?u64 = null, str: []const u8 = "" };
        // Sorted by name (bytewise), as a block requires.
        const props = [_]Prop{
            .{ .name = "rocksdb.column.family.id", .num = 0 },
            .{ .name = "rocksdb.column.family.name", .str = "default" },
            .{ .name = "rocksdb.comparator", .str = "leveldb.BytewiseComparator" },
            .{ .name = "rocksdb.compression", .str = "NoCompression" },
            .{ .name = "rocksdb.creating.db.identity", .str = "memtable" },
            .{ .name = "rocksdb.data.size", .num = s.data_size },
            .{ .name = "rocksdb.deleted.keys", .num = s.deleted_keys },
            .{ .name = "rocksdb.filter.size", .num = 0 },
            .{ .name = "rocksdb.format.version", .num = 0 },
            .{ .name = "rocksdb.index.key.is.user.key", .num = 0 },
            .{ .name = "rocksdb.index.size", .num = s.index_size },
            .{ .name = "rocksdb.index.value.is.delta.encoded", .num = 0 },
            .{ .name = "rocksdb.merge.operands", .num = s.merge_operands },
            .{ .name = "rocksdb.num.data.blocks", .num = s.data_blocks },
            .{ .name = "rocksdb.num.entries", .num = s.output_entries + s.range_tombstones },
            .{ .name = "rocksdb.num.range-deletions", .num = s.range_tombstones },
            .{ .name = "rocksdb.raw.key.size", .num = s.raw_key_size },
            .{ .name = "rocksdb.raw.value.size", .num = s.raw_value_size },
        };
        var b: BlockBuilder = .{ .interval = 1 };
        defer b.deinit(gpa);
        var v: std.ArrayList(u8) = .empty;
        defer v.deinit(gpa);
        for (props) |p| {
            v.clearRetainingCapacity();
            if (p.num) |x| try putVarint(&v, gpa, x) else try v.appendSlice(gpa, p.str);
            try b.add(gpa, p.name, v.items);
        }
        return self.writeBlock(&b);
    }
};

const testing = std.testing;

test "the native flush keeps the newest version per stripe and writes a readable layout" {
    const mt = try MemTable.create(.{ .write_buffer_size = 1 << 20 });
    defer _ = mt.unref();
    try mt.add(1, .value, "a", "a1");
    try mt.add(5, .value, "a", "a5");
    try mt.add(2, .merge, "b", "m2");
    try mt.add(3, .merge, "b", "m3");
    try mt.add(1, .value, "b", "b1");
    try mt.add(4, .value, "c", "c4");
    try mt.addRangeDeletion(6, "c", "d");
    const b = try SstBuilder.create(4096, 16);
    defer b.destroy();
    try b.addMemTable(mt);
    try b.snapshots.append(b.gpa, 2); // a reader at seq 2 sees a1 and m2 over b1
    try b.build();
    // a5, a1 | b: m3 (stripe 1), m2 + b1 (stripe 0) | c4 covered by the tombstone at 6: dropped.
    try testing.expectEqual(@as(u64, 5), b.stats.output_entries);
    try testing.expectEqual(@as(u64, 7 - 1), b.stats.input_entries);
    try testing.expectEqual(@as(u64, 1), b.stats.range_tombstones);
    try testing.expectEqual(@as(u64, 1), b.stats.smallest_seq);
    try testing.expectEqual(@as(u64, 6), b.stats.largest_seq);
    const f = b.file.items;
    try testing.expectEqual(table_magic, std.mem.readInt(u64, f[f.len - 8 ..][0..8], .little));
    // The first data block (contents, a zero compression byte, the masked CRC) checks out.
    var n: usize = 1;
    const found = while (n + trailer_len <= f.len) : (n += 1) {
        if (f[n] == 0 and std.mem.readInt(u32, f[n + 1 ..][0..4], .little) == mask(crc32c(f[0 .. n + 1]))) break true;
    } else false;
    try testing.expect(found);
}
