/**
 * A real S3-compatible server (s3rver) for integration tests: 127.0.0.1, a free port chosen by the OS, a
 * fresh temporary directory, and an S3Client configured the way s3rver needs (DESIGN.md §5: S3RVER/S3RVER
 * credentials, path-style URLs, WHEN_REQUIRED checksums), from cli/local-stack/s3-server.ts, the local
 * stack's own. Call stop() in afterAll.
 *
 *   const s3 = await startS3rver({ buckets: ["uploads"] });
 *   const store = new S3ObjectStore(s3.client, "uploads");
 *   ...
 *   await s3.stop();
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import type { S3Client } from "@aws-sdk/client-s3";
import { type S3rverInstance, startS3Server } from "../../cli/local-stack/s3-server.js";

export { installS3rverDesShim, S3RVER_CREDENTIALS } from "../../cli/local-stack/s3-server.js";

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

export async function startS3rver(options: { buckets?: string[] } = {}): Promise<S3rverHandle> {
  const directory = await mkdtemp(path.join(tmpdir(), "s3rver-"));
  let s3: Awaited<ReturnType<typeof startS3Server>>;
  try {
    s3 = await startS3Server({ directory, ...(options.buckets ? { buckets: options.buckets } : {}) });
  } catch (e) {
    await rm(directory, { recursive: true, force: true });
    throw e;
  }
  let stopped = false;
  return {
    client: s3.newClient(),
    endpoint: s3.endpoint,
    port: s3.port,
    directory,
    server: s3.server,
    newClient: () => s3.newClient(),
    async stop() {
      if (stopped) return;
      stopped = true;
      await s3.close();
      await rm(directory, { recursive: true, force: true });
    },
  };
}
