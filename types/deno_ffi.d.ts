/**
 * The slice of Deno's FFI API that `src/ffi/deno.ts` uses, for the Bun-side type check (tsc
 * with bun-types) only; `deno check` uses Deno's own declarations and never reads this file.
 */
declare namespace Deno {
  type NativeType = "u32" | "i32" | "f64" | "pointer" | "buffer";
  interface ForeignFunction {
    parameters: NativeType[];
    result: NativeType;
  }
  interface DynamicLibrary {
    symbols: Record<string, (...args: unknown[]) => unknown>;
    close(): void;
  }
  function dlopen(path: string, symbols: Record<string, ForeignFunction>): DynamicLibrary;
  type PointerObject = { readonly __pointer: unique symbol };
  const UnsafePointer: {
    of(value: ArrayBufferView): PointerObject | null;
  };
}
