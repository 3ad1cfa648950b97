/**
 * Share tokens: what `MemTable.share()` hands to another Worker, checked where it arrives
 * (`MemTable.attach`) — its shape, then that the native memtable it opens is the one its
 * options describe; and the native steps of `share`, `attach` and `discardToken`.
 *
 * @module
 */
import { MemTableError, ShareTokenError } from "../errors.ts";
import { ShareFailure, ShareKind } from "../ffi/layout.ts";
import { type Handle, native, useLibraryOf } from "../ffi/native.ts";
import type { MergeOperator } from "./merge.ts";
import { describe } from "../coding/value_type.ts";
import type { MemTableOptions, ResolvedOptions, SharedOptions } from "./options.ts";
import { statusError } from "../ffi/status.ts";
import { encodeOptions, resolveOptions, sharedOptions } from "./options.ts";
import { fn, initRealm, shared } from "./realm.ts";

/**
 * What `MemTable.share()` returns: a plain object that `postMessage` can send to a Worker,
 * where `MemTable.attach(token)` opens the same native memtable. Good for one attach.
 */
export interface MemTableShareToken {
  /** What the token is for: a memtable. */
  readonly kind: "memtable";
  /** The native side's number for the shared memtable. */
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

/** `MemTable.share()`: a token for the native memtable `h`, whose options are `r`. */
export function shareToken(h: Handle, r: ResolvedOptions): MemTableShareToken {
  const token = fn.memtable_share(h, ShareKind.memtable);
  if (token < 0) {
    throw new MemTableError(
      `MemTable.share(): ${
        token === ShareFailure.tooMany
          ? "too many share tokens are outstanding (attach or discard them)"
          : "failed"
      }`,
    );
  }
  return { kind: "memtable", token, library: native().path, options: sharedOptions(r) };
}

/**
 * `MemTable.attach()` up to the new object: the token and options checked (every check before
 * the token is used: a token with options this library would not accept — altered, or from
 * another version — is refused and stays as it was), then the native memtable attached and
 * checked against them. Returns the options to build the MemTable with and the handle (a
 * reference the caller owns).
 */
export function attachToken(
  token: MemTableShareToken,
  options: { mergeOperator?: MergeOperator },
): { given: MemTableOptions; h: Handle } {
  const what = "MemTable.attach()";
  const t = checkToken(token, "memtable", what);
  if (typeof options !== "object" || options === null) {
    throw new TypeError(`${what}: options must be an object, got ${describe(options)}`);
  }
  const o = t.options as MemTableShareToken["options"];
  const op = options.mergeOperator;
  if (o.mergeOperatorName !== undefined && op?.name !== o.mergeOperatorName) {
    throw new TypeError(
      `${what}: the memtable uses merge operator "${o.mergeOperatorName}"; pass it ` +
        `as options.mergeOperator (functions cannot be sent to a Worker)`,
    );
  }
  const { mergeOperatorName: _, ...carried } = o;
  const given = {
    ...carried,
    ...(op === undefined ? {} : { mergeOperator: op }),
  } as MemTableOptions;
  let resolved: ResolvedOptions;
  try {
    resolved = resolveOptions(given);
  } catch (e) {
    (e as Error).message = `${what}: the token's options are not valid: ${(e as Error).message}`;
    throw e;
  }
  useLibraryOf(t.library, what);
  initRealm();
  const h = fn.memtable_attach(t.token, ShareKind.memtable);
  if (h === null) {
    throw new ShareTokenError(
      `${what}: the token was already attached or discarded (a token opens the ` +
        "memtable once: call share() for every Worker)",
    );
  }
  try {
    checkAttached(h, resolved, what);
  } catch (e) {
    fn.memtable_unref(h); // the reference the token held: nothing is left behind
    throw e;
  }
  return { given, h };
}

/** `MemTable.discardToken()`: gives back the token's reference; false if it was used up. */
export function discardToken(token: MemTableShareToken): boolean {
  const t = checkToken(token, "memtable", "MemTable.discardToken()");
  useLibraryOf(t.library, "MemTable.discardToken()");
  initRealm();
  const h = fn.memtable_attach(t.token, ShareKind.memtable);
  if (h === null) return false;
  fn.memtable_unref(h);
  return true;
}
