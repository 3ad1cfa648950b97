//! The write-ahead log's writer: records in RocksDB's log format (32 KiB blocks; a 7-byte
//! header of masked CRC32c, length and type before each fragment; FULL, or FIRST, MIDDLE…,
//! LAST across blocks; a block's last 1–6 bytes zero-padded) copied into a memory-mapped
//! window of the log file. A MAP_SHARED mapping is the page cache itself, so when an append
//! returns the record is in the operating system's hands: it survives the process dying (not
//! power loss; `sync` is fdatasync). An append is a copy, not a system call.
//!
//! Contract:
//! - Linux only (`open` fails with `error.Unsupported` elsewhere; the TypeScript writer then
//!   writes the log with one system call per record).
//! - One thread at a time (the Store's writer); nothing here locks.
//! - The file is allocated (fallocate) a window at a time before the window is mapped, so a
//!   full disk is an error of the append that needs the space, never a SIGBUS later. The
//!   space past the last record reads as zeros, which RocksDB's reader and ours take as the
//!   end of the log (RocksDB's preallocated tails). `close` unmaps, truncates the file to the
//!   bytes written and closes it.
//! - A failed append leaves at most a torn record at the end (the bytes copied before the
//!   failure); the writer then refuses appends (`error.Failed`), so that nothing is ever
//!   written after a hole.
const std = @import("std");
const builtin = @import("builtin");
const arena_mod = @import("arena.zig");

pub const magic: u64 = 0x4C4F474752544957; // "WITRGGOL"

/// Longest path accepted (Linux's PATH_MAX, with its terminating zero).
pub const path_size_max: usize = 4095;

pub const block_size: u64 = 32 * 1024;
pub const header_size: u64 = 7;
/// Bytes mapped (and allocated) at a time; a multiple of the block size and of every page size.
pub const window_size: u64 = 4 << 20;

const zeros = [_]u8{ 0, 0, 0, 0, 0, 0 };

pub const RecordType = enum(u8) { full = 1, first = 2, middle = 3, last = 4 };

pub const Error = error{ Unsupported, OutOfMemory, Io, Failed };

/// The OS error code of the last failed operation on this thread (errno).
pub threadlocal var last_os_error: u32 = 0;

const linux = std.os.linux;

