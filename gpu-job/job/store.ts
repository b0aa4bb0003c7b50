/**
 * What the job needs from a bucket: the ObjectStore port (core/ports/object-store.ts) plus streaming reads
 * and file uploads, so stage-in and stage-out move scans of any size through constant memory, and deletes,
 * so a rerun can clear what an interrupted attempt left behind.
 */
import type { Readable } from "node:stream";
import type { ObjectStore } from "../../core/ports/object-store.js";

export interface PutFileOptions {
  contentType?: string;
  /** Hex SHA-256 of the file; S3 checks the received bytes against it and refuses the upload on mismatch. */
  sha256?: string;
}

export interface JobStore extends ObjectStore {
  readonly bucket: string;
  /** The object's bytes as a stream; rejects with ObjectNotFoundError when the key does not exist. */
  openRead(key: string): Promise<Readable>;
  /** Upload a local file, streamed from disk. */
  putFile(key: string, filePath: string, options?: PutFileOptions): Promise<void>;
  /** Delete a key; deleting a key that does not exist succeeds. */
  delete(key: string): Promise<void>;
}

/** One store per bucket: the job reads the ingest bucket (and the model's) and writes the results bucket. */
export type StoreFactory = (bucket: string) => JobStore;
