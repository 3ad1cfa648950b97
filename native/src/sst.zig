//! The flush job natively: immutable memtables (newest first) become the bytes of one SST file
//! in RocksDB's block-based format (format version 5, CRC32c block checksums, no compression).
//! This is the reference for the flush rules; `src/flush/flush_job.ts` repeats them only to run
//! a user's own merge operator, and `tests/flush.test.ts` checks that both write the same bytes.
//!
//! Per user key, what a reader can still see is kept (RocksDB's compaction rules for a flush):
//! - Live snapshots cut a key's versions into stripes (versions visible to the same snapshots);
//!   only the newest version of each stripe is kept.
//! - A version a range tombstone of its stripe covers is dropped; every tombstone is kept, and
//!   so are deletions (they may hide data in older files).
//! - A merge run (the operands of one stripe) is folded with the built-in operator set by
//!   `setMergeOperator` (`merge_operator.zig`): onto the Value, deletion or covered version
//!   that ends it in the stripe (`fullMerge`, a Value at the newest operand's sequence number),
//!   or — when it reaches past the stripe or these memtables — into one Merge operand
//!   (`partialMerge`). Without an operator the operands and what ends them are kept as they are.
//!
//! With `millibits_per_key` set, the file has RocksDB's full bloom filter over the user keys
//! written (filter.zig), after the data blocks, with RocksDB's filter properties.
//!
//! Entries are copied straight from the skiplist nodes into the data blocks: the internal key
//! of a memtable entry is already the key an SST stores. Blocks are cut as RocksDB's
//! `BlockBuilder::CurrentSizeEstimate` (and the TypeScript TableBuilder) measure them. Runs on
//! whichever thread calls it; it only reads the memtables (which must be immutable: no writer
//! may add to them meanwhile).
const std = @import("std");
const limits = @import("limits.zig");
const coding = @import("coding.zig");
const arena_mod = @import("arena.zig");
const skiplist = @import("rep/skiplist.zig");
const flush_walk = @import("flush_walk.zig");
const mt_mod = @import("memtable/memtable.zig");

const merge_operator = @import("merge_operator.zig");
const filter_mod = @import("filter.zig");

const MemTable = mt_mod.MemTable;
const MergeOperator = merge_operator.MergeOperator;
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

    /// The block's size if it ended now: entries, the restart array (the first restart is
    /// there from the start, as in RocksDB's `BlockBuilder::CurrentSizeEstimate` and the
    /// TypeScript TableBuilder, so both cut blocks at the same entries) and its count.
    fn estimate(self: *const BlockBuilder) usize {
        return self.buf.items.len + 4 * @max(self.restarts.items.len, 1) + 4;
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
    /// The filter block's bytes (its trailer not included) and its distinct keys; 0 without.
    filter_size: u64 = 0,
    filter_entries: u64 = 0,
};

/// What `build` fills: the data and index blocks, and the scratch space of merge folds.
pub const Output = struct {
    data: BlockBuilder,
    index: BlockBuilder = .{ .interval = 1 },
    /// The internal key of the last entry written (the index separator of its block).
    last_key: std.ArrayList(u8) = .empty,
    /// A fold's operands (oldest first, slices of the memtables' nodes), its internal key and
    /// its value.
    operands: std.ArrayList([]const u8) = .empty,
    folded_key: std.ArrayList(u8) = .empty,
    folded_value: std.ArrayList(u8) = .empty,

    pub fn deinit(self: *Output, gpa: Allocator) void {
        self.data.deinit(gpa);
        self.index.deinit(gpa);
        self.last_key.deinit(gpa);
        self.operands.deinit(gpa);
        self.folded_key.deinit(gpa);
        self.folded_value.deinit(gpa);
    }
};

fn isMerge(node: *Node) bool {
    return node.key().valueType() == @backingInt(limits.ValueType.merge);
}

/// The internal key of a node's entry: already the key an SST stores.
fn internalKeyOf(node: *Node) []const u8 {
    const k = coding.decodeEntry(node.entry()).key;
    return k.user_key.ptr[0 .. k.user_key.len + coding.trailer_size];
}

