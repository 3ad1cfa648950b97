//! The C ABI of scans (memtable/scan.zig): an iterator's key range and its batches, under
//! exports.zig's rules (statuses, checked handles, the caller's buffer); imported by
//! exports.zig.
const std = @import("std");
const limits = @import("limits.zig");
const abi = @import("abi.zig");
const scan = @import("memtable/scan.zig");

const code = abi.code;
const asIterator = abi.asIterator;

/// `memtable_iter_set_range`'s `which` bits.
const range_lower: u32 = 1;
const range_upper: u32 = 2;

/// Restricts the iterator to user keys ≥ buf[0..lower_len] (with bit 0 of `which`) and <
/// buf[lower_len..][0..upper_len] (with bit 1); it is then unpositioned. `invalid_argument`
/// for unknown bits, a length given for a bound that is not, keys longer than the limit or
/// than the buffer.
export fn memtable_iter_set_range(h: ?*anyopaque, buf: [*]u8, cap: u32, lower_len: u32, upper_len: u32, which: u32) i32 {
    const it = asIterator(h) orelse return code(.bad_handle);
    if (which >> 2 != 0) return code(.invalid_argument);
    if ((which & range_lower == 0 and lower_len != 0) or (which & range_upper == 0 and upper_len != 0)) return code(.invalid_argument);
    if (lower_len > limits.key_size_max or upper_len > limits.key_size_max) return code(.invalid_argument);
    if (@as(u64, lower_len) + upper_len > cap) return code(.invalid_argument);
    const lower: ?[]const u8 = if (which & range_lower != 0) buf[0..lower_len] else null;
    const upper: ?[]const u8 = if (which & range_upper != 0) buf[lower_len..][0..upper_len] else null;
    it.setRange(lower, upper) catch return code(.out_of_memory);
    return code(.ok);
}

/// `memtable_iter_scan`'s `flags` bits: walk backward; position first (at the first entry, or
/// the last one backward) and copy from there.
const scan_reverse: u32 = 1;
const scan_start: u32 = 2;

/// Copies up to `max` entries from the current one on into buf in the batch layout of
/// memtable/scan.zig and moves past the last one copied. Returns the count (0 when not valid),
/// or `buffer_too_small` (the bytes needed in buf[0..4]) / `corruption` for the first entry
/// (nothing moves past it); `invalid_argument` for `max` 0 or above 2^24, unknown flags.
export fn memtable_iter_scan(h: ?*anyopaque, buf: [*]u8, cap: u32, max: u32, flags: u32) i32 {
    const it = asIterator(h) orelse return code(.bad_handle);
    if (max == 0 or max > 1 << 24 or flags >> 2 != 0) return code(.invalid_argument);
    const reverse = flags & scan_reverse != 0;
    if (flags & scan_start != 0) {
        (if (reverse) it.seekToLast() else it.seekToFirst()) catch return code(.out_of_memory);
    }
    const c = scan.scanBatch(it, buf[0..cap], max, reverse) catch return code(.out_of_memory);
    return abi.copied(buf, cap, c);
}
