/**
 * The ObjectStore port over Amazon S3 (or an S3-compatible server such as s3rver on the local stack).
 * Range reads are plain ranged GETs, so validation of a series in S3 fetches headers, not whole files.
 */
import {
  GetObjectCommand,
  HeadObjectCommand,
  type HeadObjectCommandOutput,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
  type S3ClientConfig,
} from "@aws-sdk/client-s3";
import {
  bareEtag,
  ObjectChangedError,
  type ObjectInfo,
  ObjectNotFoundError,
  type ObjectStore,
  type ReadOptions,
} from "../../core/ports/object-store.js";

export interface CreateS3ClientOptions {
  /** Custom endpoint (the local stack's S3 server); omit for AWS. */
  endpoint?: string;
  /** Omit to let the SDK read AWS_REGION from the Lambda environment. */
  region?: string;
  /** Path-style URLs (http://host/bucket/key), needed by S3-compatible servers on localhost. */
  forcePathStyle?: boolean;
  credentials?: S3ClientConfig["credentials"];
}

export function createS3Client(opts: CreateS3ClientOptions = {}): S3Client {
  return new S3Client({
    ...(opts.endpoint !== undefined ? { endpoint: opts.endpoint } : {}),
    ...(opts.region !== undefined ? { region: opts.region } : {}),
    ...(opts.credentials !== undefined ? { credentials: opts.credentials } : {}),
    forcePathStyle: opts.forcePathStyle ?? false,
    // Since SDK 3.729 the default ("WHEN_SUPPORTED") sends every upload as aws-chunked with a trailing
    // CRC32 and validates checksums on every download. S3-compatible servers (s3rver, which the local
    // stack and the tests use) do not decode aws-chunked bodies and store the chunk framing as object
    // bytes, i.e. silently corrupted objects. WHEN_REQUIRED restores plain bodies and only adds checksums
    // where an API demands them; S3 itself still verifies Content-MD5/TLS integrity.
    requestChecksumCalculation: "WHEN_REQUIRED",
    responseChecksumValidation: "WHEN_REQUIRED",
  });
}

/** `{etag}` without S3's quotes, or nothing when the response carried none. */
export function etagOf(raw: string | undefined): { etag?: string } {
  return raw === undefined || raw === "" ? {} : { etag: bareEtag(raw) };
}

/**
 * The object's full-object checksum, as `algorithm:value`. S3 computes CRC64NVME for every upload that sends no
 * checksum of its own and keeps the one a client sends; a COMPOSITE checksum (a multipart upload's
 * checksum of part checksums) depends on the part sizes, not only on the bytes, so it is not one.
 */
export function fullObjectChecksumOf(res: HeadObjectCommandOutput): { checksum?: string } {
  if (res.ChecksumType !== undefined && res.ChecksumType !== "FULL_OBJECT") return {};
  const found = (
    [
      ["crc64nvme", res.ChecksumCRC64NVME],
      ["crc32c", res.ChecksumCRC32C],
      ["crc32", res.ChecksumCRC32],
      ["sha256", res.ChecksumSHA256],
      ["sha1", res.ChecksumSHA1],
    ] as const
  ).find(([, value]) => value !== undefined && value !== "" && !value.includes("-"));
  return found === undefined ? {} : { checksum: `${found[0]}:${found[1]}` };
}

function isNotFound(e: unknown): boolean {
  if (typeof e !== "object" || e === null) return false;
  const err = e as { name?: unknown; $metadata?: { httpStatusCode?: number } };
  return err.name === "NotFound" || err.name === "NoSuchKey" || err.$metadata?.httpStatusCode === 404;
}

function isPreconditionFailed(e: unknown): boolean {
  if (typeof e !== "object" || e === null) return false;
  const err = e as { name?: unknown; $metadata?: { httpStatusCode?: number } };
  return err.name === "PreconditionFailed" || err.$metadata?.httpStatusCode === 412;
}

/** The If-Match header for a bare entity tag (HTTP wants it quoted). */
const ifMatchOf = (opts: ReadOptions | undefined) =>
  opts?.ifMatch !== undefined ? { IfMatch: `"${opts.ifMatch}"` } : {};

/**
 * S3 answers a mismatched If-Match with 412; a server that ignores the header (s3rver) still names the
 * version it served in ETag, so both are checked. The unread body is dropped so its connection is freed.
 */
