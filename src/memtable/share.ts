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
import { statusError } from "../ffi/status.ts";
import { encodeOptions } from "./options.ts";
import { fn, shared } from "./realm.ts";

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
 * Refuses an attached handle whose native memtable was not made with the options the token
 * describes, byte for byte (the token was altered, or comes from another version).
 */
export function checkAttached(h: Handle, r: ResolvedOptions, what: string): void {
  const want = encodeOptions(r);
  const s = shared;
  const n = fn.memtable_options(h, s.arg, s.capacity);
  if (n < 0) throw statusError(n, what);
  const have = s.bytes.subarray(0, n);
  if (n === want.length && have.every((b, i) => b === want[i])) return;
  throw new ShareTokenError(
    `${what}: the token's options do not match the shared memtable's (writeBufferSize ` +
      `${r.writeBufferSize} and rep ${r.rep.type} given, among others); the token is used up ` +
      `and its reference released`,
  );
}
