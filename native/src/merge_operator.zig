//! The built-in merge operators natively, for the native flush: exactly the semantics of
//! `src/memtable/merge.ts` (which are RocksDB's `UInt64AddOperator`, `StringAppendOperator`,
//! `MaxOperator` and `PutOperator`), so a flush that folds merge runs here writes the bytes the
//! TypeScript flush writes with the same operator (`tests/flush.test.ts` compares the files).
//!
//! Operands are given oldest first, as RocksDB's `MergeOperationInput::operand_list` and
//! merge.ts give them. `fullMerge` folds them onto `existing` (null: nothing below them, or a
//! deletion); `partialMerge` folds two or more of them into one operand. No built-in operator
//! declines a partial merge, so the flush never needs the operands kept for one of them.
//!
//! Results are appended to a caller's list; nothing here allocates otherwise, and the operator
//! owns only its delimiter (a copy). Pure functions of their inputs: any thread may call them.
const std = @import("std");
const limits = @import("limits.zig");
const Allocator = std.mem.Allocator;

/// The operator codes the TypeScript side sends (`src/flush/native_flush.ts`). Do not change
/// a code: they cross the native boundary.
pub const Kind = enum(u32) {
    /// No operator: the flush keeps operands as they are.
    none = 0,
    /// 8-byte little-endian unsigned counters, summed with wrapping at 2^64; a value or
    /// operand of another size counts as 0.
    uint64_add = 1,
    /// The value, then each operand, with the delimiter between them.
    string_append = 2,
    /// The bytewise largest of the value and the operands.
    max = 3,
    /// The newest operand.
    put = 4,
    _,
};

/// A delimiter longer than this is refused: it is copied into the flush and crosses the
/// boundary the way a value does, so it is bounded as a value is (RocksDB's own delimiters are
/// one character).
pub const delimiter_size_max: u32 = limits.value_size_max;

pub const MergeOperator = struct {
    kind: Kind,
    /// Only for `string_append`; owned.
    delimiter: []u8 = &.{},

    /// An operator of `kind`; `delimiter` only for `string_append` (copied). `error.Invalid`
    /// for an unknown kind, a delimiter given to another kind, or one over the maximum.
    pub fn init(gpa: Allocator, kind: Kind, delimiter: []const u8) error{ OutOfMemory, Invalid }!MergeOperator {
        switch (kind) {
            .none, .uint64_add, .max, .put => if (delimiter.len != 0) return error.Invalid,
            .string_append => if (delimiter.len > delimiter_size_max) return error.Invalid,
            _ => return error.Invalid,
        }
        return .{ .kind = kind, .delimiter = try gpa.dupe(u8, delimiter) };
    }

    pub fn deinit(self: *MergeOperator, gpa: Allocator) void {
        gpa.free(self.delimiter);
        self.delimiter = &.{};
    }

    pub fn folds(self: MergeOperator) bool {
        return self.kind != .none;
    }

    /// Appends the value after applying `operands` (oldest first, at least one) to `existing`.
    pub fn fullMerge(self: MergeOperator, gpa: Allocator, existing: ?[]const u8, operands: []const []const u8, out: *std.ArrayList(u8)) error{OutOfMemory}!void {
        std.debug.assert(self.folds());
        std.debug.assert(operands.len > 0);
        switch (self.kind) {
            .uint64_add => {
                var sum: u64 = if (existing) |e| counter(e) else 0;
                for (operands) |o| sum +%= counter(o);
                try appendCounter(gpa, out, sum);
            },
            .string_append => {
                if (existing) |e| try out.appendSlice(gpa, e);
                for (operands, 0..) |o, i| {
                    if (existing != null or i > 0) try out.appendSlice(gpa, self.delimiter);
                    try out.appendSlice(gpa, o);
                }
            },
            .max => {
                var best: []const u8 = existing orelse "";
                for (operands) |o| best = bytewiseMax(best, o);
                try out.appendSlice(gpa, best);
            },
            .put => try out.appendSlice(gpa, operands[operands.len - 1]),
            .none, _ => unreachable,
        }
    }

    /// Appends the one operand equivalent to `operands` (oldest first, at least two): merge.ts's
    /// `applyPartialMerges`, a left fold of `partialMerge` over them.
    pub fn partialMerge(self: MergeOperator, gpa: Allocator, operands: []const []const u8, out: *std.ArrayList(u8)) error{OutOfMemory}!void {
        std.debug.assert(self.folds());
        std.debug.assert(operands.len >= 2);
        switch (self.kind) {
            .uint64_add => {
                var sum: u64 = 0;
                for (operands) |o| sum +%= counter(o);
                try appendCounter(gpa, out, sum);
            },
            .string_append => for (operands, 0..) |o, i| {
                if (i > 0) try out.appendSlice(gpa, self.delimiter);
                try out.appendSlice(gpa, o);
            },
            .max => {
                var best = operands[0];
                for (operands[1..]) |o| best = bytewiseMax(best, o);
                try out.appendSlice(gpa, best);
            },
            .put => try out.appendSlice(gpa, operands[operands.len - 1]),
            .none, _ => unreachable,
        }
    }
};