function checkServedVersion(
  key: string,
  opts: ReadOptions | undefined,
  res: { ETag?: string | undefined; Body?: unknown },
): void {
  if (opts?.ifMatch === undefined || res.ETag === undefined || bareEtag(res.ETag) === opts.ifMatch) return;
  (res.Body as { destroy?: () => void } | undefined)?.destroy?.();
  throw new ObjectChangedError(key);
}

function isInvalidRange(e: unknown): boolean {
  if (typeof e !== "object" || e === null) return false;
  const err = e as { name?: unknown; $metadata?: { httpStatusCode?: number } };
  return err.name === "InvalidRange" || err.$metadata?.httpStatusCode === 416;
}

export class S3ObjectStore implements ObjectStore {
  constructor(
    private readonly client: S3Client,
    readonly bucket: string,
  ) {}

  async list(prefix: string): Promise<ObjectInfo[]> {
    const out: ObjectInfo[] = [];
    let token: string | undefined;
    do {
      const page = await this.client.send(
        new ListObjectsV2Command({ Bucket: this.bucket, Prefix: prefix, ContinuationToken: token }),
      );
      for (const o of page.Contents ?? []) {
        if (o.Key !== undefined) out.push({ key: o.Key, size: o.Size ?? 0, ...etagOf(o.ETag) });
      }
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token !== undefined);
    // S3 already answers in UTF-8 byte order; S3-compatible servers are not all as careful.
    return out.sort((a, b) => Buffer.compare(Buffer.from(a.key), Buffer.from(b.key)));
  }

  async head(key: string): Promise<ObjectInfo> {
    try {
      // ChecksumMode: S3 only reports an object's stored checksum when asked (kms:Decrypt for SSE-KMS objects,
      // which reading them needs anyway). Servers that keep none (s3rver) ignore the header.
      const res = await this.client.send(
        new HeadObjectCommand({ Bucket: this.bucket, Key: key, ChecksumMode: "ENABLED" }),
      );
      return { key, size: res.ContentLength ?? 0, ...etagOf(res.ETag), ...fullObjectChecksumOf(res) };
    } catch (e) {
      if (isNotFound(e)) throw new ObjectNotFoundError(key, { cause: e });
      throw e;
    }
  }

  async getRange(key: string, start: number, end: number, opts?: ReadOptions): Promise<Uint8Array> {
    if (!Number.isSafeInteger(start) || !Number.isSafeInteger(end) || start < 0)
      throw new RangeError(`Invalid byte range [${start}, ${end})`);
    // An HTTP range cannot be empty; [start, start) is answered without a request.
    if (end <= start) return new Uint8Array(0);
    try {
      const res = await this.client.send(
        new GetObjectCommand({
          Bucket: this.bucket,
          Key: key,
          Range: `bytes=${start}-${end - 1}`,
          ...ifMatchOf(opts),
        }),
      );
      checkServedVersion(key, opts, res);
      const bytes = (await res.Body?.transformToByteArray()) ?? new Uint8Array(0);
      // A server that ignores Range answers 200 with the whole object; keep only what was asked.
      if (res.ContentRange === undefined && bytes.length > end - start) return bytes.slice(start, end);
      return bytes;
    } catch (e) {
      if (isNotFound(e)) throw new ObjectNotFoundError(key, { cause: e });
      if (isPreconditionFailed(e)) throw new ObjectChangedError(key, { cause: e });
      // A start at or past the end is "416 Range Not Satisfiable"; the port clamps it to no bytes.
      if (isInvalidRange(e)) return new Uint8Array(0);
      throw e;
    }
  }

  async get(key: string, opts?: ReadOptions): Promise<Uint8Array> {
    try {
      const res = await this.client.send(
        new GetObjectCommand({ Bucket: this.bucket, Key: key, ...ifMatchOf(opts) }),
      );
      checkServedVersion(key, opts, res);
      return (await res.Body?.transformToByteArray()) ?? new Uint8Array(0);
    } catch (e) {
      if (isNotFound(e)) throw new ObjectNotFoundError(key, { cause: e });
      if (isPreconditionFailed(e)) throw new ObjectChangedError(key, { cause: e });
      throw e;
    }
  }

  async put(key: string, body: Uint8Array | string, contentType?: string): Promise<void> {
    await this.client.send(
      new PutObjectCommand({
        Bucket: this.bucket,
        Key: key,
        Body: body,
        ...(contentType !== undefined ? { ContentType: contentType } : {}),
      }),
    );
  }
}
