/**
 * Share tokens: what `MemTable.share()` hands to another Worker, checked where it arrives
 * (`MemTable.attach`) — its shape, then that the native memtable it opens is the one its
 * options describe.
 *
 * @module
 */
import { ShareTokenError } from "../errors.ts";
import type { Handle } from "../ffi/native.ts";
import { describe } from "../coding/value_type.ts";
import type { ResolvedOptions, SharedOptions } from "./options.ts";
import { repArgs } from "./rep.ts";
import { readStats, StatsWord, u64Word } from "./stats.ts";

/**
 * What `MemTable.share()` returns: a plain object that `postMessage` can send to a Worker,
 * where `MemTable.attach(token)` opens the same native memtable. Good for one attach.
 */
export interface MemTableShareToken {
  readonly kind: "memtable";
  readonly token: number;
  /** The native library file the memtable lives in: every Worker must use the same one. */
  readonly library: string;
  /**
   * The memtable's options, every one resolved (the merge operator by name: `attach` needs an
   * operator of that name).
   */
  readonly options: Readonly<SharedOptions>;
}

/** Checks the shape of a share token (it may come from another Worker). */
export function checkToken(
  token: unknown,
  kind: string,
  what: string,
): { token: number; library: string; options: Record<string, unknown> } {
  const t = token as
    | { kind?: unknown; token?: unknown; library?: unknown; options?: unknown }
    | null;
  if (
    typeof t !== "object" || t === null || t.kind !== kind || typeof t.token !== "number" ||
    !Number.isSafeInteger(t.token) || t.token < 0 || typeof t.library !== "string" ||
    typeof t.options !== "object" || t.options === null
  ) {
    throw new TypeError(`${what}: expected a ${kind} share token, got ${describe(token)}`);
  }
  return t as { token: number; library: string; options: Record<string, unknown> };
}

/**
 * Refuses an attached handle whose native memtable is not what the token's options describe
 * (its write buffer size or its representation differ: the token was altered).
 */
export function checkAttached(h: Handle, r: ResolvedOptions, what: string): void {
  const s = readStats(h, what);
  const writeBufferSize = u64Word(s, StatsWord.writeBufferSize);
  const repCode = u64Word(s, StatsWord.rep);
  if (writeBufferSize !== r.writeBufferSize || repCode !== (repArgs(r.rep)[0] & 0xf)) {
    throw new ShareTokenError(
      `${what}: the token's options do not match the shared memtable (writeBufferSize ` +
        `${r.writeBufferSize} and rep ${r.rep.type} given, the memtable has ${writeBufferSize} ` +
        `and rep code ${repCode}); the token is used up and its reference released`,
    );
  }
}
