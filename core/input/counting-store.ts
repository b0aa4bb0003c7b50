/**
 * An ObjectStore decorator that counts the bytes fetched through it. The ingest Lambda reports this number
 * (ValidationReport.bytesRead) to show that validation read headers, not whole series.
 */
import type { ObjectInfo, ObjectStore } from "../ports/object-store.js";

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

  async getRange(key: string, start: number, end: number): Promise<Uint8Array> {
    const bytes = await this.inner.getRange(key, start, end);
    this.#bytesRead += bytes.length;
    return bytes;
  }

  async get(key: string): Promise<Uint8Array> {
    const bytes = await this.inner.get(key);
    this.#bytesRead += bytes.length;
    return bytes;
  }

  put(key: string, body: Uint8Array | string, contentType?: string): Promise<void> {
    return this.inner.put(key, body, contentType);
  }
}
