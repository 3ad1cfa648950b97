/**
 * The `bun:ffi` binding, derived from `symbols.ts`. Buffers are passed as the typed array
 * itself (Bun's `ptr()` of a small array can go stale once the JIT tiers up).
 *
 * @module
 */
import { dlopen, FFIType } from "bun:ffi";
import {
  type Binding,
  type BufArg,
  type NativeFunctions,
  type NativeKind,
  type OpenLibrary,
  symbols,
} from "./symbols.ts";

const kinds: Record<NativeKind, FFIType> = {
  u32: FFIType.u32,
  i32: FFIType.i32,
  f64: FFIType.f64,
  buf: FFIType.ptr,
  bytes: FFIType.ptr,
  handle: FFIType.ptr,
};

function open(path: string): OpenLibrary {
  const spec: Record<string, { args: FFIType[]; returns: FFIType }> = {};
  for (const [name, s] of Object.entries(symbols)) {
    spec[name] = { args: s.args.map((k) => kinds[k]), returns: kinds[s.result] };
  }
  const lib = dlopen(path, spec);
  return {
    functions: lib.symbols as unknown as NativeFunctions,
    bufArg: (bytes: Uint8Array) => bytes as unknown as BufArg,
    close: () => lib.close(),
  };
}

export const binding: Binding = { open };
