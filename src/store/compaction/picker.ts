/**
 * Leveled compaction's choices, RocksDB's rules (db/version_set.cc `ComputeCompactionScore`,
 * db/compaction/compaction_picker_level.cc), written here from their facts:
 *
 * - Scores: level 0's is its file count over `level0FileNumCompactionTrigger`, or its bytes
 *   over `maxBytesForLevelBase` when that is larger; level n ≥ 1's is its bytes over its
 *   target, `maxBytesForLevelBase × maxBytesForLevelMultiplier^(n−1)`. The last level has no
 *   score (nothing is below it). The level of the highest score ≥ 1 is compacted.
 * - Level 0 compacts all its files (they may overlap one another: taking only some could put
 *   an older version above a newer one) into level 1, with the level-1 files they overlap.
 * - Level n ≥ 1 compacts one file into level n+1: the one whose overlap with level n+1 is the
 *   smallest for its size (RocksDB's default `kMinOverlappingRatio`), widened to the files of
 *   level n that share a boundary user key with it (a clean cut), with the level n+1 files the
 *   inputs overlap.
 * - One input file and nothing to overlap at the output level: the file is moved (one edit, no
 *   rewrite: RocksDB's trivial move).
 * - The output is bottommost when no deeper level holds a file in its key range.
 *
 * @module
 */
import { booleanOption, integerOption } from "../../arguments.ts";
import { compareUserKeys } from "../../coding/internal_key.ts";
import type { LiveTable, Version } from "./version.ts";

/** RocksDB's leveled-compaction options, by their names (camelCase). */
export interface CompactionOptions {
  /** Level-0 files that make level 0's score 1 (RocksDB's default 4). */
  level0FileNumCompactionTrigger?: number;
  /** Level-0 files at which `whenWritable()` slows writers down (default 20). */
  level0SlowdownWritesTrigger?: number;
  /** Level-0 files at which `whenWritable()` waits for compactions (default 36). */
  level0StopWritesTrigger?: number;
  /** Bytes of level 1 that make its score 1 (default 256 MiB). */
  maxBytesForLevelBase?: number;
  /** Each deeper level's target is this many times its parent's (default 10). */
  maxBytesForLevelMultiplier?: number;
  /** Compaction outputs are cut once they reach this many bytes (default 64 MiB). */
  targetFileSizeBase?: number;
  /** Levels of the tree, 0 to numLevels − 1 (default 7). */
  numLevels?: number;
  /** No compaction runs unless `compactRange()` asks for it (default false). */
  disableAutoCompactions?: boolean;
}

/** The compaction options' names, as `StoreOptions` lists them. */
export const compactionOptionNames: readonly (keyof CompactionOptions)[] = [
  "level0FileNumCompactionTrigger",
  "level0SlowdownWritesTrigger",
  "level0StopWritesTrigger",
  "maxBytesForLevelBase",
  "maxBytesForLevelMultiplier",
  "targetFileSizeBase",
  "numLevels",
  "disableAutoCompactions",
];

/** The options checked, defaults filled in (errors name `what` and the option). */
export function checkCompactionOptions(
  o: CompactionOptions,
  what: string,
): Required<CompactionOptions> {
  const int = (name: keyof CompactionOptions, min: number, fallback: number) =>
    integerOption(o[name], name, what, min, fallback);
  const checked = {
    level0FileNumCompactionTrigger: int("level0FileNumCompactionTrigger", 1, 4),
    level0SlowdownWritesTrigger: int("level0SlowdownWritesTrigger", 1, 20),
    level0StopWritesTrigger: int("level0StopWritesTrigger", 1, 36),
    maxBytesForLevelBase: int("maxBytesForLevelBase", 1, 256 << 20),
    maxBytesForLevelMultiplier: int("maxBytesForLevelMultiplier", 1, 10),
    targetFileSizeBase: int("targetFileSizeBase", 1, 64 << 20),
    numLevels: int("numLevels", 2, 7),
    disableAutoCompactions: booleanOption(
      o.disableAutoCompactions,
      "disableAutoCompactions",
      what,
      false,
    ),
  };
  if (checked.numLevels > 64) {
    throw new RangeError(`${what}: numLevels must be at most 64, got ${checked.numLevels}`);
  }
  if (checked.level0StopWritesTrigger < checked.level0SlowdownWritesTrigger) {
    throw new RangeError(
      `${what}: level0StopWritesTrigger (${checked.level0StopWritesTrigger}) must not be below ` +
        `level0SlowdownWritesTrigger (${checked.level0SlowdownWritesTrigger})`,
    );
  }
  return checked;
}

/** A compaction to run: inputs of `level` and of `outputLevel`, and where outputs go. */
export interface CompactionPick {
  level: number;
  outputLevel: number;
  /** The input files of `level` (level 0: newest first) and those of `outputLevel`. */
  inputs: LiveTable[];
  outputInputs: LiveTable[];
  bottommost: boolean;
  /** One file, nothing overlapping: moved, not rewritten. */
  trivialMove: boolean;
}

