/**
 * Reading environment variables without requiring them: Deno without `--allow-env` throws on
 * any read; the library then behaves as if the variable were unset.
 *
 * @module
 */
import process from "node:process";

/** The variable's value, or undefined when it is unset, empty or not readable. */
export function readEnv(name: string): string | undefined {
  try {
    return process.env[name] || undefined;
  } catch {
    return undefined;
  }
}
