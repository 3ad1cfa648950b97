//! Handing native objects to other threads (Workers): a fixed table of tickets. `put` parks a
//! reference to an object in a free slot and returns a token (slot and state); `take` consumes
//! the token once and returns the object with that reference. A token that was taken, or that
//! never existed, is refused cleanly: slots are never freed, and every use of a slot moves its
//! state on, so a stale token cannot match again.
const std = @import("std");

pub const Kind = enum(u32) { memtable = 1, sequence_allocator = 2 };

pub const slot_count = 4096;

const Slot = struct {
    /// generation * 4 + phase: phase 0 free, 1 being filled, 2 holds an object.
    state: std.atomic.Value(u32) = .init(0),
    kind: u32 = 0,
    object: ?*anyopaque = null,
};

var slots: [slot_count]Slot = @splat(.{});

/// Parks `object` (whose reference the ticket now owns); null when every slot is in use.
pub fn put(kind: Kind, object: *anyopaque) ?u64 {
    for (&slots, 0..) |*slot, i| {
        const s = slot.state.load(.monotonic);
        if (s & 3 != 0) continue;
        if (slot.state.cmpxchgStrong(s, s + 1, .acquire, .monotonic) != null) continue;
        slot.kind = @backingInt(kind);
        slot.object = object;
        slot.state.store(s + 2, .release);
        return (@as(u64, i) << 32) | (s + 2);
    }
    return null;
}

/// The object of `token` if it is a live ticket of `kind`; the ticket is used up.
pub fn take(token: u64, kind: Kind) ?*anyopaque {
    const i = token >> 32;
    const expected: u32 = @truncate(token);
    if (i >= slot_count or expected & 3 != 2) return null;
    const slot = &slots[@intCast(i)];
    if (slot.state.load(.acquire) != expected) return null;
    // Read while the slot holds the object: only the filler writes these, in phase 1.
    const object = slot.object;
    const k = slot.kind;
    if (k != @backingInt(kind)) return null;
    if (slot.state.cmpxchgStrong(expected, expected +% 2, .acq_rel, .monotonic) != null) return null;
    return object;
}

test "a ticket is taken once, by its kind only, and stale tokens are refused" {
    var a: u32 = 1;
    var b: u32 = 2;
    const ta = put(.memtable, &a).?;
    const tb = put(.sequence_allocator, &b).?;
    try std.testing.expect(take(ta, .sequence_allocator) == null);
    try std.testing.expect(take(ta, .memtable).? == @as(*anyopaque, &a));
    try std.testing.expect(take(ta, .memtable) == null);
    try std.testing.expect(take(tb, .sequence_allocator).? == @as(*anyopaque, &b));
    try std.testing.expect(take(0xFFFF_FFFF_0000_0002, .memtable) == null);
    const again = put(.memtable, &b).?;
    try std.testing.expect(again != ta); // the slot's state moved on
    try std.testing.expect(take(ta, .memtable) == null);
    try std.testing.expect(take(again, .memtable) != null);
}
