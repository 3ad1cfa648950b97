//! The arena's blocks by number (`Arena.refOf`, `Arena.atRef`): `cap` header addresses after
//! two words, number 0 unused. Appended to under the exclusion of block creation, read without
//! locks. A full registry is replaced by one twice as large; the old ones stay until the arena's
//! `deinit`, since a reader may still hold one (all of them are under twice the last).
const std = @import("std");
const arena_mod = @import("arena.zig");

pub const Registry = extern struct {
    cap: usize,
    older: ?*Registry,

    const header_words = @sizeOf(Registry) / @sizeOf(usize);
    const first_cap = 16;

    fn words(self: *Registry) []usize {
        const w: [*]usize = @ptrCast(self);
        return w[0 .. header_words + self.cap];
    }

    pub fn headers(self: *Registry) [*]std.atomic.Value(usize) {
        const w: [*]std.atomic.Value(usize) = @ptrCast(self);
        return w + header_words;
    }

    fn create(cap: usize) error{OutOfMemory}!*Registry {
        const w = try arena_mod.allocSliceTracked(usize, header_words + cap);
        @memset(w, 0);
        const r: *Registry = @ptrCast(@alignCast(w.ptr));
        r.* = .{ .cap = cap, .older = null };
        return r;
    }

    /// A registry twice as large as `old` (or the first), holding `old`'s numbers 0 to `n`, with
    /// `old` kept behind it. Not yet published.
    pub fn grown(old: ?*Registry, n: usize) error{OutOfMemory}!*Registry {
        const r = try create(if (old) |o| o.cap * 2 else first_cap);
        if (old) |o| @memcpy(r.words()[header_words..][0 .. n + 1], o.words()[header_words..][0 .. n + 1]);
        r.older = old;
        return r;
    }

    pub fn destroy(self: *Registry) void {
        arena_mod.freeSliceTracked(self.words());
    }
};
