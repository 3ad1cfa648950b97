/**
 * How the command line shows bytes and writes its output. Keys and values are shown printable
 * (`'text'`, with `\\`, `\'` and `\xNN` escapes for everything outside printable ASCII) or, with
 * `--hex`, as RocksDB's tools show them (`0x` and upper-case hex). Keys given on the command
 * line are read the same way: UTF-8 text, or hex with `--hex`.
 *
 * Output goes to the file descriptors with synchronous writes, in chunks: nothing is lost when
 * the process exits, and a reader that goes away (`| head`) ends the output quietly.
 *
 * @module
 */
import { writeSync } from "node:fs";
import { UsageError } from "./args.ts";

const encoder = new TextEncoder();
const hexDigits = "0123456789ABCDEF";

/** `bytes` as upper-case hex, without a prefix. */
export function toHex(bytes: Uint8Array): string {
  let out = "";
  for (const b of bytes) out += hexDigits[b >> 4]! + hexDigits[b & 15]!;
  return out;
}

/** `bytes` quoted, printable ASCII as is, `\\` and `\'` escaped, any other byte as `\xNN`. */
export function escaped(bytes: Uint8Array): string {
  let out = "'";
  for (const b of bytes) {
    if (b === 0x5c) out += "\\\\";
    else if (b === 0x27) out += "\\'";
    else if (b >= 0x20 && b < 0x7f) out += String.fromCharCode(b);
    else out += `\\x${hexDigits[b >> 4]}${hexDigits[b & 15]}`;
  }
  return out + "'";
}

/** How keys and values are shown. */
export type Show = (bytes: Uint8Array) => string;

/** `--hex`: `0xHEX`; else `escaped`. */
export function showBytes(hex: boolean): Show {
  return hex ? (b) => `0x${toHex(b)}` : escaped;
}

/** A key from the command line: UTF-8, or hex (an optional `0x` prefix) when `hex`. */
export function keyArgument(command: string, what: string, text: string, hex: boolean): Uint8Array {
  if (!hex) return encoder.encode(text);
  const digits = text.startsWith("0x") || text.startsWith("0X") ? text.slice(2) : text;
  if (digits.length % 2 !== 0 || !/^[0-9a-fA-F]*$/.test(digits)) {
    throw new UsageError(
      command,
      `${what} ${JSON.stringify(text)} is not hex (with --hex, keys are given as hex digits, ` +
        `an even number of them, optionally after 0x)`,
    );
  }
  const out = new Uint8Array(digits.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(digits.slice(2 * i, 2 * i + 2), 16);
  return out;
}

/** Thrown by a write to a reader that went away: the command stops, successfully. */
export class OutputClosed extends Error {
  constructor() {
    super("the output was closed");
    this.name = "OutputClosed";
  }
}

/** Lines to one file descriptor, buffered up to `chunk` characters. */
export class LineWriter {
  readonly #fd: number;
  #buffer: string[] = [];
  #size = 0;
  static readonly chunk = 64 * 1024;

  constructor(fd: number) {
    this.#fd = fd;
  }

  /** Adds `text` and a newline. */
  line(text: string): void {
    this.#buffer.push(text, "\n");
    this.#size += text.length + 1;
    if (this.#size >= LineWriter.chunk) this.flush();
  }

  /** Writes what is buffered. */
  flush(): void {
    if (this.#size === 0) return;
    const bytes = encoder.encode(this.#buffer.join(""));
    this.#buffer = [];
    this.#size = 0;
    writeFully(this.#fd, bytes);
  }
}

/** Writes `bytes` to `fd`, all of them; a closed pipe is `OutputClosed`. */
export function writeFully(fd: number, bytes: Uint8Array): void {
  let at = 0;
  while (at < bytes.length) {
    try {
      at += writeSync(fd, bytes, at, bytes.length - at);
    } catch (e) {
      const code = (e as { code?: unknown }).code;
      if (code === "EAGAIN") continue;
      if (code === "EPIPE" || (e as Error).name === "BrokenPipe") throw new OutputClosed();
      throw e;
    }
  }
}

/** Writes `text` to standard error at once (messages, progress). */
export function writeError(text: string): void {
  try {
    writeFully(2, encoder.encode(text));
  } catch {
    // Nowhere left to report it.
  }
}

/** `n` bytes as a short size (`1.5 MiB`). */
export function size(n: number): string {
  if (n < 1024) return `${n} B`;
  const units = ["KiB", "MiB", "GiB", "TiB"];
  let v = n / 1024;
  let u = 0;
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  return `${v.toFixed(1)} ${units[u]}`;
}
