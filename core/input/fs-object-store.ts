/**
 * An ObjectStore over a local folder: the local stack's "bucket" and a fast stand-in for S3 in tests.
 * Keys are relative POSIX paths under the root. Keys come from API clients on the local stack, so anything
 * that could leave the root ('..', absolute paths, backslashes) is refused before touching the disk.
 */
import { randomBytes } from "node:crypto";
import {
  type FileHandle,
  mkdir,
  open,
  readdir,
  readFile,
  rename,
  rm,
  stat,
  writeFile,
} from "node:fs/promises";
import path from "node:path";
import { relativeKeyProblem } from "../contracts/upload-manifest.js";
import { type ObjectInfo, ObjectNotFoundError, type ObjectStore } from "../ports/object-store.js";

/** Where puts are staged before the atomic rename; never listed and never a valid key. */
const STAGING_DIR = ".fs-object-store-staging";

export class FsObjectStore implements ObjectStore {
  readonly root: string;

  constructor(root: string) {
    this.root = path.resolve(root);
  }

  async list(prefix: string): Promise<ObjectInfo[]> {
    // S3 prefixes are plain string prefixes ("a/b" matches "a/bc/d"); walk only from the deepest folder the
    // prefix names completely, then filter.
    const slash = prefix.lastIndexOf("/");
    const dirKey = slash >= 0 ? prefix.slice(0, slash) : "";
    if (dirKey !== "" && relativeKeyProblem(dirKey) !== undefined) return [];
    const out: ObjectInfo[] = [];
    await this.#walk(dirKey, prefix, out);
    // S3 lists in UTF-8 byte order; plain string comparison differs for astral characters.
    return out.sort((a, b) => Buffer.compare(Buffer.from(a.key), Buffer.from(b.key)));
  }

  async head(key: string): Promise<ObjectInfo> {
    const file = this.#path(key);
    try {
      const st = await stat(file);
      if (!st.isFile()) throw new ObjectNotFoundError(key);
      return { key, size: st.size };
    } catch (e) {
      throw notFoundOr(e, key);
    }
  }

  async getRange(key: string, start: number, end: number): Promise<Uint8Array> {
    checkRange(start, end);
    let handle: FileHandle | undefined;
    try {
      handle = await open(this.#path(key), "r");
      const size = (await handle.stat()).size;
      const to = Math.min(end, size);
      if (to <= start) return new Uint8Array(0);
      const buf = Buffer.alloc(to - start);
      let filled = 0;
      while (filled < buf.length) {
        const { bytesRead } = await handle.read(buf, filled, buf.length - filled, start + filled);
        if (bytesRead === 0) break;
        filled += bytesRead;
      }
      return new Uint8Array(buf.buffer, buf.byteOffset, filled);
    } catch (e) {
      throw notFoundOr(e, key);
    } finally {
      await handle?.close();
    }
  }

  async get(key: string): Promise<Uint8Array> {
    try {
      const buf = await readFile(this.#path(key));
      return new Uint8Array(buf.buffer, buf.byteOffset, buf.length);
    } catch (e) {
      throw notFoundOr(e, key);
    }
  }

  async put(key: string, body: Uint8Array | string, _contentType?: string): Promise<void> {
    const target = this.#path(key);
    const stagingDir = path.join(this.root, STAGING_DIR);
    await mkdir(stagingDir, { recursive: true });
    await mkdir(path.dirname(target), { recursive: true });
    // Write then rename: a reader (or a watcher reacting to manifest.json) never sees a half-written object.
    const staged = path.join(stagingDir, `${randomBytes(8).toString("hex")}.part`);
    try {
      await writeFile(staged, body);
      await rename(staged, target);
    } catch (e) {
      await rm(staged, { force: true });
      throw e;
    }
  }

  #path(key: string): string {
    const problem = relativeKeyProblem(key);
    if (problem !== undefined) throw new Error(`Invalid object key ${JSON.stringify(key)}: it ${problem}`);
    if (key.split("/")[0] === STAGING_DIR) throw new Error(`Invalid object key ${JSON.stringify(key)}`);
    return path.join(this.root, ...key.split("/"));
  }

  async #walk(dirKey: string, prefix: string, out: ObjectInfo[]): Promise<void> {
    const dir = dirKey === "" ? this.root : path.join(this.root, ...dirKey.split("/"));
    let dirents: import("node:fs").Dirent[];
    try {
      dirents = await readdir(dir, { withFileTypes: true });
    } catch (e) {
      if (isErrno(e, "ENOENT") || isErrno(e, "ENOTDIR")) return;
      throw e;
    }
    for (const d of dirents) {
      if (dirKey === "" && d.name === STAGING_DIR) continue;
      const key = dirKey === "" ? d.name : `${dirKey}/${d.name}`;
      // Prune subtrees that cannot match: neither a prefix of the prefix nor under it.
      if (d.isDirectory()) {
        if (prefix.startsWith(`${key}/`) || `${key}/`.startsWith(prefix) || key.startsWith(prefix))
          await this.#walk(key, prefix, out);
      } else if (d.isFile() && key.startsWith(prefix)) {
        // Symbolic links and special files are never objects: following them could leave the root.
        const st = await stat(path.join(dir, d.name));
        out.push({ key, size: st.size });
      }
    }
  }
}

function checkRange(start: number, end: number): void {
  if (!Number.isSafeInteger(start) || !Number.isSafeInteger(end) || start < 0)
    throw new RangeError(`Invalid byte range [${start}, ${end})`);
}

function isErrno(e: unknown, code: string): boolean {
  return typeof e === "object" && e !== null && (e as { code?: unknown }).code === code;
}

function notFoundOr(e: unknown, key: string): unknown {
  if (e instanceof ObjectNotFoundError) return e;
  if (isErrno(e, "ENOENT") || isErrno(e, "ENOTDIR") || isErrno(e, "EISDIR"))
    return new ObjectNotFoundError(key, { cause: e });
  return e;
}
