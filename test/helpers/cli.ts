/** Run the built `deepsc` command (dist/, built by `npm test`'s pretest) as a user would. */
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { resolve } from "node:path";

export const DEEPSC = resolve(import.meta.dirname, "../../dist/bin/deepsc.mjs");

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

export function deepsc(args: string[], opts: { timeoutMs?: number } = {}): CliResult {
  if (!existsSync(DEEPSC))
    throw new Error(`${DEEPSC} is missing: run \`npm run build\` first (npm test does).`);
  const r = spawnSync(process.execPath, [DEEPSC, ...args], {
    encoding: "utf8",
    timeout: opts.timeoutMs ?? 120_000,
    maxBuffer: 64 * 1024 * 1024,
  });
  if (r.error) throw r.error;
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}
