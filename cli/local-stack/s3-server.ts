/**
 * A real S3-protocol server on this machine (s3rver): the local stack's buckets, and the tests'. Clients
 * need s3rver's fixed credentials (S3RVER/S3RVER), path-style URLs and WHEN_REQUIRED checksums (DESIGN.md
 * §5; createS3Client sets the checksums). s3rver sends no bucket notifications, but its `event` fires on
 * every put, post, copy and delete: the local stack's stand-in for EventBridge.
 *
 * Trap: s3rver encrypts ListObjectsV2 continuation tokens with single DES, which OpenSSL 3 (Node >= 17)
 * only offers through the legacy provider, so every truncated listing (more than 1000 keys) fails with
 * "500 InternalError". installS3rverDesShim() fixes that in-process.
 */
import type { IncomingMessage, Server, ServerResponse } from "node:http";
import { createRequire } from "node:module";
import { type AddressInfo, createServer as createNetServer } from "node:net";
import type { S3Client } from "@aws-sdk/client-s3";
import { createS3Client } from "../../lambdas/adapters/s3-object-store.js";

/** The part of s3rver's (untyped) API used here. */
export interface S3rverInstance {
  run(): Promise<AddressInfo>;
  close(): Promise<void>;
  httpServer?: Server;
  on(event: "event", listener: (event: unknown) => void): unknown;
}
type S3rverConstructor = new (options: Record<string, unknown>) => S3rverInstance;

export const S3RVER_CREDENTIALS = { accessKeyId: "S3RVER", secretAccessKey: "S3RVER" } as const;
/** s3rver answers any region; clients and presigned URLs must agree on one. */
export const S3RVER_REGION = "us-east-1";

type CipherFactory = (alg: string, key: Uint8Array, iv: Uint8Array | null, options?: unknown) => unknown;

/**
 * Make `des` (DES-CBC) available to s3rver in this process: 3DES-EDE with the key repeated three times is
 * exactly single DES, and 3DES is still in OpenSSL 3's default provider. Only the "des" algorithm (which
 * otherwise throws "unsupported") is redirected.
 */
export function installS3rverDesShim(): void {
  const require = createRequire(import.meta.url);
  const crypto = require("node:crypto") as Record<string, unknown>;
  if (crypto.__s3rverDesShim) return;
  try {
    (crypto.createCipheriv as CipherFactory)("des", Buffer.alloc(8), Buffer.alloc(8));
    return; // DES works natively (legacy provider loaded); nothing to do.
  } catch {
    // fall through to the shim
  }
  const wrap = (original: CipherFactory): CipherFactory =>
    function (this: unknown, alg, key, iv, options) {
      if (alg.toLowerCase() !== "des" && alg.toLowerCase() !== "des-cbc")
        return original.call(this, alg, key, iv, options);
      const k = Buffer.from(key);
      return original.call(this, "des-ede3-cbc", Buffer.concat([k, k, k]), iv, options);
    };
  crypto.createCipheriv = wrap(crypto.createCipheriv as CipherFactory);
  crypto.createDecipheriv = wrap(crypto.createDecipheriv as CipherFactory);
  crypto.__s3rverDesShim = true;
}

export interface S3ServerOptions {
  /** Where the objects live (kept across restarts). */
  directory: string;
  /** @default "127.0.0.1" */
  address?: string;
  /** @default 0, a free port chosen by the OS */
  port?: number;
  /** Buckets created if missing. */
  buckets?: string[];
}

export interface S3Server {
  /** http://<address>:<port> */
  endpoint: string;
  port: number;
  server: S3rverInstance;
  /** A client bound to this server; close() destroys every client made here. */
  newClient(): S3Client;
  close(): Promise<void>;
}

/**
 * Refuse a port that is taken before s3rver tries it: s3rver's listen() reports the failure only as an
 * 'error' event nobody can catch, which ended the process with a stack trace.
 */