pub const Wal = struct {
    magic: u64 = magic,
    fd: i32,
    /// The mapped window [window_at, window_at + window_size), or null before the first append.
    window: ?[*]align(std.heap.page_size_min) u8 = null,
    window_at: u64 = 0,
    /// Bytes of records written (the log's size).
    size: u64 = 0,
    failed: bool = false,
    /// One record's batch, built by `appendSingle`.
    scratch: std.ArrayList(u8) = .empty,

    /// Appends one record holding `payload` (a WriteBatch's bytes).
    pub fn append(self: *Wal, payload: []const u8) Error!void {
        std.debug.assert(self.magic == magic);
        if (self.failed) return error.Failed;
        errdefer self.failed = true;
        var left = payload;
        var first = true;
        while (true) {
            const room = block_size - self.size % block_size;
            if (room < header_size) {
                try self.put(zeros[0..@intCast(room)]); // the block's trailer
                continue;
            }
            const n: usize = @intCast(@min(left.len, room - header_size));
            const end = n == left.len;
            const kind: RecordType = if (first and end) .full else if (first) .first else if (end) .last else .middle;
            var header: [header_size]u8 = undefined;
            var crc = std.hash.crc.@"CRC-32/ISCSI".init();
            crc.update(&.{@backingInt(kind)});
            crc.update(left[0..n]);
            std.mem.writeInt(u32, header[0..4], mask(crc.final()), .little);
            std.mem.writeInt(u16, header[4..6], @intCast(n), .little);
            header[6] = @backingInt(kind);
            try self.put(&header);
            try self.put(left[0..n]);
            left = left[n..];
            first = false;
            if (end) return;
        }
    }

    /// Appends the record of one write at `seq`: a batch of one record, RocksDB's
    /// `fixed64 seq ‖ fixed32 count ‖ tag ‖ varint key ‖ [varint value]` (`value` null for
    /// deletions).
    pub fn appendSingle(self: *Wal, seq: u64, tag: u8, key: []const u8, value: ?[]const u8) Error!void {
        const gpa = arena_mod.backing_allocator;
        self.scratch.clearRetainingCapacity();
        const need = 12 + 1 + 10 + key.len + if (value) |v| 10 + v.len else 0;
        self.scratch.ensureTotalCapacity(gpa, need) catch return error.OutOfMemory;
        var head: [12]u8 = undefined;
        std.mem.writeInt(u64, head[0..8], seq, .little);
        std.mem.writeInt(u32, head[8..12], 1, .little);
        self.scratch.appendSliceAssumeCapacity(&head);
        self.scratch.appendAssumeCapacity(tag);
        putSlice(&self.scratch, key);
        if (value) |v| putSlice(&self.scratch, v);
        return self.append(self.scratch.items);
    }

    /// Copies `bytes` at the end of the log, moving the window as it fills.
    fn put(self: *Wal, bytes: []const u8) Error!void {
        var left = bytes;
        while (left.len > 0) {
            if (self.window == null or self.size >= self.window_at + window_size) try self.move();
            const at: usize = @intCast(self.size - self.window_at);
            const n: usize = @min(left.len, @as(usize, @intCast(window_size)) - at);
            @memcpy(self.window.?[at..][0..n], left[0..n]);
            self.size += n;
            left = left[n..];
        }
    }

    /// Maps the window holding `size`, allocating its space first.
    fn move(self: *Wal) Error!void {
        self.unmap();
        const at = self.size - self.size % window_size;
        const alloc = linux.fallocate(self.fd, 0, @intCast(at), @intCast(window_size));
        switch (linux.errno(alloc)) {
            .SUCCESS => {},
            // A file system without fallocate: the file grows sparse (a full disk would then
            // be a SIGBUS: such file systems are rare for a database's directory).
            .OPNOTSUPP => {
                const grow = linux.errno(linux.ftruncate(self.fd, @intCast(at + window_size)));
                if (grow != .SUCCESS) return fail(grow);
            },
            else => |e| return fail(e),
        }
        const rc = linux.mmap(null, @intCast(window_size), .{ .READ = true, .WRITE = true }, .{ .TYPE = .SHARED }, self.fd, @intCast(at));
        if (linux.errno(rc) != .SUCCESS) return fail(linux.errno(rc));
        self.window = @ptrFromInt(rc);
        self.window_at = at;
    }

    fn unmap(self: *Wal) void {
        if (self.window) |w| _ = linux.munmap(w, @intCast(window_size));
        self.window = null;
    }

    /// Makes every record appended so far survive power loss.
    pub fn sync(self: *Wal) Error!void {
        std.debug.assert(self.magic == magic);
        const rc = linux.fdatasync(self.fd);
        if (linux.errno(rc) != .SUCCESS) return fail(linux.errno(rc));
    }

    /// Unmaps, truncates the file to the records written, closes it and frees this object.
    /// The truncation's failure is returned (the file is closed all the same: a longer file
    /// only has a zero tail).
    pub fn close(self: *Wal) Error!void {
        std.debug.assert(self.magic == magic);
        self.unmap();
        const rc = linux.ftruncate(self.fd, @intCast(self.size));
        _ = linux.close(self.fd);
        self.scratch.deinit(arena_mod.backing_allocator);
        self.magic = 0;
        arena_mod.destroyTracked(self);
        if (linux.errno(rc) != .SUCCESS) return fail(linux.errno(rc));
    }
};

fn mask(crc: u32) u32 {
    return ((crc >> 15) | (crc << 17)) +% 0xA282EAD8;
}

fn putSlice(list: *std.ArrayList(u8), bytes: []const u8) void {
    var x: u64 = bytes.len;
    while (x >= 0x80) : (x >>= 7) list.appendAssumeCapacity(@as(u8, @truncate(x)) | 0x80);
    list.appendAssumeCapacity(@truncate(x));
    list.appendSliceAssumeCapacity(bytes);
}

