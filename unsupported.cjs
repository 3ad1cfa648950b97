// What `import "memtable"` / `require("memtable")` from the npm package gives where it cannot run
// (package.json's "deno", "node" and "default" conditions): one error that says what to do.
// - Node.js: the package calls its native library through bun:ffi or Deno.dlopen, and Node.js has
//   neither (its own node:ffi is experimental, behind --experimental-ffi, and not in every
//   build); nor does it run TypeScript from node_modules.
// - Deno: it runs the package from JSR or a URL, not from npm: Deno does not strip types of
//   TypeScript files under node_modules.
const { engines } = require("./package.json");
const deno = typeof Deno === "object" && Deno !== null && typeof Deno.version === "object";
const node = typeof process === "object" && process.versions && process.versions.node;
throw new Error(
  deno
    ? "memtable's npm package runs on Bun; from Deno, import it from JSR " +
      '(`deno add jsr:@memtable/memtable`, then `import { MemTable } from "@memtable/memtable"`): ' +
      "Deno does not run TypeScript from node_modules."
    : `memtable runs on Bun (${engines.bun}) or Deno (${engines.deno}), not on ` +
      `${node ? `Node.js ${node}` : "this runtime"}: it calls its native library through ` +
      "bun:ffi or Deno.dlopen. Run your program with `bun`, or with `deno run` from JSR.",
);
