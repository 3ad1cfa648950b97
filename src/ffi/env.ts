/**
 * Reading environment variables. Deno without `--allow-env` (for the variable) throws on a
 * read: `readEnv` treats that as unset, for optional overrides whose absence has a documented
 * default; `lookupEnv` reports it, for reads whose answer cannot be guessed.
 *
 * @module
 */
import process from "node:process";

/** The variable's value, or undefined when it is unset, empty or not readable. */
export function readEnv(name: string): string | undefined {
  const found = lookupEnv(name);
  return "value" in found ? found.value : undefined;
}

/**
 * What a read of the variable found: its value (undefined when unset or empty), or the error
 * of a read the runtime did not allow (Deno without `--allow-env` for it).
 */
export function lookupEnv(
  name: string,
): { readonly value: string | undefined } | { readonly denied: Error } {
  try {
    return { value: process.env[name] || undefined };
  } catch (e) {
    return { denied: e as Error };
  }
}
