/**
 * How error messages show a user key: quoted text when it is printable UTF-8, else hex; long
 * keys are cut.
 *
 * @module
 */

const decoder = new TextDecoder("utf-8", { fatal: true });

/** `key` as error messages show it (see the module notes). */
export function keyLabel(key: Uint8Array | string): string {
  let text: string | undefined = typeof key === "string" ? key : undefined;
  if (text === undefined) {
    try {
      text = decoder.decode(key as Uint8Array);
    } catch {
      text = undefined;
    }
  }
  // deno-lint-ignore no-control-regex
  if (text !== undefined && !/[\u0000-\u001f\u007f]/.test(text)) {
    return JSON.stringify(text.length > 64 ? `${text.slice(0, 64)}…` : text);
  }
  const bytes = key as Uint8Array;
  let hex = "";
  for (const b of bytes.subarray(0, 32)) hex += b.toString(16).padStart(2, "0");
  return `0x${hex}${bytes.length > 32 ? "…" : ""} (${bytes.length} bytes)`;
}
