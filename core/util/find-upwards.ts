/**
 * The first `<dir>/<relative>` that exists, from `start` up to the file system's root: how code finds files
 * of this package (the model, the job's entrypoint) from wherever it runs — the sources, tsc's output in
 * dist/, the CLI bundle in dist/bin or the container's /app.
 */
import { existsSync } from "node:fs";
import { dirname, join } from "node:path";

export function findUpwards(start: string, relative: string): string | undefined {
  for (let dir = start; ; dir = dirname(dir)) {
    const candidate = join(dir, relative);
    if (existsSync(candidate)) return candidate;
    if (dirname(dir) === dir) return undefined;
  }
}
