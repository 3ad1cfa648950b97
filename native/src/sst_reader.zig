//! Reading SST files natively, for the compaction job (`compaction.zig`): RocksDB's
//! block-based format as the flush writes it (`sst.zig`; `/work`'s SST_FORMAT notes and
//! `src/table/table_reader.ts` describe it) — format versions 1 to 5, CRC32c block checksums,
//! uncompressed blocks, an index block of internal-key separators and plain block handles, and
//! the range-deletion meta block. Every block's checksum is verified before it is read.
//!
//! What this reader does not read (compressed blocks, XXH3 checksums, delta-encoded or
//! user-key indexes, ingested files with a global sequence number) it refuses with
//! `error.Unsupported`; the TypeScript reader reads those, and the caller decides beforehand
//! which job runs. A damaged file is `error.Corruption`.
//!
//! No descriptor stays open: a table is opened, read and closed for each read (a data cursor
//! reads ahead `chunk_size` bytes at a time), so a compaction of many files holds at most one
//! descriptor at a time, whatever the store's `maxOpenFiles`. Linux only (`error.Unsupported`
//! elsewhere, as the write-ahead log). A `Table` is used by one thread at a time.
const std = @import("std");
const builtin = @import("builtin");
const coding = @import("coding.zig");
const sst = @import("sst.zig");
const limits = @import("limits.zig");

const Allocator = std.mem.Allocator;
const linux = std.os.linux;

pub const Error = error{ OutOfMemory, Corruption, Io, Unsupported };

pub const footer_size = 53;
const trailer_len = 5;
const table_magic: u64 = 0x88E241B785F4CFF7;
const checksum_crc32c: u8 = 1;

/// A data cursor reads this many bytes at a time (or one block, when a block is larger):
/// one open and one read per MiB keeps the system calls out of the job's time.
pub const chunk_size: usize = 1 << 20;

/// A path longer than this is refused (Linux's PATH_MAX).
pub const path_size_max: usize = 4096;

pub const BlockHandle = struct { offset: u64, size: u64 };

/// A range tombstone [start, end) at `seq` (owned by its table).
pub const Tombstone = struct { start: []u8, end: []u8, seq: u64 };

/// The OS error of the last failed read on this thread (for the caller's report).
pub threadlocal var last_os_error: u32 = 0;

fn readVarint(buf: []const u8, pos: *usize) error{Corruption}!u64 {
    var v: u64 = 0;
    var shift: u7 = 0;
    while (pos.* < buf.len) {
        const b = buf[pos.*];
        pos.* += 1;
        if (shift >= 64) return error.Corruption;
        v |= @as(u64, b & 0x7f) << @intCast(shift);
        if (b < 0x80) return v;
        shift += 7;
    }
    return error.Corruption;
}

fn readHandle(buf: []const u8, pos: *usize) error{Corruption}!BlockHandle {
    const offset = try readVarint(buf, pos);
    const size = try readVarint(buf, pos);
    return .{ .offset = offset, .size = size };
}

/// Reads `dst.len` bytes at `offset` of the file `path` (opened and closed here).
fn readAt(path: [:0]const u8, offset: u64, dst: []u8) Error!void {
    if (builtin.os.tag != .linux) return error.Unsupported;
    const rc = linux.open(path, .{ .ACCMODE = .RDONLY, .CLOEXEC = true }, 0);
    if (linux.errno(rc) != .SUCCESS) return ioFailed(linux.errno(rc));
    const fd: i32 = @intCast(rc);
    defer _ = linux.close(fd);
    var done: usize = 0;
    while (done < dst.len) {
        const n = linux.pread(fd, dst.ptr + done, dst.len - done, @intCast(offset + done));
        switch (linux.errno(n)) {
            .SUCCESS => {},
            .INTR => continue,
            else => |e| return ioFailed(e),
        }
        if (n == 0) return error.Corruption; // the file is shorter than its footer says
        done += n;
    }
}

fn fileSize(path: [:0]const u8) Error!u64 {
    if (builtin.os.tag != .linux) return error.Unsupported;
    const rc = linux.open(path, .{ .ACCMODE = .RDONLY, .CLOEXEC = true }, 0);
    if (linux.errno(rc) != .SUCCESS) return ioFailed(linux.errno(rc));
    const fd: i32 = @intCast(rc);
    defer _ = linux.close(fd);
    const end = linux.lseek(fd, 0, std.posix.SEEK.END);
    if (linux.errno(end) != .SUCCESS) return ioFailed(linux.errno(end));
    return end;
}

