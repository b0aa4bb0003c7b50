/**
 * Builds the `deepsc` bin: cli/main.ts and what it imports as one esbuild bundle in dist/bin/ (part of
 * `npm run build`). Why a bundle and not tsc's file-per-module output: start-up. Node resolves, reads and
 * compiles each ESM module separately (about 200 of them, plus zod's own files), which cost `deepsc convert`
 * about 0.15 s of a conversion that takes about 0.5 s (bench/README.md). The bundle is split so that each
 * command still loads only its own code: `convert` never loads the report writers, PDF or PNG libraries.
 *
 * Left outside the bundle and resolved from node_modules at run time: onnxruntime-node (native addon),
 * dcmjs (loaded with createRequire), the @cornerstonejs codecs (WebAssembly beside their JavaScript), and
 * s3rver and dynalite (the local stack's servers, CommonJS with files of their own).
 */
import { rmSync } from "node:fs";
import { build } from "esbuild";

// Chunk names carry a content hash: without this every build would leave the last build's chunks beside
// the new ones (420 files, 153 MB after a day of builds).
rmSync("dist/bin", { recursive: true, force: true });
await build({
  entryPoints: { deepsc: "cli/main.ts" },
  outdir: "dist/bin",
  outExtension: { ".js": ".mjs" },
  chunkNames: "chunks/[name]-[hash]",
  bundle: true,
  splitting: true,
  format: "esm",
  platform: "node",
  target: "node20",
  external: ["onnxruntime-node", "dcmjs", "@cornerstonejs/*", "s3rver", "dynalite"],
  // CommonJS dependencies (yauzl, pngjs, ...) call require() for Node's built-ins; an ESM bundle has none.
  banner: {
    js: "import { createRequire as __createRequire } from 'node:module'; const require = __createRequire(import.meta.url);",
  },
  // Stack traces of internal errors keep the source's function names; a .map beside each file maps lines.
  keepNames: true,
  sourcemap: "linked",
  logLevel: "warning",
});
