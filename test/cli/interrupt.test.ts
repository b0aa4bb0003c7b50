/**
 * cli/interrupt.ts in a child process (a signal ends the process, so not in the test's own): clean-ups run
 * last registered first, asynchronous ones are awaited, and the exit status is the shell's for the signal;
 * a released registration leaves the signal's default behaviour. With the temp-path rules, this is what
 * `analyze`, `convert` and `submit` rely on to leave no temporary file or zipped scan behind.
 */
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, describe, expect, it } from "vitest";

const REPO = resolve(import.meta.dirname, "../..");
const work = mkdtempSync(join(tmpdir(), "deepsc-interrupt-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));

function run(script: string) {
  return spawnSync(process.execPath, ["--import", "tsx", "--input-type=module", "-e", script], {
    cwd: REPO,
    encoding: "utf8",
    timeout: 30_000,
  });
}

const imports = `
import { appendFileSync, writeFileSync } from "node:fs";
import { onInterrupt } from "./cli/interrupt.ts";
import { removeTempFilesSync, tempPathBeside } from "./core/util/temp-path.ts";
`;

describe("onInterrupt", () => {
  it("runs every clean-up (the last registered first, async ones awaited), then exits 130 on SIGINT", () => {
    const log = join(work, "order.log");
    const r = run(`${imports}
      const note = (line) => appendFileSync(${JSON.stringify(log)}, line + "\\n");
      onInterrupt(() => note("A"));
      onInterrupt(async () => {
        await new Promise((r) => setTimeout(r, 100));
        note("B (async)");
      });
      onInterrupt(() => note("C"));
      setInterval(() => {}, 1000);
      process.kill(process.pid, "SIGINT");
    `);
    expect(r.status, r.stderr).toBe(130);
    // C, then B started, then A; B's line comes when it settles, before the exit.
    expect(readFileSync(log, "utf8")).toBe("C\nA\nB (async)\n");
  });

  it("removes this process's temporary files on SIGTERM (143) and leaves other files and other processes' alone", () => {
    const dir = mkdtempSync(join(work, "out-"));
    const r = run(`${imports}
      const dir = ${JSON.stringify(dir)};
      writeFileSync(tempPathBeside(dir + "/lesions.nii.gz"), "partial");
      writeFileSync(dir + "/.lesions.nii.gz.1-0123456789ab.tmp", "another process's");
      writeFileSync(dir + "/diagnosis.json", "{}");
      onInterrupt(() => removeTempFilesSync(dir, process.pid));
      setInterval(() => {}, 1000);
      process.kill(process.pid, "SIGTERM");
    `);
    expect(r.status, r.stderr).toBe(143);
    expect(readdirSync(dir).sort()).toEqual([".lesions.nii.gz.1-0123456789ab.tmp", "diagnosis.json"]);
  });

  it("once released, leaves the signal to Node's default (the process is killed by it)", () => {
    const marker = join(work, "released.log");
    const r = run(`${imports}
      const release = onInterrupt(() => writeFileSync(${JSON.stringify(marker)}, "ran"));
      release();
      setInterval(() => {}, 1000);
      process.kill(process.pid, "SIGTERM");
    `);
    expect(r.signal).toBe("SIGTERM");
    expect(existsSync(marker)).toBe(false);
  });
});