fn valueOf(node: *Node) []const u8 {
    return coding.decodeEntry(node.entry()).value;
}

pub const SstBuilder = struct {
    magic: u64 = builder_magic,
    gpa: Allocator,
    memtables: std.ArrayList(*MemTable) = .empty,
    snapshots: std.ArrayList(u64) = .empty,
    /// Folds merge runs (`.none`: operands are kept as they are).
    merge: MergeOperator = .{ .kind = .none },
    block_size: u32,
    restart_interval: u32,
    /// The bloom filter of the user keys written (null: the file has none).
    filter: ?filter_mod.Builder,
    file: std.ArrayList(u8) = .empty,
    stats: Stats = .{},
    smallest_key: std.ArrayList(u8) = .empty,
    largest_key: std.ArrayList(u8) = .empty,
    built: bool = false,
    /// Range tombstones of a `table_writer.zig` table (owned copies), written with the memtables'.
    added_tombstones: std.ArrayList(Tomb) = .empty,

    /// `millibits_per_key`: the filter's thousandths of a bit per key (0: no filter).
    pub fn create(block_size: u32, restart_interval: u32, millibits_per_key: u32) error{OutOfMemory}!*SstBuilder {
        std.debug.assert(block_size >= 1);
        std.debug.assert(restart_interval >= 1);
        std.debug.assert(millibits_per_key == 0 or millibits_per_key >= filter_mod.millibits_per_key_min);
        const self = try arena_mod.allocTracked(SstBuilder);
        self.* = .{
            .gpa = arena_mod.backing_allocator,
            .block_size = block_size,
            .restart_interval = restart_interval,
            .filter = if (millibits_per_key == 0) null else filter_mod.Builder.init(millibits_per_key),
        };
        return self;
    }

    pub fn destroy(self: *SstBuilder) void {
        for (self.memtables.items) |m| _ = m.unref();
        self.memtables.deinit(self.gpa);
        self.snapshots.deinit(self.gpa);
        self.merge.deinit(self.gpa);
        self.file.deinit(self.gpa);
        self.smallest_key.deinit(self.gpa);
        self.largest_key.deinit(self.gpa);
        for (self.added_tombstones.items) |t| {
            self.gpa.free(t.ikey);
            self.gpa.free(t.end);
        }
        self.added_tombstones.deinit(self.gpa);
        if (self.filter) |*f| f.deinit(self.gpa);
        self.magic = 0;
        arena_mod.destroyTracked(self);
    }

    /// Adds the next memtable (newest first); holds a reference to it.
    pub fn addMemTable(self: *SstBuilder, mt: *MemTable) error{OutOfMemory}!void {
        std.debug.assert(!self.built);
        try self.memtables.append(self.gpa, mt);
        _ = mt.ref();
    }

    /// Folds merge runs with the built-in operator `kind` (`delimiter`: `string_append`'s).
    /// `error.Invalid` as `MergeOperator.init` says; the operator set before stays then.
    pub fn setMergeOperator(self: *SstBuilder, kind: merge_operator.Kind, delimiter: []const u8) error{ OutOfMemory, Invalid }!void {
        std.debug.assert(!self.built);
        const op = try MergeOperator.init(self.gpa, kind, delimiter);
        self.merge.deinit(self.gpa);
        self.merge = op;
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
        const frags = try gpa.alloc(?*mt_mod.Fragments, self.memtables.items.len);
        defer gpa.free(frags);
        @memset(frags, null);
        defer for (frags) |f| if (f) |x| x.release();
        for (self.memtables.items, 0..) |m, i| frags[i] = try m.acquireFragments();

        var out: Output = .{ .data = .{ .interval = self.restart_interval } };
        defer out.deinit(gpa);
        try self.writePoints(&out, frags);
        if (out.data.entries > 0) try self.flushBlock(&out);
        try self.finishFile(&out.index);
        if (self.stats.smallest_seq == std.math.maxInt(u64)) self.stats.smallest_seq = 0;
        std.debug.assert(self.stats.output_entries <= self.stats.input_entries);
        self.built = true;
    }

    /// The point entries of all memtables merged in internal-key order (an entry equal to one
    /// already seen, the same write in an older memtable, is skipped), each user key's versions
    /// handed to `flushKey`.
    fn writePoints(self: *SstBuilder, out: *Output, frags: []?*mt_mod.Fragments) error{ OutOfMemory, Corruption }!void {
        const gpa = self.gpa;
        const walks = try gpa.alloc(flush_walk.Walk, self.memtables.items.len);
        defer gpa.free(walks);
        var made: usize = 0;
        defer for (walks[0..made]) |*w| w.close(gpa);
        for (self.memtables.items) |m| {
            walks[made] = try flush_walk.Walk.open(gpa, m);
            made += 1;
        }
        var group: std.ArrayList(*Node) = .empty;
        defer group.deinit(gpa);
        var prev: ?*Node = null;
        while (true) {
            var best: ?usize = null;
            for (walks, 0..) |w, i| {
                const n = w.node() orelse continue;
                if (best == null or coding.compareKeys(n.key(), walks[best.?].node().?.key()) == .lt) best = i;
            }
            const b = best orelse break;
            const node = walks[b].node().?;
            if (!coding.verifyProtection(node.entry(), self.memtables.items[b].protectionBytes())) return error.Corruption;
            walks[b].next();
            if (prev) |p| {
                if (coding.compareKeys(p.key(), node.key()) == .eq) continue;
            }
            prev = node;
            self.stats.input_entries += 1;
            if (group.items.len > 0 and !std.mem.eql(u8, group.items[0].key().user_key, node.key().user_key)) {
                try self.flushKey(out, group.items, frags);
                group.clearRetainingCapacity();
            }
            try group.append(gpa, node);
        }
        if (group.items.len > 0) try self.flushKey(out, group.items, frags);
    }

    /// The flush rules for one user key's versions (newest first): per live-snapshot stripe
    /// the newest version not covered by a tombstone of its stripe; a merge run with what
    /// ends it goes to `flushRun`.
    fn flushKey(self: *SstBuilder, out: *Output, versions: []*Node, frags: []?*mt_mod.Fragments) !void {
        var last_stripe: ?usize = null;
        var i: usize = 0;
        while (i < versions.len) {
            const v = versions[i];
            const st = self.stripe(v.key().sequence());
            if ((last_stripe != null and last_stripe.? == st) or self.covered(v, frags)) {
                i += 1;
                continue; // hidden by a newer version or a tombstone of its stripe
            }
            last_stripe = st;
            if (!isMerge(v)) {
                try self.emit(out, internalKeyOf(v), valueOf(v));
                i += 1;
                continue;
            }
            // A run of operands in this stripe, and what ends it in the stripe (if anything).
            var j = i;
            while (j < versions.len and isMerge(versions[j]) and
                self.stripe(versions[j].key().sequence()) == st and !self.covered(versions[j], frags)) j += 1;
            const below: ?*Node = if (j < versions.len and self.stripe(versions[j].key().sequence()) == st) versions[j] else null;
            const took_below = try self.flushRun(out, versions[i..j], below, frags);
            i = j + @intFromBool(took_below);
        }
    }

    /// Writes a merge run (newest first, one stripe, not covered) and returns whether `below`
    /// — the version that ends the run in its stripe — was used up with it. With an operator:
    /// folded onto `below` (`fullMerge`: its value if a Value no tombstone covers, else
    /// nothing) into a Value at the newest operand's sequence number; without `below` (the run
    /// reaches past the stripe or these memtables) two or more operands become one (a Merge,
    /// `partialMerge`). Without an operator the operands and `below` are kept as they are.
    fn flushRun(self: *SstBuilder, out: *Output, run: []*Node, below: ?*Node, frags: []?*mt_mod.Fragments) !bool {
        std.debug.assert(run.len > 0);
        const gpa = self.gpa;
        if (!self.merge.folds() or (below == null and run.len == 1)) {
            for (run) |w| try self.emit(out, internalKeyOf(w), valueOf(w));
            const b = below orelse return false;
            if (!self.covered(b, frags)) try self.emit(out, internalKeyOf(b), valueOf(b));
            return true;
        }
        out.operands.clearRetainingCapacity();
        var k = run.len;
        while (k > 0) {
            k -= 1;
            try out.operands.append(gpa, valueOf(run[k]));
        }
        out.folded_value.clearRetainingCapacity();
        var result_type = limits.ValueType.merge;
        if (below) |b| {
            const is_value = b.key().valueType() == @backingInt(limits.ValueType.value);
            const base: ?[]const u8 = if (is_value and !self.covered(b, frags)) valueOf(b) else null;
            try self.merge.fullMerge(gpa, base, out.operands.items, &out.folded_value);
            result_type = .value;
        } else {
            try self.merge.partialMerge(gpa, out.operands.items, &out.folded_value);
        }
        const newest = run[0].key();
        out.folded_key.clearRetainingCapacity();
        try out.folded_key.appendSlice(gpa, newest.user_key);
        var trailer: [coding.trailer_size]u8 = undefined;
        std.mem.writeInt(u64, &trailer, coding.packTrailer(newest.sequence(), @backingInt(result_type)), .little);
        try out.folded_key.appendSlice(gpa, &trailer);
        try self.emit(out, out.folded_key.items, out.folded_value.items);
        return below != null;
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

    /// Adds an entry to the data block (cut first when it is full) and counts it.
    pub fn emit(self: *SstBuilder, out: *Output, ikey: []const u8, value: []const u8) !void {
        std.debug.assert(ikey.len >= coding.trailer_size);
        const gpa = self.gpa;
        if (out.data.entries > 0 and out.data.estimate() >= self.block_size) try self.flushBlock(out);
        try out.data.add(gpa, ikey, value);
        out.last_key.clearRetainingCapacity();
        try out.last_key.appendSlice(gpa, ikey);
        const key = splitIkey(ikey);
        if (self.filter) |*f| try f.addKey(gpa, key.user_key);
        const s = &self.stats;
        s.output_entries += 1;
        const t = key.valueType();
        if (t == @backingInt(limits.ValueType.deletion) or t == @backingInt(limits.ValueType.single_deletion)) s.deleted_keys += 1;
        if (t == @backingInt(limits.ValueType.merge)) s.merge_operands += 1;
        s.raw_key_size += ikey.len;
        s.raw_value_size += value.len;
        s.smallest_seq = @min(s.smallest_seq, key.sequence());
        s.largest_seq = @max(s.largest_seq, key.sequence());
        if (s.output_entries == 1) try self.smallest_key.appendSlice(gpa, key.user_key);
        self.largest_key.clearRetainingCapacity();
        try self.largest_key.appendSlice(gpa, key.user_key);
    }

    /// Ends the data block and adds its index entry (its last key, its handle).
    pub fn flushBlock(self: *SstBuilder, out: *Output) !void {
        std.debug.assert(out.data.entries > 0);
        const gpa = self.gpa;
        const h = try self.writeBlock(&out.data);
        self.stats.data_size += h.size + trailer_len;
        self.stats.data_blocks += 1;
        var hv: std.ArrayList(u8) = .empty;
        defer hv.deinit(gpa);
        try putVarint(&hv, gpa, h.offset);
        try putVarint(&hv, gpa, h.size);
        try out.index.add(gpa, out.last_key.items, hv.items);
    }

    /// After the data blocks: the filter, the index, the range-deletion block, the properties,
    /// the metaindex and the footer (RocksDB's order).
    pub fn finishFile(self: *SstBuilder, index: *BlockBuilder) error{ OutOfMemory, Corruption }!void {
        const gpa = self.gpa;
        const filter_handle = try self.writeFilter();
        const index_handle = try self.writeBlock(index);
        self.stats.index_size = index_handle.size + trailer_len;
        const range_handle = try self.writeTombstones();
        const props_handle = try self.writeProperties();
        var meta: BlockBuilder = .{ .interval = 1 };
        defer meta.deinit(gpa);
        var hv: std.ArrayList(u8) = .empty;
        defer hv.deinit(gpa);
        if (filter_handle) |h| { // the names in bytewise order: "fullfilter." first
            try putVarint(&hv, gpa, h.offset);
            try putVarint(&hv, gpa, h.size);
            try meta.add(gpa, filter_mod.meta_name, hv.items);
            hv.clearRetainingCapacity();
        }
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
        std.debug.assert(self.file.items.len == footer_start + 53);
    }

    fn writeBlock(self: *SstBuilder, b: *BlockBuilder) !Handle {
        const start = self.file.items.len;
        try b.finish(self.gpa, &self.file);
        return self.endBlock(start);
    }

    /// Adds the trailer of the block written from `start` (no compression, a masked CRC32c).
    fn endBlock(self: *SstBuilder, start: usize) !Handle {
        const gpa = self.gpa;
        const size = self.file.items.len - start;
        try self.file.append(gpa, 0);
        const crc = mask(crc32c(self.file.items[start .. start + size + 1]));
        try putFixed32(&self.file, gpa, crc);
        return .{ .offset = start, .size = size };
    }

    /// The filter block, when the file has a filter and a key went into it (RocksDB writes no
    /// filter for a file of range tombstones alone).
    fn writeFilter(self: *SstBuilder) !?Handle {
        const f = if (self.filter) |*x| x else return null;
        if (f.entries() == 0) return null;
        const start = self.file.items.len;
        try f.finish(self.gpa, &self.file);
        self.stats.filter_size = self.file.items.len - start;
        self.stats.filter_entries = f.entries();
        return try self.endBlock(start);
    }

    pub const Tomb = struct { ikey: []const u8, end: []const u8 };

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
        try tombs.appendSlice(gpa, self.added_tombstones.items);
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
        // `filter`: only in a file with a filter block.
        const Prop = struct { name: []const u8, num: ?u64 = null, str: []const u8 = "", filter: bool = false };
        // Sorted by name (bytewise), as a block requires.
        const props = [_]Prop{
            .{ .name = "rocksdb.block.based.table.prefix.filtering", .str = "0", .filter = true },
            .{ .name = "rocksdb.block.based.table.whole.key.filtering", .str = "1", .filter = true },
            .{ .name = "rocksdb.column.family.id", .num = 0 },
            .{ .name = "rocksdb.column.family.name", .str = "default" },
            .{ .name = "rocksdb.comparator", .str = "leveldb.BytewiseComparator" },
            .{ .name = "rocksdb.compression", .str = "NoCompression" },
            .{ .name = "rocksdb.creating.db.identity", .str = "memtable" },
            .{ .name = "rocksdb.data.size", .num = s.data_size },
            .{ .name = "rocksdb.deleted.keys", .num = s.deleted_keys },
            .{ .name = "rocksdb.filter.policy", .str = filter_mod.policy_name, .filter = true },
            .{ .name = "rocksdb.filter.size", .num = s.filter_size },
            .{ .name = "rocksdb.format.version", .num = 0 },
            .{ .name = "rocksdb.index.key.is.user.key", .num = 0 },
            .{ .name = "rocksdb.index.size", .num = s.index_size },
            .{ .name = "rocksdb.index.value.is.delta.encoded", .num = 0 },
            .{ .name = "rocksdb.merge.operands", .num = s.merge_operands },
            .{ .name = "rocksdb.num.data.blocks", .num = s.data_blocks },
            .{ .name = "rocksdb.num.entries", .num = s.output_entries + s.range_tombstones },
            .{ .name = "rocksdb.num.filter_entries", .num = s.filter_entries, .filter = true },
            .{ .name = "rocksdb.num.range-deletions", .num = s.range_tombstones },
            .{ .name = "rocksdb.raw.key.size", .num = s.raw_key_size },
            .{ .name = "rocksdb.raw.value.size", .num = s.raw_value_size },
        };
        var b: BlockBuilder = .{ .interval = 1 };
        defer b.deinit(gpa);
        var v: std.ArrayList(u8) = .empty;
        defer v.deinit(gpa);
        for (props) |p| {
            if (p.filter and s.filter_size == 0) continue;
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
    const b = try SstBuilder.create(4096, 16, 0);
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

test "the native flush folds merge runs with a built-in operator: full merges onto what ends them, partial merges past the stripe" {
    const mt = try MemTable.create(.{ .write_buffer_size = 1 << 20 });
    defer _ = mt.unref();
    try mt.add(1, .value, "a", "x");
    try mt.add(2, .merge, "a", "y");
    try mt.add(3, .merge, "a", "z"); // a: x,y,z → one Value at 3
    try mt.add(4, .merge, "b", "p");
    try mt.add(5, .merge, "b", "q"); // b: no base in these memtables → one Merge "p,q" at 5
    try mt.add(6, .deletion, "c", "");
    try mt.add(7, .merge, "c", "r"); // c: onto the deletion → Value "r" at 7
    try mt.add(8, .value, "d", "old");
    try mt.addRangeDeletion(9, "d", "e");
    try mt.add(10, .merge, "d", "s"); // d: onto a covered Value → Value "s" at 10
    try mt.add(11, .merge, "e", "t"); // e: one operand, nothing below → kept as it is
    mt.markImmutable();
    const b = try SstBuilder.create(4096, 16, 0);
    defer b.destroy();
    try b.addMemTable(mt);
    try b.setMergeOperator(.string_append, ",");
    try testing.expectError(error.Invalid, b.setMergeOperator(.max, ","));
    try testing.expectEqual(merge_operator.Kind.string_append, b.merge.kind);
    try b.build();
    try testing.expectEqual(@as(u64, 10), b.stats.input_entries); // the tombstone is not a point entry
    try testing.expectEqual(@as(u64, 5), b.stats.output_entries);
    try testing.expectEqual(@as(u64, 2), b.stats.merge_operands); // "p,q" and "t"
    try testing.expectEqual(@as(u64, 0), b.stats.deleted_keys - b.stats.range_tombstones);
    const f = b.file.items;
    for ([_][]const u8{ "x,y,z", "p,q", "r", "s", "t" }) |want| {
        try testing.expect(std.mem.indexOf(u8, f, want) != null);
    }
    try testing.expect(std.mem.indexOf(u8, f, "old") == null);
}

test "the native flush writes a bloom filter of its user keys, after the data blocks" {
    const mt = try MemTable.create(.{ .write_buffer_size = 1 << 20 });
    defer _ = mt.unref();
    try mt.add(1, .value, "a", "a1");
    try mt.add(2, .value, "a", "a2");
    try mt.add(3, .deletion, "b", "");
    try mt.addRangeDeletion(4, "x", "z");
    const b = try SstBuilder.create(4096, 16, 10_000);
    defer b.destroy();
    try b.addMemTable(mt);
    try b.snapshots.append(b.gpa, 1); // both versions of "a" stay: one filter entry
    try b.build();
    try testing.expectEqual(@as(u64, 3), b.stats.output_entries);
    try testing.expectEqual(@as(u64, 2), b.stats.filter_entries);
    try testing.expectEqual(filter_mod.filterLen(2, 10_000), b.stats.filter_size);
    const f = b.file.items;
    const block = f[b.stats.data_size..][0..b.stats.filter_size];
    const r = filter_mod.Reader.init(block);
    try testing.expect(r == .bloom);
    try testing.expect(r.mayMatch("a") and r.mayMatch("b"));
    try testing.expect(std.mem.indexOf(u8, f, filter_mod.meta_name) != null);
    try testing.expect(std.mem.indexOf(u8, f, "rocksdb.num.filter_entries") != null);
}

test {
    _ = merge_operator;
}
