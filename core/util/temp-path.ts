/**
 * The one naming rule for temporary files written beside their target and renamed into place
 * (write-file-atomic.ts, the NIfTI writers): `<prefix><pid>-<12 hex>.tmp`, the prefix `.<name>.` by default.
 * The pid says whose they are, so an interrupted process can remove its own and a later run the ones a
 * killed run left.
 */
import { randomBytes } from "node:crypto";
import { readdirSync, rmSync } from "node:fs";
import { basename, dirname, join } from "node:path";
import { isProcessRunning } from "./process-running.js";

const TEMP_SUFFIX = ".tmp";

const TEMP_NAME = /^\..+\.(\d+)-[0-9a-f]{12}\.tmp$/;

/** A fresh temporary path in `target`'s folder (same file system: the final rename is atomic). */
export function tempPathBeside(target: string, prefix = `.${basename(target)}.`): string {
  return join(dirname(target), `${prefix}${process.pid}-${randomBytes(6).toString("hex")}${TEMP_SUFFIX}`);
}

/** Whether a file name is one of these temporary files. */
export function isTempName(name: string): boolean {
  return TEMP_NAME.test(name);
}

/**
 * Remove the temporary files process `pid` wrote directly in `dir`. Synchronous, so that a signal handler
 * can call it just before the process exits; a missing folder or a file already gone is nothing to report.
 */
export function removeTempFilesSync(dir: string, pid: number): void {
  removeTempFilesWhere(dir, (writer) => writer === pid);
}

/**
 * Remove the temporary files directly in `dir` that a killed run left: those whose writer is no longer
 * running, or is this process (a pid reused, as every container's first process is pid 1: this process
 * writes none before it calls this). Another live process's file is its own business (a convert writing
 * into the same folder).
 */
export function removeStaleTempFilesSync(dir: string): void {
  removeTempFilesWhere(dir, (writer) => writer === process.pid || !isProcessRunning(writer));
}

function removeTempFilesWhere(dir: string, remove: (writerPid: number) => boolean): void {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return;
  }
  for (const name of names) {
    const m = TEMP_NAME.exec(name);
    if (m && remove(Number(m[1]))) rmSync(join(dir, name), { force: true });
  }
}
