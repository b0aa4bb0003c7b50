/**
 * Write a file (text or bytes) so that readers see the old file or the whole new one, never a part: a temp file
 * beside it (created exclusively), fsync, rename. A crash leaves at most a temp file, named as
 * temp-path.ts says (`<tempPrefix><pid>-<random>.tmp`), which readers of the folder can recognise and skip.
 */
import { promises as fs } from "node:fs";
import path from "node:path";
import { tempPathBeside } from "./temp-path.js";

export interface WriteFileAtomicOptions {
  /** Permissions of the new file. @default 0o644 */
  mode?: number;
  /** Start of the temp file's name. @default `.<name>.` */
  tempPrefix?: string;
}

export async function writeFileAtomic(
  dir: string,
  name: string,
  data: string | Uint8Array,
  options: WriteFileAtomicOptions = {},
): Promise<void> {
  const tmp = tempPathBeside(path.join(dir, name), options.tempPrefix);
  const fh = await fs.open(tmp, "wx", options.mode ?? 0o644);
  try {
    await (typeof data === "string" ? fh.writeFile(data, "utf8") : fh.writeFile(data));
    await fh.sync();
  } finally {
    await fh.close();
  }
  try {
    await fs.rename(tmp, path.join(dir, name));
  } catch (e) {
    await fs.rm(tmp, { force: true });
    throw e;
  }
}