/// Whether the block at `h` and its trailer end by `data_end` (where the footer begins).
fn fits(h: BlockHandle, data_end: u64) bool {
    return h.size <= data_end and h.size + trailer_len <= data_end and h.offset <= data_end - (h.size + trailer_len);
}

fn ioFailed(e: linux.E) Error {
    last_os_error = @backingInt(e);
    return if (e == .NOMEM) error.OutOfMemory else error.Io;
}

/// The contents of the block at `h` within `raw` (the block and its trailer), its checksum
/// verified; `error.Unsupported` for a compressed block.
pub fn verifiedContents(raw: []const u8, h: BlockHandle) Error![]const u8 {
    std.debug.assert(raw.len == h.size + trailer_len);
    const size: usize = @intCast(h.size);
    const stored = std.mem.readInt(u32, raw[size + 1 ..][0..4], .little);
    const crc = sst.crc32c(raw[0 .. size + 1]);
    if (stored != ((crc >> 15) | (crc << 17)) +% 0xA282EAD8) return error.Corruption;
    if (raw[size] != 0) return error.Unsupported;
    return raw[0..size];
}

/// A block's entries, in order: keys rebuilt from their shared prefixes into `key`.
pub const BlockCursor = struct {
    contents: []const u8 = &.{},
    /// Where the entries end (the restart array begins).
    limit: usize = 0,
    pos: usize = 0,
    key: std.ArrayList(u8) = .empty,
    value: []const u8 = &.{},

    pub fn deinit(self: *BlockCursor, gpa: Allocator) void {
        self.key.deinit(gpa);
    }

    /// Starts at the first entry of `contents` (which must outlive the cursor's use).
    pub fn reset(self: *BlockCursor, contents: []const u8) error{Corruption}!void {
        if (contents.len < 4) return error.Corruption;
        const restarts = std.mem.readInt(u32, contents[contents.len - 4 ..][0..4], .little);
        if (restarts == 0 or @as(u64, restarts) * 4 + 4 > contents.len) return error.Corruption;
        self.contents = contents;
        self.limit = contents.len - 4 - @as(usize, restarts) * 4;
        self.pos = 0;
        self.key.clearRetainingCapacity();
    }

    /// Decodes the next entry into `key` and `value`; false at the block's end.
    pub fn next(self: *BlockCursor, gpa: Allocator) error{ Corruption, OutOfMemory }!bool {
        if (self.pos >= self.limit) return false;
        const c = self.contents[0..self.limit];
        const shared = try readVarint(c, &self.pos);
        const non_shared = try readVarint(c, &self.pos);
        const value_len = try readVarint(c, &self.pos);
        if (shared > self.key.items.len) return error.Corruption;
        if (non_shared > c.len - self.pos or value_len > c.len - self.pos - non_shared) return error.Corruption;
        const ns: usize = @intCast(non_shared);
        const vl: usize = @intCast(value_len);
        self.key.shrinkRetainingCapacity(@intCast(shared));
        try self.key.appendSlice(gpa, c[self.pos..][0..ns]);
        self.pos += ns;
        self.value = c[self.pos..][0..vl];
        self.pos += vl;
        return true;
    }
};

