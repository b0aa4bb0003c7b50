/**
 * A local folder as an input: every regular file below it, recursively, as entries with POSIX paths
 * relative to the folder, sorted. Hidden files and folders (.DS_Store, .git, ._resource forks) and macOS
 * __MACOSX folders are not part of a series and are skipped. Symbolic links are followed only while they
 * stay inside the folder: a link that escapes it is refused, because an "upload folder" that reaches
 * /etc or another patient's study is not the series the caller meant.
 */
import { type Dirent, statSync } from "node:fs";
import { readdir, realpath, stat } from "node:fs/promises";
import path from "node:path";
import { reject } from "../errors.js";
import { clampRange, type DirectReadEntry, readFileInto, readFileRange } from "./file-source.js";
import type { InputLimits, InputSource } from "./source.js";

/** True for a path segment that is never part of a series (hidden files, macOS archive debris). */
export function isIgnoredSegment(segment: string): boolean {
  return segment.startsWith(".") || segment === "__MACOSX";
}

interface FoundFile {
  rel: string;
  abs: string;
  size: number;
}

function isInside(root: string, candidate: string): boolean {
  const rel = path.relative(root, candidate);
  return rel === "" || (!rel.startsWith(`..${path.sep}`) && rel !== ".." && !path.isAbsolute(rel));
}

class FolderWalk {
  readonly files: FoundFile[] = [];
  #totalBytes = 0;
  /** Real paths already listed: a symlinked folder or file never yields its content twice (or loops). */
  readonly #seenDirs = new Set<string>();
  readonly #seenFiles = new Set<string>();

  constructor(
    private readonly rootReal: string,
    private readonly limits: InputLimits,
  ) {
    this.#seenDirs.add(rootReal);
  }

  async walk(dirReal: string, relPrefix: string): Promise<void> {
    const dirents: Dirent[] = await readdir(dirReal, { withFileTypes: true });
    dirents.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    for (const d of dirents) {
      if (isIgnoredSegment(d.name)) continue;
      const abs = path.join(dirReal, d.name);
      const rel = relPrefix === "" ? d.name : `${relPrefix}/${d.name}`;
      if (d.isSymbolicLink()) await this.#visitLink(abs, rel);
      else if (d.isDirectory()) await this.#visitDir(abs, rel);
      else if (d.isFile()) this.#visitFile(abs, rel);
      // FIFOs, sockets and devices are skipped: reading a FIFO would block forever.
    }
  }

  async #visitLink(abs: string, rel: string): Promise<void> {
    let target: string;
    try {
      target = await realpath(abs);
    } catch {
      return; // A dangling link holds no data; nothing to read, nothing to escape to.
    }
    if (!isInside(this.rootReal, target))
      reject(
        "ARCHIVE_UNSAFE",
        // Not named: folder names can be the patient's (reports name no paths; core/contracts/file-ref.ts).
        "A symbolic link in the folder points outside it: copy the files it points to into the folder instead (`find <folder> -type l` lists the links).",
      );
    const st = await stat(target);
    if (st.isDirectory()) await this.#visitDir(target, rel);
    else if (st.isFile()) this.#visitFile(target, rel);
  }

  async #visitDir(real: string, rel: string): Promise<void> {
    if (this.#seenDirs.has(real)) return;
    this.#seenDirs.add(real);
    await this.walk(real, rel);
  }

  #visitFile(real: string, rel: string): void {
    if (this.#seenFiles.has(real)) return;
    this.#seenFiles.add(real);
    // Synchronous: one stat of a listed file is a cheap syscall, cheaper than a thread-pool round trip,
    // and a series folder holds hundreds of them.
    const { size } = statSync(real);
    this.files.push({ rel, abs: real, size });
    // Stop walking as soon as a limit is crossed: a folder of millions of files must not be listed whole.
    if (this.files.length > this.limits.maxEntries)
      reject("TOO_LARGE", `The folder holds more than ${this.limits.maxEntries} files.`);
    this.#totalBytes += size;
    if (this.#totalBytes > this.limits.maxTotalBytes)
      reject("TOO_LARGE", `The folder holds more than ${this.limits.maxTotalBytes} bytes.`);
  }
}

export async function openFolderSource(absPath: string, limits: InputLimits): Promise<InputSource> {
  const name = path.basename(absPath);
  const rootReal = await realpath(absPath);
  const walk = new FolderWalk(rootReal, limits);
  await walk.walk(rootReal, "");
  if (walk.files.length === 0) reject("EMPTY_INPUT", "The folder holds no files.");
  walk.files.sort((a, b) => (a.rel < b.rel ? -1 : a.rel > b.rel ? 1 : 0));

  let bytesRead = 0;
  const entries: DirectReadEntry[] = walk.files.map(({ rel, abs, size }) => ({
    path: rel,
    size,
    async read(start?: number, end?: number) {
      const [s, e] = clampRange(start, end, size);
      if (e === s) return new Uint8Array(0);
      const bytes = await readFileRange(abs, s, e, rel);
      bytesRead += bytes.length;
      return bytes;
    },
    async readInto(start: number, target: Uint8Array) {
      await readFileInto(abs, start, target, rel);
      bytesRead += target.length;
    },
  }));
  return {
    container: "folder",
    name,
    entries,
    bytesRead: () => bytesRead,
    bytesTotal: walk.files.reduce((sum, f) => sum + f.size, 0),
    close: async () => {},
  };
}
