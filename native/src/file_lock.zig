//! Exclusive file locks: what keeps two stores (in two processes, or two in one process) off
//! one directory, as RocksDB's `LOCK` file does.
//!
//! Contract:
//! - `lock` opens (creating it when missing) the file and takes an exclusive lock that belongs
//!   to that open file: Linux open-file-description locks (`F_OFD_SETLK`, which also conflict
//!   with the `F_SETLK` locks RocksDB itself takes, so RocksDB and this library keep off each
//!   other's directories; `flock` on kernels before 3.15), `flock` on the other POSIX
//!   systems, an unshared open on Windows. A second `lock` of the same file fails with
//!   `error.Held`, from this process or any other, and never waits.
//! - The lock ends with `unlock`, which closes the file, or when the process dies (the OS
//!   closes its files); the holdings module also unlocks at the end of a thread that still
//!   held it. The file itself is left in place (RocksDB leaves its `LOCK` file too).
//! - Nothing else is written: locking an empty file leaves it empty.
const std = @import("std");
const builtin = @import("builtin");
const arena_mod = @import("arena.zig");

pub const magic: u64 = 0x4B434F4C_454C4946; // "FILELOCK"

/// Longest path accepted (Linux's PATH_MAX, with its terminating zero).
pub const path_size_max: usize = 4095;

pub const Error = error{ Held, OutOfMemory, Io };

pub const FileLock = struct {
    magic: u64 = magic,
    handle: platform.Handle,

    /// Releases the lock and frees this object.
    pub fn unlock(self: *FileLock) void {
        std.debug.assert(self.magic == magic);
        platform.close(self.handle);
        self.magic = 0;
        arena_mod.destroyTracked(self);
    }
};

/// The soft limit on open files of this process (RLIMIT_NOFILE), or null when there is none
/// or it cannot be read here (Windows).
pub fn openFilesLimit() ?u64 {
    switch (builtin.os.tag) {
        .linux => {
            var rl: std.os.linux.rlimit = undefined;
            if (std.os.linux.errno(std.os.linux.getrlimit(.NOFILE, &rl)) != .SUCCESS) return null;
            if (rl.cur == std.os.linux.RLIM.INFINITY) return null;
            return rl.cur;
        },
        .windows => return null,
        else => {
            var rl: std.c.rlimit = undefined;
            if (std.c.getrlimit(.NOFILE, &rl) != 0) return null;
            if (rl.cur == std.c.RLIM.INFINITY) return null;
            return rl.cur;
        },
    }
}

/// The OS error code of the last failed `lock` on this thread (errno, or GetLastError).
pub threadlocal var last_os_error: u32 = 0;

/// Locks the file at `path` (UTF-8, no zero bytes).
pub fn lock(path: []const u8) Error!*FileLock {
    std.debug.assert(path.len > 0 and path.len <= path_size_max);
    std.debug.assert(std.mem.indexOfScalar(u8, path, 0) == null);
    const self = try arena_mod.allocTracked(FileLock);
    errdefer arena_mod.destroyTracked(self);
    self.* = .{ .handle = try platform.lock(path) };
    return self;
}

const platform = switch (builtin.os.tag) {
    .linux => linux,
    .windows => windows,
    else => posix_libc,
};

const linux = struct {
    const sys = std.os.linux;
    const Handle = i32;

    fn lock(path: []const u8) Error!Handle {
        var z: [path_size_max + 1]u8 = undefined;
        @memcpy(z[0..path.len], path);
        z[path.len] = 0;
        const rc = sys.open(z[0..path.len :0], .{ .ACCMODE = .RDWR, .CREAT = true, .CLOEXEC = true }, 0o644);
        if (sys.errno(rc) != .SUCCESS) return fail(sys.errno(rc));
        const fd: i32 = @intCast(rc);
        errdefer _ = sys.close(fd);
        var fl: sys.Flock = std.mem.zeroes(sys.Flock);
        fl.type = sys.F.WRLCK;
        fl.whence = 0; // SEEK_SET; start 0 and len 0: the whole file
        const set = sys.fcntl(fd, sys.F.OFD_SETLK, @intFromPtr(&fl));
        switch (sys.errno(set)) {
            .SUCCESS => return fd,
            .AGAIN, .ACCES => return error.Held,
            .INVAL => {}, // no open-file-description locks before Linux 3.15: flock
            else => |e| return fail(e),
        }
        const f = sys.flock(fd, std.posix.LOCK.EX | std.posix.LOCK.NB);
        return switch (sys.errno(f)) {
            .SUCCESS => fd,
            .AGAIN => error.Held,
            else => |e| fail(e),
        };
    }

    fn fail(e: sys.E) Error {
        last_os_error = @intCast(@backingInt(e));
        return if (e == .NOMEM) error.OutOfMemory else error.Io;
    }

    fn close(fd: Handle) void {
        _ = sys.close(fd);
    }
};