/// An input table: its path, its data blocks (from the index) and its range tombstones.
pub const Table = struct {
    path: [:0]u8,
    size: u64,
    blocks: []BlockHandle,
    tombstones: []Tombstone,

    /// Opens the table at `path` (UTF-8): reads and verifies the footer, the metaindex, the
    /// properties, the index and the range-deletion block; keeps no descriptor.
    pub fn open(gpa: Allocator, path: []const u8) Error!Table {
        if (path.len == 0 or path.len > path_size_max or std.mem.indexOfScalar(u8, path, 0) != null) return error.Io;
        const z = try gpa.allocSentinel(u8, path.len, 0);
        errdefer gpa.free(z);
        @memcpy(z, path);
        const size = try fileSize(z);
        if (size < footer_size) return error.Corruption;
        var footer: [footer_size]u8 = undefined;
        try readAt(z, size - footer_size, &footer);
        if (std.mem.readInt(u64, footer[45..53], .little) != table_magic) return error.Corruption;
        const version = std.mem.readInt(u32, footer[41..45], .little);
        if (version < 1 or version > 5) return error.Unsupported;
        if (footer[0] != checksum_crc32c) return error.Unsupported;
        var pos: usize = 1;
        const meta_h = try readHandle(&footer, &pos);
        const index_h = try readHandle(&footer, &pos);
        var self: Table = .{ .path = z, .size = size, .blocks = &.{}, .tombstones = &.{} };
        errdefer self.deinitParts(gpa);
        var range_h: ?BlockHandle = null;
        {
            const meta = try self.readBlock(gpa, meta_h);
            defer gpa.free(meta.raw);
            var cur: BlockCursor = .{};
            defer cur.deinit(gpa);
            try cur.reset(meta.contents);
            while (try cur.next(gpa)) {
                var p: usize = 0;
                if (std.mem.eql(u8, cur.key.items, "rocksdb.properties")) {
                    try self.checkProperties(gpa, try readHandle(cur.value, &p));
                } else if (std.mem.eql(u8, cur.key.items, "rocksdb.range_del")) {
                    range_h = try readHandle(cur.value, &p);
                }
            }
        }
        try self.readIndex(gpa, index_h);
        if (range_h) |h| try self.readTombstones(gpa, h);
        return self;
    }

    pub fn deinit(self: *Table, gpa: Allocator) void {
        self.deinitParts(gpa);
        gpa.free(self.path);
    }

    fn deinitParts(self: *Table, gpa: Allocator) void {
        gpa.free(self.blocks);
        for (self.tombstones) |t| {
            gpa.free(t.start);
            gpa.free(t.end);
        }
        gpa.free(self.tombstones);
        self.blocks = &.{};
        self.tombstones = &.{};
    }

    const Raw = struct { raw: []u8, contents: []const u8 };

    /// The block at `h`, read and verified (the caller frees `raw`).
    fn readBlock(self: *const Table, gpa: Allocator, h: BlockHandle) Error!Raw {
        if (!fits(h, self.size - footer_size)) return error.Corruption;
        const raw = try gpa.alloc(u8, @intCast(h.size + trailer_len));
        errdefer gpa.free(raw);
        try readAt(self.path, h.offset, raw);
        return .{ .raw = raw, .contents = try verifiedContents(raw, h) };
    }

    /// Reads `len` bytes at `offset` into `dst` (a data cursor's read-ahead).
    pub fn readInto(self: *const Table, offset: u64, dst: []u8) Error!void {
        if (offset + dst.len > self.size) return error.Corruption;
        try readAt(self.path, offset, dst);
    }

    /// Refuses what this reader does not read (see the module notes).
    fn checkProperties(self: *const Table, gpa: Allocator, h: BlockHandle) Error!void {
        const b = try self.readBlock(gpa, h);
        defer gpa.free(b.raw);
        var cur: BlockCursor = .{};
        defer cur.deinit(gpa);
        try cur.reset(b.contents);
        while (try cur.next(gpa)) {
            const k = cur.key.items;
            const v = cur.value;
            if (std.mem.eql(u8, k, "rocksdb.comparator")) {
                if (!std.mem.eql(u8, v, "leveldb.BytewiseComparator")) return error.Corruption;
            } else if (std.mem.eql(u8, k, "rocksdb.compression")) {
                if (!std.mem.eql(u8, v, "NoCompression")) return error.Unsupported;
            } else if (std.mem.eql(u8, k, "rocksdb.index.key.is.user.key") or
                std.mem.eql(u8, k, "rocksdb.index.value.is.delta.encoded"))
            {
                var p: usize = 0;
                if (try readVarint(v, &p) != 0) return error.Unsupported;
            } else if (std.mem.eql(u8, k, "rocksdb.external_sst_file.version")) {
                return error.Unsupported;
            } else if (std.mem.eql(u8, k, "rocksdb.block.based.table.index.type")) {
                if (v.len != 4 or std.mem.readInt(u32, v[0..4], .little) != 0) return error.Unsupported;
            }
        }
    }

    fn readIndex(self: *Table, gpa: Allocator, h: BlockHandle) Error!void {
        const b = try self.readBlock(gpa, h);
        defer gpa.free(b.raw);
        var cur: BlockCursor = .{};
        defer cur.deinit(gpa);
        try cur.reset(b.contents);
        var list: std.ArrayList(BlockHandle) = .empty;
        errdefer list.deinit(gpa);
        const data_end = self.size - footer_size;
        while (try cur.next(gpa)) {
            var p: usize = 0;
            const bh = try readHandle(cur.value, &p);
            if (!fits(bh, data_end)) return error.Corruption;
            try list.append(gpa, bh);
        }
        self.blocks = try list.toOwnedSlice(gpa);
    }

    fn readTombstones(self: *Table, gpa: Allocator, h: BlockHandle) Error!void {
        const b = try self.readBlock(gpa, h);
        defer gpa.free(b.raw);
        var cur: BlockCursor = .{};
        defer cur.deinit(gpa);
        try cur.reset(b.contents);
        var list: std.ArrayList(Tombstone) = .empty;
        defer list.deinit(gpa);
        errdefer for (list.items) |t| {
            gpa.free(t.start);
            gpa.free(t.end);
        };
        while (try cur.next(gpa)) {
            const ik = cur.key.items;
            if (ik.len < coding.trailer_size) return error.Corruption;
            const trailer = std.mem.readInt(u64, ik[ik.len - 8 ..][0..8], .little);
            if (@as(u8, @truncate(trailer)) != @backingInt(limits.ValueType.range_deletion)) return error.Corruption;
            const start = try gpa.dupe(u8, ik[0 .. ik.len - 8]);
            errdefer gpa.free(start);
            const end = try gpa.dupe(u8, cur.value);
            errdefer gpa.free(end);
            try list.append(gpa, .{ .start = start, .end = end, .seq = trailer >> 8 });
        }
        self.tombstones = try list.toOwnedSlice(gpa);
    }
};

