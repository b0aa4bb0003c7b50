/**
 * A real S3-compatible server (s3rver) for integration tests: 127.0.0.1, a free port chosen by the OS, a
 * fresh temporary directory, and an S3Client configured the way s3rver needs (DESIGN.md §5: S3RVER/S3RVER
 * credentials, path-style URLs, WHEN_REQUIRED checksums). Call stop() in afterAll.
 *
 * Trap: s3rver encrypts ListObjectsV2 continuation tokens with single DES, which OpenSSL 3 (Node >= 17)
 * only offers through the legacy provider, so every truncated listing (more than 1000 keys) fails with
 * "500 InternalError". installS3rverDesShim() below fixes that in-process.
 *
 *   const s3 = await startS3rver({ buckets: ["uploads"] });
 *   const store = new S3ObjectStore(s3.client, "uploads");
 *   ...
 *   await s3.stop();
 */
import { mkdtemp, rm } from "node:fs/promises";
import type { Server } from "node:http";
import { createRequire } from "node:module";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import type { S3Client } from "@aws-sdk/client-s3";
import { createS3Client } from "../../lambdas/adapters/s3-object-store.js";

/** The part of s3rver's (untyped) API the helper uses. */
interface S3rverInstance {
  run(): Promise<AddressInfo>;
  close(): Promise<void>;
  httpServer?: Server;
  on(event: "event", listener: (event: unknown) => void): unknown;
}
type S3rverConstructor = new (options: Record<string, unknown>) => S3rverInstance;

export interface S3rverHandle {
  /** Client bound to this server (call stop() rather than destroying it yourself). */
  client: S3Client;
  /** http://127.0.0.1:<port> */
  endpoint: string;
  port: number;
  /** Where s3rver keeps the objects (removed by stop()). */
  directory: string;
  /** s3rver's own object, e.g. for `server.on("event", ...)` (fires on put/copy/delete). */
  server: S3rverInstance;
  /** A further client for the same server (say, with other options); stop() destroys it too. */
  newClient(): S3Client;
  stop(): Promise<void>;
}

type CipherFactory = (alg: string, key: Uint8Array, iv: Uint8Array | null, options?: unknown) => unknown;

/**
 * Make `des` (DES-CBC) available to s3rver in this process: 3DES-EDE with the key repeated three times is
 * exactly single DES, and 3DES is still in OpenSSL 3's default provider. Only the "des" algorithm (which
 * otherwise throws "unsupported") is redirected. Needed wherever s3rver runs inside Node 17+ (tests, and a
 * local stack built on s3rver), unless Node starts with --openssl-legacy-provider.
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

export const S3RVER_CREDENTIALS = { accessKeyId: "S3RVER", secretAccessKey: "S3RVER" } as const;

export async function startS3rver(options: { buckets?: string[] } = {}): Promise<S3rverHandle> {
  installS3rverDesShim();
  const require = createRequire(import.meta.url);
  const S3rver = require("s3rver") as S3rverConstructor;
  const directory = await mkdtemp(path.join(tmpdir(), "s3rver-"));
  const server = new S3rver({
    address: "127.0.0.1",
    port: 0,
    silent: true,
    directory,
    configureBuckets: (options.buckets ?? []).map((name) => ({ name })),
  });
  let address: AddressInfo;
  try {
    address = await server.run();
  } catch (e) {
    await rm(directory, { recursive: true, force: true });
    throw e;
  }
  const endpoint = `http://127.0.0.1:${address.port}`;
  const clients: S3Client[] = [];
  const newClient = () => {
    const c = createS3Client({
      endpoint,
      region: "us-east-1",
      forcePathStyle: true,
      credentials: S3RVER_CREDENTIALS,
    });
    clients.push(c);
    return c;
  };
  const client = newClient();
  let stopped = false;
  return {
    client,
    endpoint,
    port: address.port,
    directory,
    server,
    newClient,
    async stop() {
      if (stopped) return;
      stopped = true;
      for (const c of clients) c.destroy();
      // Keep-alive sockets would hold close() open until they time out.
      server.httpServer?.closeAllConnections();
      await server.close();
      await rm(directory, { recursive: true, force: true });
    },
  };
}
