//! Prefix extractors (RocksDB's SliceTransform): NewFixedPrefixTransform(n) — the first n
//! bytes, keys shorter than n are out of its domain; NewCappedPrefixTransform(n) — the first
//! min(n, len) bytes, every key in the domain; NewNoopTransform — the whole key.
const std = @import("std");

pub const Kind = enum(u32) { none = 0, fixed = 1, capped = 2, noop = 3 };

pub const Extractor = struct {
    kind: Kind = .none,
    n: u32 = 0,

    pub fn inDomain(self: Extractor, key: []const u8) bool {
        return switch (self.kind) {
            .none => false,
            .fixed => key.len >= self.n,
            .capped, .noop => true,
        };
    }

    /// REQUIRES: inDomain(key).
    pub fn transform(self: Extractor, key: []const u8) []const u8 {
        std.debug.assert(self.inDomain(key));
        return switch (self.kind) {
            .none => key[0..0],
            .fixed => key[0..self.n],
            .capped => key[0..@min(key.len, self.n)],
            .noop => key,
        };
    }

    /// The prefix of `key` when it has one.
    pub fn prefixOf(self: Extractor, key: []const u8) ?[]const u8 {
        return if (self.inDomain(key)) self.transform(key) else null;
    }
};

test "extractors follow RocksDB's transforms" {
    const fixed: Extractor = .{ .kind = .fixed, .n = 3 };
    try std.testing.expect(!fixed.inDomain("ab"));
    try std.testing.expectEqualStrings("abc", fixed.prefixOf("abcdef").?);
    try std.testing.expect(fixed.prefixOf("") == null);
    const capped: Extractor = .{ .kind = .capped, .n = 3 };
    try std.testing.expectEqualStrings("ab", capped.prefixOf("ab").?);
    try std.testing.expectEqualStrings("abc", capped.prefixOf("abcd").?);
    try std.testing.expectEqualStrings("", capped.prefixOf("").?);
    const noop: Extractor = .{ .kind = .noop };
    try std.testing.expectEqualStrings("abcd", noop.prefixOf("abcd").?);
    const none: Extractor = .{};
    try std.testing.expect(none.prefixOf("abcd") == null);
}