/// The point entries of a sorted run (its tables one after the other), read ahead a chunk at a
/// time, each data block verified before its entries are decoded.
pub const RunCursor = struct {
    tables: []const Table,
    table: usize = 0,
    /// The next block of `tables[table]` to read.
    block: usize = 0,
    chunk: std.ArrayList(u8) = .empty,
    /// Where `chunk` starts in its table.
    chunk_offset: u64 = 0,
    cur: BlockCursor = .{},
    valid: bool = false,

    pub fn deinit(self: *RunCursor, gpa: Allocator) void {
        self.chunk.deinit(gpa);
        self.cur.deinit(gpa);
    }

    /// The current entry's internal key and value (valid until `next`).
    pub fn key(self: *const RunCursor) []const u8 {
        return self.cur.key.items;
    }
    pub fn value(self: *const RunCursor) []const u8 {
        return self.cur.value;
    }

    /// Moves to the next entry (the first, when new); `valid` says whether there is one.
    pub fn next(self: *RunCursor, gpa: Allocator) Error!void {
        while (true) {
            if (self.cur.contents.len > 0 and try self.cur.next(gpa)) {
                if (self.cur.key.items.len < coding.trailer_size) return error.Corruption;
                self.valid = true;
                return;
            }
            if (!try self.nextBlock(gpa)) {
                self.valid = false;
                return;
            }
        }
    }

    fn nextBlock(self: *RunCursor, gpa: Allocator) Error!bool {
        while (self.table < self.tables.len and self.block >= self.tables[self.table].blocks.len) {
            self.table += 1;
            self.block = 0;
            self.chunk.clearRetainingCapacity();
        }
        if (self.table >= self.tables.len) return false;
        const t = &self.tables[self.table];
        const h = t.blocks[self.block];
        self.block += 1;
        const need = h.size + trailer_len;
        const have = self.chunk.items.len;
        if (h.offset < self.chunk_offset or h.offset + need > self.chunk_offset + have) {
            // Read ahead from this block: a chunk, or up to the table's data end.
            const data_end = t.size - footer_size;
            const len: usize = @intCast(@max(need, @min(chunk_size, data_end - h.offset)));
            try self.chunk.resize(gpa, len);
            self.chunk_offset = h.offset;
            try t.readInto(h.offset, self.chunk.items);
        }
        const at: usize = @intCast(h.offset - self.chunk_offset);
        const contents = try verifiedContents(self.chunk.items[at..][0..@intCast(need)], h);
        try self.cur.reset(contents);
        return true;
    }
};
