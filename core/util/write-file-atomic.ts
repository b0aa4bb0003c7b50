/**
 * Write a small text file so that readers see the old file or the whole new one, never a part: a temp file
 * beside it (created exclusively), fsync, rename. A crash leaves at most a temp file, named
 * `<tempPrefix><pid>-<random><ATOMIC_TEMP_SUFFIX>`, which readers of the folder can recognise and skip.
 */
import { randomBytes } from "node:crypto";
import { promises as fs } from "node:fs";
import path from "node:path";

export const ATOMIC_TEMP_SUFFIX = ".tmp";

export interface WriteFileAtomicOptions {
  /** Permissions of the new file. @default 0o644 */
  mode?: number;
  /** Start of the temp file's name. @default `.<name>.` */
  tempPrefix?: string;
}

export async function writeFileAtomic(
  dir: string,
  name: string,
  text: string,
  options: WriteFileAtomicOptions = {},
): Promise<void> {
  const prefix = options.tempPrefix ?? `.${name}.`;
  const tmp = path.join(
    dir,
    `${prefix}${process.pid}-${randomBytes(6).toString("hex")}${ATOMIC_TEMP_SUFFIX}`,
  );
  const fh = await fs.open(tmp, "wx", options.mode ?? 0o644);
  try {
    await fh.writeFile(text, "utf8");
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
