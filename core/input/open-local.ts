/**
 * Open a local path as an InputSource: a folder, a zip (by its magic number or a .zip name), or any other
 * single file (DICOM vs NIfTI is decided later, from content). A path that does not exist is a usage error
 * (a plain Error naming it), not a rejection of the input.
 */
import { stat } from "node:fs/promises";
import path from "node:path";
import { FileRandomAccess, openFileSource } from "./file-source.js";
import { openFolderSource } from "./folder-source.js";
import { DEFAULT_LIMITS, type InputLimits, type InputSource } from "./source.js";
import { openZip } from "./zip-source.js";

/** A local file header, or the end record of an empty archive. */
function startsLikeZip(head: Uint8Array): boolean {
  return (
    head[0] === 0x50 &&
    head[1] === 0x4b &&
    ((head[2] === 3 && head[3] === 4) || (head[2] === 5 && head[3] === 6))
  );
}

/** The path given is not there (or is not a file or folder): a usage error, never a rejection of an upload. */
export class InputNotFoundError extends Error {
  override readonly name = "InputNotFoundError";
}

export async function openLocalInput(
  inputPath: string,
  limits: Partial<InputLimits> = {},
): Promise<InputSource> {
  const lim: InputLimits = { ...DEFAULT_LIMITS, ...limits };
  const absPath = path.resolve(inputPath);
  let st: Awaited<ReturnType<typeof stat>>;
  try {
    st = await stat(absPath);
  } catch (e) {
    throw new InputNotFoundError(`Input not found: ${inputPath}`, { cause: e });
  }
  if (st.isDirectory()) return openFolderSource(absPath, lim);
  if (!st.isFile())
    throw new InputNotFoundError(`Input is neither a regular file nor a folder: ${inputPath}`);

  const access = await FileRandomAccess.open(absPath);
  let head: Uint8Array;
  try {
    head = await access.read(0, 4);
  } catch (e) {
    await access.close();
    throw e;
  }
  const isZip = startsLikeZip(head) || absPath.toLowerCase().endsWith(".zip");
  if (isZip) return openZip(access, path.basename(absPath), "zip", lim);
  await access.close();
  return openFileSource(absPath, st.size, lim);
}
