/**
 * The `Deno.dlopen` binding, derived from `symbols.ts`. Buffers are passed as a pointer made
 * once per buffer (a fresh pointer object per call costs hundreds of nanoseconds), and the
 * symbols are taken out of `lib.symbols` once so V8's fast call path applies.
 *
 * @module
 */
import {
  type Binding,
  type BufArg,
  type NativeFunctions,
  type NativeKind,
  type OpenLibrary,
  symbols,
} from "./symbols.ts";

const kinds: Record<NativeKind, Deno.NativeType> = {
  u32: "u32",
  i32: "i32",
  f64: "f64",
  buf: "pointer",
  bytes: "buffer",
  handle: "pointer",
};

function open(path: string): OpenLibrary {
  const spec: Record<string, Deno.ForeignFunction> = {};
  for (const [name, s] of Object.entries(symbols)) {
    spec[name] = { parameters: s.args.map((k) => kinds[k]), result: kinds[s.result] };
  }
  const lib = Deno.dlopen(path, spec);
  const functions: Record<string, unknown> = {};
  for (const name of Object.keys(symbols)) {
    functions[name] = (lib.symbols as Record<string, unknown>)[name];
  }
  return {
    functions: functions as unknown as NativeFunctions,
    bufArg: (bytes: Uint8Array) =>
      Deno.UnsafePointer.of(bytes as Uint8Array<ArrayBuffer>) as unknown as BufArg,
    close: () => lib.close(),
  };
}

export const binding: Binding = { open };
