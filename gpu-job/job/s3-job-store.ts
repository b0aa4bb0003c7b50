/**
 * JobStore over Amazon S3 (or s3rver locally): the shared S3 ObjectStore adapter for lists, heads and range
 * reads, plus streamed GETs and PUTs. Bodies are never buffered whole: a 2 GB series moves through a few MiB.
 */
import { createReadStream } from "node:fs";
import { stat } from "node:fs/promises";
import { Readable } from "node:stream";
import { DeleteObjectCommand, GetObjectCommand, PutObjectCommand, type S3Client } from "@aws-sdk/client-s3";
import { type ObjectInfo, ObjectNotFoundError } from "../../core/ports/object-store.js";
import { S3ObjectStore } from "../../lambdas/adapters/s3-object-store.js";
import { withTransferRetries } from "./retry.js";
import type { JobStore, PutFileOptions } from "./store.js";

function isNotFound(e: unknown): boolean {
  if (typeof e !== "object" || e === null) return false;
  const err = e as { name?: unknown; $metadata?: { httpStatusCode?: number } };
  return err.name === "NotFound" || err.name === "NoSuchKey" || err.$metadata?.httpStatusCode === 404;
}

export class S3JobStore implements JobStore {
  readonly #objects: S3ObjectStore;

  constructor(
    private readonly client: S3Client,
    readonly bucket: string,
  ) {
    this.#objects = new S3ObjectStore(client, bucket);
  }

  list(prefix: string): Promise<ObjectInfo[]> {
    return this.#objects.list(prefix);
  }

  head(key: string): Promise<ObjectInfo> {
    return this.#objects.head(key);
  }

  getRange(key: string, start: number, end: number): Promise<Uint8Array> {
    return this.#objects.getRange(key, start, end);
  }

  get(key: string): Promise<Uint8Array> {
    return this.#objects.get(key);
  }

  put(key: string, body: Uint8Array | string, contentType?: string): Promise<void> {
    return this.#objects.put(key, body, contentType);
  }

  async openRead(key: string): Promise<Readable> {
    try {
      const res = await this.client.send(new GetObjectCommand({ Bucket: this.bucket, Key: key }));
      if (res.Body === undefined) return Readable.from([]);
      // In Node the SDK's body is an http.IncomingMessage (a Readable) with helper methods mixed in.
      return res.Body as Readable;
    } catch (e) {
      if (isNotFound(e)) throw new ObjectNotFoundError(key, { cause: e });
      throw e;
    }
  }

  async putFile(key: string, filePath: string, options: PutFileOptions = {}): Promise<void> {
    const { size } = await stat(filePath);
    // A fresh read stream per try: the SDK does not retry streamed bodies itself.
    await withTransferRetries(() => this.#putFileOnce(key, filePath, size, options));
  }

  async #putFileOnce(key: string, filePath: string, size: number, options: PutFileOptions): Promise<void> {
    await this.client.send(
      new PutObjectCommand({
        Bucket: this.bucket,
        Key: key,
        // A known length lets the SDK send a plain (not aws-chunked) streamed body.
        Body: createReadStream(filePath),
        ContentLength: size,
        ...(options.contentType !== undefined ? { ContentType: options.contentType } : {}),
        ...(options.sha256 !== undefined
          ? { ChecksumSHA256: Buffer.from(options.sha256, "hex").toString("base64") }
          : {}),
      }),
    );
  }

  async delete(key: string): Promise<void> {
    await this.client.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: key }));
  }
}