/// A counter's value: the fixed64 LE in `bytes`, 0 unless it is 8 bytes long (RocksDB's rule).
fn counter(bytes: []const u8) u64 {
    if (bytes.len != 8) return 0;
    return std.mem.readInt(u64, bytes[0..8], .little);
}

fn appendCounter(gpa: Allocator, out: *std.ArrayList(u8), v: u64) error{OutOfMemory}!void {
    var b: [8]u8 = undefined;
    std.mem.writeInt(u64, &b, v, .little);
    try out.appendSlice(gpa, &b);
}

/// The bytewise larger of two byte strings (a prefix is smaller); `a` when they are equal.
fn bytewiseMax(a: []const u8, b: []const u8) []const u8 {
    return if (std.mem.order(u8, a, b) == .lt) b else a;
}

const testing = std.testing;

fn u64le(v: u64) [8]u8 {
    var b: [8]u8 = undefined;
    std.mem.writeInt(u64, &b, v, .little);
    return b;
}

fn expectFull(op: MergeOperator, existing: ?[]const u8, operands: []const []const u8, want: []const u8) !void {
    var out: std.ArrayList(u8) = .empty;
    defer out.deinit(testing.allocator);
    try op.fullMerge(testing.allocator, existing, operands, &out);
    try testing.expectEqualSlices(u8, want, out.items);
}

fn expectPartial(op: MergeOperator, operands: []const []const u8, want: []const u8) !void {
    var out: std.ArrayList(u8) = .empty;
    defer out.deinit(testing.allocator);
    try op.partialMerge(testing.allocator, operands, &out);
    try testing.expectEqualSlices(u8, want, out.items);
}

test "uint64_add sums 8-byte counters with wrapping and counts other sizes as 0" {
    var op = try MergeOperator.init(testing.allocator, .uint64_add, "");
    defer op.deinit(testing.allocator);
    const ten = u64le(10);
    const five = u64le(5);
    const top = u64le(std.math.maxInt(u64));
    try expectFull(op, &ten, &.{ &five, "odd" }, &u64le(15));
    try expectFull(op, null, &.{&five}, &five);
    try expectFull(op, "not8", &.{&five}, &five);
    try expectFull(op, &top, &.{&u64le(2)}, &u64le(1));
    try expectPartial(op, &.{ "x", &five, &top }, &u64le(4));
}

test "string_append joins the value and operands with the delimiter" {
    var op = try MergeOperator.init(testing.allocator, .string_append, "::");
    defer op.deinit(testing.allocator);
    try expectFull(op, "a", &.{ "b", "c" }, "a::b::c");
    try expectFull(op, null, &.{ "b", "c" }, "b::c");
    try expectFull(op, "", &.{"b"}, "::b"); // an empty value is still a value
    try expectFull(op, null, &.{""}, "");
    try expectPartial(op, &.{ "b", "", "d" }, "b::::d");
}

test "max keeps the bytewise largest; put keeps the newest operand" {
    var mx = try MergeOperator.init(testing.allocator, .max, "");
    defer mx.deinit(testing.allocator);
    try expectFull(mx, "b", &.{ "a", "ba" }, "ba");
    try expectFull(mx, null, &.{ "", "a" }, "a");
    try expectFull(mx, "z", &.{"y"}, "z");
    try expectPartial(mx, &.{ "ab", "b", "a" }, "b");
    var put = try MergeOperator.init(testing.allocator, .put, "");
    defer put.deinit(testing.allocator);
    try expectFull(put, "old", &.{ "x", "y" }, "y");
    try expectPartial(put, &.{ "x", "y" }, "y");
}

test "MergeOperator.init refuses unknown kinds and delimiters for other kinds" {
    const gpa = testing.allocator;
    try testing.expectError(error.Invalid, MergeOperator.init(gpa, @fromBackingInt(@intCast(9)), ""));
    try testing.expectError(error.Invalid, MergeOperator.init(gpa, .max, ","));
    const long = try gpa.alloc(u8, delimiter_size_max + 1);
    defer gpa.free(long);
    @memset(long, ',');
    try testing.expectError(error.Invalid, MergeOperator.init(gpa, .string_append, long));
    var none = try MergeOperator.init(gpa, .none, "");
    defer none.deinit(gpa);
    try testing.expect(!none.folds());
}