fn fail(e: linux.E) Error {
    last_os_error = @intCast(@backingInt(e));
    return if (e == .NOMEM) error.OutOfMemory else error.Io;
}

/// Creates (or empties) the log at `path` (UTF-8, no zero bytes) for appending.
pub fn open(path: []const u8) Error!*Wal {
    if (builtin.os.tag != .linux) return error.Unsupported;
    std.debug.assert(path.len > 0 and path.len <= path_size_max);
    std.debug.assert(std.mem.indexOfScalar(u8, path, 0) == null);
    var z: [path_size_max + 1]u8 = undefined;
    @memcpy(z[0..path.len], path);
    z[path.len] = 0;
    const rc = linux.open(z[0..path.len :0], .{ .ACCMODE = .RDWR, .CREAT = true, .TRUNC = true, .CLOEXEC = true }, 0o644);
    if (linux.errno(rc) != .SUCCESS) return fail(linux.errno(rc));
    const fd: i32 = @intCast(rc);
    errdefer _ = linux.close(fd);
    const self = arena_mod.allocTracked(Wal) catch return error.OutOfMemory;
    self.* = .{ .fd = fd };
    return self;
}

test "records cross blocks and windows as RocksDB frames them, and close truncates to them" {
    if (builtin.os.tag != .linux) return error.SkipZigTest;
    var buf: [64]u8 = undefined;
    const path = try std.fmt.bufPrint(&buf, "/tmp/memtable-wal-test-{d}", .{linux.getpid()});
    buf[path.len] = 0;
    defer _ = linux.unlink(buf[0..path.len :0]);
    const live_before = arena_mod.bytes_live.load(.monotonic);
    const w = try open(path);
    const big = try std.testing.allocator.alloc(u8, 70_000);
    defer std.testing.allocator.free(big);
    @memset(big, 7);
    try w.appendSingle(1, 1, "k", "v");
    try w.append(big); // FIRST, MIDDLE, LAST over three blocks
    var n: u64 = 0;
    while (w.size < window_size + 100) : (n += 1) try w.appendSingle(2 + n, 0, "key", null);
    const size = w.size;
    try std.testing.expect(size > window_size);
    try w.close();
    // Read back: every fragment's checksum holds, and they make 2 + n records.
    const bytes = try std.testing.allocator.alloc(u8, @intCast(size));
    defer std.testing.allocator.free(bytes);
    const fd: i32 = @intCast(linux.open(buf[0..path.len :0], .{ .ACCMODE = .RDONLY }, 0));
    defer _ = linux.close(fd);
    try std.testing.expectEqual(@as(usize, @intCast(size)), linux.lseek(fd, 0, std.posix.SEEK.END));
    _ = linux.lseek(fd, 0, std.posix.SEEK.SET);
    try std.testing.expectEqual(bytes.len, linux.read(fd, bytes.ptr, bytes.len));
    var at: usize = 0;
    var records: u64 = 0;
    var kinds = [_]u64{ 0, 0, 0, 0, 0 };
    while (at < bytes.len) {
        if (block_size - at % block_size < header_size) {
            at += @intCast(block_size - at % block_size);
            continue;
        }
        const len = std.mem.readInt(u16, bytes[at + 4 ..][0..2], .little);
        const kind = bytes[at + 6];
        const crc = std.hash.crc.@"CRC-32/ISCSI".hash(bytes[at + 6 ..][0 .. 1 + len]);
        try std.testing.expectEqual(mask(crc), std.mem.readInt(u32, bytes[at..][0..4], .little));
        kinds[kind] += 1;
        if (kind == 1 or kind == 4) records += 1;
        at += header_size + len;
    }
    try std.testing.expectEqual(2 + n, records);
    // Records that meet a block's end are split FIRST … LAST; only the big one has a MIDDLE.
    try std.testing.expect(kinds[2] > 1);
    try std.testing.expectEqual(kinds[2], kinds[4]);
    try std.testing.expectEqual(@as(u64, 1), kinds[3]);
    try std.testing.expectEqual(live_before, arena_mod.bytes_live.load(.monotonic));
}
