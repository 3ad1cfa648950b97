/**
 * The command line's arguments: a command's options (`--name`, `--name=value`, `--name value`)
 * and its positional arguments, checked against what the command declares. Anything else is a
 * `UsageError` naming the command and what was wrong (exit code 1).
 *
 * @module
 */

/** A wrong command line: the message names the command; exit code 1. */
export class UsageError extends Error {
  /** The command whose usage was wrong (undefined: the command itself was). */
  readonly command: string | undefined;

  constructor(command: string | undefined, message: string) {
    super(message);
    this.name = "UsageError";
    this.command = command;
  }
}

/** What a command accepts. */
export interface CommandSpec {
  /** Options that take no value. */
  flags: readonly string[];
  /** Options that take one value. */
  values: readonly string[];
  /** The names of its positional arguments, in order (all required). */
  positional: readonly string[];
}

/** A parsed command line of one command. */
export interface Parsed {
  flags: Set<string>;
  values: Map<string, string>;
  positional: string[];
}

/** Parses `args` (after the command name) by `spec`; `--` ends the options. */
export function parseArguments(
  command: string,
  spec: CommandSpec,
  args: readonly string[],
): Parsed {
  const flags = new Set<string>();
  const values = new Map<string, string>();
  const positional: string[] = [];
  let optionsEnded = false;
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    if (optionsEnded || !arg.startsWith("-") || arg === "-") {
      positional.push(arg);
      continue;
    }
    if (arg === "--") {
      optionsEnded = true;
      continue;
    }
    if (arg === "-h") {
      flags.add("help");
      continue;
    }
    if (!arg.startsWith("--")) {
      throw new UsageError(command, `unknown option ${arg}`);
    }
    const eq = arg.indexOf("=");
    const name = arg.slice(2, eq === -1 ? undefined : eq);
    if (name === "help" || spec.flags.includes(name)) {
      if (eq !== -1) throw new UsageError(command, `option --${name} takes no value`);
      flags.add(name);
      continue;
    }
    if (!spec.values.includes(name)) {
      const known = [...spec.flags, ...spec.values, "help"].map((n) => `--${n}`).join(", ");
      throw new UsageError(command, `unknown option --${name} (it takes ${known})`);
    }
    let value: string;
    if (eq !== -1) value = arg.slice(eq + 1);
    else {
      const next = args[i + 1];
      if (next === undefined) throw new UsageError(command, `option --${name} needs a value`);
      value = next;
      i++;
    }
    if (values.has(name)) throw new UsageError(command, `option --${name} is given twice`);
    values.set(name, value);
  }
  if (flags.has("help")) return { flags, values, positional };
  if (positional.length < spec.positional.length) {
    const missing = spec.positional.slice(positional.length).map((p) => p.toUpperCase());
    throw new UsageError(command, `missing ${missing.join(" and ")}`);
  }
  if (positional.length > spec.positional.length) {
    const extra = positional.slice(spec.positional.length);
    throw new UsageError(command, `unexpected argument ${JSON.stringify(extra[0])}`);
  }
  return { flags, values, positional };
}

/** The value of `--limit` (a non-negative integer), if given. */
export function limitOption(command: string, p: Parsed): number | undefined {
  const v = p.values.get("limit");
  if (v === undefined) return undefined;
  if (!/^\d+$/.test(v) || !Number.isSafeInteger(Number(v))) {
    throw new UsageError(
      command,
      `--limit must be a non-negative integer, got ${JSON.stringify(v)}`,
    );
  }
  return Number(v);
}
