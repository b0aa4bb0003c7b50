/** Run the built `deepsc` command (dist/, built by `npm test`'s pretest) as a user would. */
import { spawn, spawnSync } from "node:child_process";
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

/**
 * deepsc() without blocking this process: for commands that talk to servers running in the test's own
 * process (the local stack), which a synchronous spawn would starve.
 */
export function deepscAsync(
  args: string[],
  opts: { timeoutMs?: number; env?: NodeJS.ProcessEnv } = {},
): Promise<CliResult> {
  if (!existsSync(DEEPSC))
    throw new Error(`${DEEPSC} is missing: run \`npm run build\` first (npm test does).`);
  return new Promise((resolvePromise, reject) => {
    const child = spawn(process.execPath, [DEEPSC, ...args], {
      env: opts.env ?? process.env,
      stdio: ["ignore", "pipe", "pipe"],
      timeout: opts.timeoutMs ?? 120_000,
    });
    let stdout = "";
    let stderr = "";
    child.stdout.setEncoding("utf8").on("data", (d: string) => {
      stdout += d;
    });
    child.stderr.setEncoding("utf8").on("data", (d: string) => {
      stderr += d;
    });
    child.once("error", reject);
    child.once("close", (code) => resolvePromise({ code: code ?? -1, stdout, stderr }));
  });
}
