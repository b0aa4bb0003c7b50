/**
 * An ObjectStore decorator that counts the bytes fetched through it. The ingest Lambda reports this number
 * (ValidationReport.bytesRead) to show that validation read headers, not whole series.
 */
import type { ObjectInfo, ObjectStore, ReadOptions } from "../ports/object-store.js";

export class CountingObjectStore implements ObjectStore {
  #bytesRead = 0;

  constructor(private readonly inner: ObjectStore) {}

  /** Bytes returned by get and getRange so far (listing and head responses are metadata, not counted). */
  bytesRead(): number {
    return this.#bytesRead;
  }

  list(prefix: string): Promise<ObjectInfo[]> {
    return this.inner.list(prefix);
  }

  head(key: string): Promise<ObjectInfo> {
    return this.inner.head(key);
  }

  async getRange(key: string, start: number, end: number, opts?: ReadOptions): Promise<Uint8Array> {
    const bytes = await this.inner.getRange(key, start, end, opts);
    this.#bytesRead += bytes.length;
    return bytes;
  }

  async get(key: string, opts?: ReadOptions): Promise<Uint8Array> {
    const bytes = await this.inner.get(key, opts);
    this.#bytesRead += bytes.length;
    return bytes;
  }

  put(key: string, body: Uint8Array | string, contentType?: string): Promise<void> {
    return this.inner.put(key, body, contentType);
  }
}