const posix_libc = struct {
    const c = std.c;
    const Handle = c.fd_t;

    fn lock(path: []const u8) Error!Handle {
        var z: [path_size_max + 1]u8 = undefined;
        @memcpy(z[0..path.len], path);
        z[path.len] = 0;
        const fd = c.open(z[0..path.len :0], .{ .ACCMODE = .RDWR, .CREAT = true, .CLOEXEC = true }, @as(c.mode_t, 0o644));
        if (fd < 0) return fail();
        errdefer _ = c.close(fd);
        if (c.flock(fd, std.posix.LOCK.EX | std.posix.LOCK.NB) != 0) {
            if (c.errno(-1) == .AGAIN) return error.Held;
            return fail();
        }
        return fd;
    }

    fn fail() Error {
        const e = c.errno(-1);
        last_os_error = @intCast(@backingInt(e));
        return if (e == .NOMEM) error.OutOfMemory else error.Io;
    }

    fn close(fd: Handle) void {
        _ = c.close(fd);
    }
};

const windows = struct {
    const win = std.os.windows;
    const Handle = win.HANDLE;
    extern "kernel32" fn CreateFileW(name: [*:0]const u16, access: u32, share: u32, security: ?*anyopaque, disposition: u32, attributes: u32, template: ?win.HANDLE) callconv(.winapi) win.HANDLE;
    extern "kernel32" fn CloseHandle(h: win.HANDLE) callconv(.winapi) win.BOOL;
    extern "kernel32" fn GetLastError() callconv(.winapi) u32;

    const generic_read: u32 = 0x8000_0000;
    const generic_write: u32 = 0x4000_0000;
    const open_always: u32 = 4;
    const file_attribute_normal: u32 = 0x80;
    const error_sharing_violation: u32 = 32;
    const error_lock_violation: u32 = 33;

    fn lock(path: []const u8) Error!Handle {
        var wide: [path_size_max + 1]u16 = undefined;
        const n = std.unicode.wtf8ToWtf16Le(wide[0..path_size_max], path) catch {
            last_os_error = 123; // ERROR_INVALID_NAME
            return error.Io;
        };
        wide[n] = 0;
        // No sharing: the open itself is the lock, released when the handle closes.
        const h = CreateFileW(wide[0..n :0], generic_read | generic_write, 0, null, open_always, file_attribute_normal, null);
        if (h == win.INVALID_HANDLE_VALUE) {
            const e = GetLastError();
            last_os_error = e;
            return if (e == error_sharing_violation or e == error_lock_violation) error.Held else error.Io;
        }
        return h;
    }

    fn close(h: Handle) void {
        _ = CloseHandle(h);
    }
};

test "a locked file cannot be locked again until it is unlocked" {
    if (builtin.os.tag != .linux) return error.SkipZigTest;
    var buf: [64]u8 = undefined;
    const path = try std.fmt.bufPrint(&buf, "/tmp/memtable-lock-test-{d}", .{std.os.linux.getpid()});
    buf[path.len] = 0;
    defer _ = std.os.linux.unlink(buf[0..path.len :0]);
    const live_before = arena_mod.bytes_live.load(.monotonic);
    const first = try lock(path);
    try std.testing.expectError(error.Held, lock(path));
    first.unlock();
    const again = try lock(path);
    again.unlock();
    try std.testing.expectEqual(live_before, arena_mod.bytes_live.load(.monotonic));
}
