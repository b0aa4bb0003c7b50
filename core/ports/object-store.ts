/**
 * The object store port: what validation and stage-in need from S3 (or a local folder standing in for it).
 * Byte-range reads are first-class so the ingest Lambda can validate a series from headers alone.
 */
/** An entity tag without the quotes S3 wraps it in (events, HEAD and LIST carry it either way). */
export function bareEtag(raw: string): string {
  return raw.replace(/^"|"$/g, "");
}

export interface ObjectInfo {
  key: string;
  size: number;
  /** The store's entity tag without quotes (S3's ETag), where the store has one: it names the version. */
  etag?: string;
  /**
   * A checksum of the whole object's bytes (`crc64nvme:<base64>`), where the store keeps one: unlike an ETag,
   * which is not a content hash for SSE-KMS objects, identical bytes always give the same value. `head` only.
   */
  checksum?: string;
}

/**
 * `ifMatch`: read only the version with this entity tag (bare, as ObjectInfo carries it); any other content
 * under the key is an ObjectChangedError. A store that keeps no entity tags (a local folder) ignores it.
 */
export interface ReadOptions {
  ifMatch?: string;
}

export interface ObjectStore {
  /** All objects under a prefix (paginated internally), in key order. */
  list(prefix: string): Promise<ObjectInfo[]>;
  /** Size of one object; rejects if it does not exist. */
  head(key: string): Promise<ObjectInfo>;
  /** Bytes [start, end) of an object; `end` is clamped to the object's size. */
  getRange(key: string, start: number, end: number, opts?: ReadOptions): Promise<Uint8Array>;
  /** The whole object. */
  get(key: string, opts?: ReadOptions): Promise<Uint8Array>;
  put(key: string, body: Uint8Array | string, contentType?: string): Promise<void>;
}

/**
 * Raised by `head`, `get` and `getRange` when the key does not exist, so callers can tell "not there (yet)"
 * from transport failures without knowing which adapter (S3, local folder) they talk to.
 */
export class ObjectNotFoundError extends Error {
  override readonly name = "ObjectNotFoundError";
  constructor(
    readonly key: string,
    options?: { cause?: unknown },
  ) {
    super(`Object not found: ${key}`, options);
  }
}

/**
 * Raised by `get` and `getRange` when `ifMatch` names a version the key no longer holds: the object was
 * overwritten between the listing (or event) that named it and this read.
 */
export class ObjectChangedError extends Error {
  override readonly name = "ObjectChangedError";
  constructor(
    readonly key: string,
    options?: { cause?: unknown },
  ) {
    super(`Object changed since it was listed: ${key}`, options);
  }
}
