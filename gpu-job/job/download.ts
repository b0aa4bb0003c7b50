/**
 * One object -> one local file, streamed: the bytes pass through a SHA-256 and a byte count on their way to
 * disk, so a multi-gigabyte upload needs a few MiB of memory and is checked without a second read.
 */
import { createHash } from "node:crypto";
import { createWriteStream } from "node:fs";
import { mkdir } from "node:fs/promises";
import path from "node:path";
import { Transform } from "node:stream";
import { pipeline } from "node:stream/promises";
import type { FileDigest } from "./hash.js";
import { withTransferRetries } from "./retry.js";
import type { JobStore } from "./store.js";

/** Download `key` to `filePath` (parent folders created, an existing file replaced); returns size and sha256. */
export async function downloadToFile(store: JobStore, key: string, filePath: string): Promise<FileDigest> {
  await mkdir(path.dirname(filePath), { recursive: true });
  // A broken connection restarts the object from its first byte (the file is rewritten, the hash reset).
  return withTransferRetries(() => downloadOnce(store, key, filePath));
}

async function downloadOnce(store: JobStore, key: string, filePath: string): Promise<FileDigest> {
  const body = await store.openRead(key);
  const hash = createHash("sha256");
  let size = 0;
  const tap = new Transform({
    transform(chunk: Buffer, _enc, done) {
      hash.update(chunk);
      size += chunk.length;
      done(null, chunk);
    },
  });
  await pipeline(body, tap, createWriteStream(filePath, { flags: "w", mode: 0o600 }));
  return { sha256: hash.digest("hex"), size };
}