/** The bytes of `level`'s files. */
export function levelBytes(version: Version, level: number): number {
  return (version.levels[level] ?? []).reduce((n, f) => n + f.meta.size, 0);
}

/** The target size of level `level` ≥ 1. */
export function levelTarget(o: Required<CompactionOptions>, level: number): number {
  return o.maxBytesForLevelBase * o.maxBytesForLevelMultiplier ** (level - 1);
}

/** Each scored level's score (levels 0 … numLevels − 2), highest first. */
export function levelScores(
  version: Version,
  o: Required<CompactionOptions>,
): { level: number; score: number }[] {
  const scores = [];
  for (let level = 0; level < o.numLevels - 1; level++) {
    const score = level === 0
      ? Math.max(
        (version.levels[0]?.length ?? 0) / o.level0FileNumCompactionTrigger,
        levelBytes(version, 0) / o.maxBytesForLevelBase,
      )
      : levelBytes(version, level) / levelTarget(o, level);
    scores.push({ level, score });
  }
  return scores.sort((a, b) => b.score - a.score || a.level - b.level);
}

/** The compaction the scores call for, if any. */
export function pickCompaction(
  version: Version,
  o: Required<CompactionOptions>,
): CompactionPick | undefined {
  const best = levelScores(version, o)[0];
  if (best === undefined || best.score < 1) return undefined;
  if (best.level === 0) return pickFrom(version, 0, 1, version.levels[0] ?? []);
  const files = version.levels[best.level] ?? [];
  let chosen: LiveTable | undefined;
  let ratio = Infinity;
  for (const f of files) {
    const below = version.overlapping(best.level + 1, f.smallestUser, f.largestUser);
    const r = below.reduce((n, b) => n + b.meta.size, 0) / Math.max(1, f.meta.size);
    if (r < ratio) [chosen, ratio] = [f, r];
  }
  return chosen && pickFrom(version, best.level, best.level + 1, [chosen]);
}

/**
 * The compaction of `level`'s files overlapping [lo, hi] (all of them when both are undefined)
 * into `outputLevel` (RocksDB's manual compaction step), if `level` has any.
 */
export function pickRange(
  version: Version,
  level: number,
  outputLevel: number,
  lo: Uint8Array | undefined,
  hi: Uint8Array | undefined,
): CompactionPick | undefined {
  const files = level === 0
    ? (version.overlapping(0, lo, hi).length > 0 ? version.levels[0]! : [])
    : version.overlapping(level, lo, hi);
  return files.length === 0 ? undefined : pickFrom(version, level, outputLevel, files);
}

/** `start` widened to a clean cut, with what it overlaps at `outputLevel`. */
function pickFrom(
  version: Version,
  level: number,
  outputLevel: number,
  start: readonly LiveTable[],
): CompactionPick | undefined {
  if (start.length === 0) return undefined;
  const inputs = level === 0 ? [...start] : cleanCut(version.levels[level]!, start);
  const [lo, hi] = rangeOf(inputs);
  const outputInputs = outputLevel === level ? [] : version.overlapping(outputLevel, lo, hi);
  const all = [...inputs, ...outputInputs];
  const [alo, ahi] = rangeOf(all);
  let bottommost = true;
  for (let l = outputLevel + 1; l < version.levels.length; l++) {
    if (version.overlapping(l, alo, ahi).length > 0) bottommost = false;
  }
  return {
    level,
    outputLevel,
    inputs,
    outputInputs,
    bottommost,
    trivialMove: inputs.length === 1 && outputInputs.length === 0 && outputLevel !== level,
  };
}

/** The smallest and largest user keys of `files`. */
export function rangeOf(files: readonly LiveTable[]): [Uint8Array, Uint8Array] {
  let lo = files[0]!.smallestUser;
  let hi = files[0]!.largestUser;
  for (const f of files) {
    if (compareUserKeys(f.smallestUser, lo) < 0) lo = f.smallestUser;
    if (compareUserKeys(f.largestUser, hi) > 0) hi = f.largestUser;
  }
  return [lo, hi];
}

/** `picked` (files of a sorted level) with their neighbours that share a boundary user key. */
function cleanCut(level: readonly LiveTable[], picked: readonly LiveTable[]): LiveTable[] {
  let first = level.indexOf(picked[0]!);
  let last = level.indexOf(picked.at(-1)!);
  while (
    first > 0 && compareUserKeys(level[first - 1]!.largestUser, level[first]!.smallestUser) === 0
  ) {
    first--;
  }
  while (
    last + 1 < level.length &&
    compareUserKeys(level[last]!.largestUser, level[last + 1]!.smallestUser) === 0
  ) last++;
  return level.slice(first, last + 1);
}
