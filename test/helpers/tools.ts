/** External reference tools used as cross-checks (installed by .ci/run from Debian). */
import { execFileSync, spawnSync } from "node:child_process";

export function hasTool(cmd: string, args: string[] = ["--version"]): boolean {
  const r = spawnSync(cmd, args, { stdio: "ignore" });
  return r.error === undefined;
}

export function python(script: string, args: string[]): string {
  return execFileSync("/usr/bin/python3", [script, ...args], {
    encoding: "utf8",
    maxBuffer: 64 * 1024 * 1024,
  });
}

export function run(cmd: string, args: string[]): string {
  return execFileSync(cmd, args, {
    encoding: "utf8",
    maxBuffer: 64 * 1024 * 1024,
    stdio: ["ignore", "pipe", "pipe"],
  });
}