async function assertPortFree(address: string, port: number): Promise<void> {
  if (port === 0) return;
  const probe = createNetServer();
  await new Promise<void>((resolve, reject) => {
    probe.once("error", reject);
    probe.listen(port, address, () => probe.close(() => resolve()));
  });
}

/** A file name's limit on the file systems s3rver writes to (ext4, xfs, APFS, NTFS: 255 bytes or units). */
const MAX_NAME_BYTES = 255;
/** What s3rver appends to a key's last segment for its longest file (filesystem.js S3RVER_SUFFIX). */
const S3RVER_FILE_SUFFIX = "._S3rver_metadata.json";

/** Whether a path-style request names a key the file store cannot hold as files. */
export function unstorableKey(url: string): boolean {
  let path: string;
  try {
    path = decodeURIComponent(new URL(url, "http://s3").pathname);
  } catch {
    return false;
  }
  const segments = path.split("/").slice(2); // "", the bucket, then the key's segments
  return segments.some(
    (segment, i) =>
      Buffer.byteLength(segment, "utf8") +
        (i === segments.length - 1 ? Buffer.byteLength(S3RVER_FILE_SUFFIX) : 0) >
      MAX_NAME_BYTES,
  );
}

/**
 * s3rver keeps an object as files named after its key's segments, the last with a suffix: a segment the
 * file system cannot name (80 CJK characters are enough; S3 itself takes 1024 bytes of key) failed a write
 * stream nobody handled, and the whole local stack exited, the key (perhaps a patient's name) in its stack
 * trace. Such a request gets S3's KeyTooLongError here, before s3rver sees it.
 */
function refuseUnstorableKeys(http: Server): void {
  const handlers = http.listeners("request") as Array<(req: IncomingMessage, res: ServerResponse) => void>;
  http.removeAllListeners("request");
  http.on("request", (req: IncomingMessage, res: ServerResponse) => {
    if (unstorableKey(req.url ?? "/")) {
      req.resume();
      res.writeHead(400, { "content-type": "application/xml" });
      res.end(
        '<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>KeyTooLongError</Code><Message>' +
          `The local S3 server stores objects as files: no segment of a key may exceed ${MAX_NAME_BYTES} bytes (the last ${MAX_NAME_BYTES - S3RVER_FILE_SUFFIX.length}). Use shorter names, as the README advises (IM0001.dcm, a UID).` +
          "</Message></Error>",
      );
      return;
    }
    for (const handle of handlers) handle.call(http, req, res);
  });
}

export async function startS3Server(options: S3ServerOptions): Promise<S3Server> {
  installS3rverDesShim();
  await assertPortFree(options.address ?? "127.0.0.1", options.port ?? 0);
  const require = createRequire(import.meta.url);
  const S3rver = require("s3rver") as S3rverConstructor;
  const address = options.address ?? "127.0.0.1";
  const server = new S3rver({
    address,
    port: options.port ?? 0,
    silent: true,
    directory: options.directory,
    configureBuckets: (options.buckets ?? []).map((name) => ({ name })),
  });
  const bound = await server.run();
  if (server.httpServer) refuseUnstorableKeys(server.httpServer);
  const host = address.includes(":") ? `[${address}]` : address;
  const endpoint = `http://${host}:${bound.port}`;
  const clients: S3Client[] = [];
  let closed = false;
  return {
    endpoint,
    port: bound.port,
    server,
    newClient() {
      const c = createS3Client({
        endpoint,
        region: S3RVER_REGION,
        forcePathStyle: true,
        credentials: S3RVER_CREDENTIALS,
      });
      clients.push(c);
      return c;
    },
    async close() {
      if (closed) return;
      closed = true;
      for (const c of clients) c.destroy();
      // Keep-alive sockets would hold close() open until they time out.
      server.httpServer?.closeAllConnections();
      await server.close();
    },
  };
}
