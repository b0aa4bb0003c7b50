/**
 * The local stack (`deepsc serve`): the AWS pipeline on one machine, with real protocol servers where AWS
 * has a service and the product's own code everywhere else.
 *
 *   S3          s3rver on localhost, buckets deepsc-ingest and deepsc-results  (AWS: S3)
 *   DynamoDB    dynalite, the studies table with its tenant index             (AWS: DynamoDB)
 *   events      s3rver's object events -> core/studies/ingest.ts             (AWS: EventBridge -> ingest Lambda)
 *   jobs        LocalJobRunner: dist/gpu-job/main.js per job, CPU            (AWS: Batch + job-events Lambda)
 *   status API  lambdas/status-api/app.ts behind node:http, API keys         (AWS: API Gateway, IAM)
 *
 * So a client that works here (presigned PUT of series.zip or a NIfTI, poll the study, download through
 * presigned GETs) works against AWS unchanged but for its credentials. Everything lives in the data folder:
 * objects, the studies table, the job queue, the API keys and the deployment's UID salt; a restart keeps
 * them and runs again the jobs that had not ended.
 *
 * As on AWS, POST /v1/uploads presigns only series.zip and NIfTI; DICOM files with a manifest.json (PUT each
 * file, then the manifest) go through the S3 endpoint directly. Multipart uploads fire no s3rver event: PUT
 * each object whole.
 */
import { randomBytes, randomUUID } from "node:crypto";
import { mkdir, readFile, rm, writeFile } from "node:fs/promises";
import type { Server } from "node:http";
import type { AddressInfo } from "node:net";
import { join, resolve } from "node:path";
import * as z from "zod";
import { MAX_PRESIGN_SECONDS } from "../../core/contracts/study.js";
import { MIN_UID_SALT_CHARS } from "../../core/privacy.js";
import { ClaimBusyError, type IngestConfig, ingestUpload } from "../../core/studies/ingest.js";
import { INCOMING_PREFIX, parseIncomingKey } from "../../core/studies/keys.js";
import { describeErrorForLog } from "../../core/util/describe-error.js";
import { isProcessRunning } from "../../core/util/process-running.js";
import { writeFileAtomic } from "../../core/util/write-file-atomic.js";
import { modelIdentity } from "../../gpu-job/pipeline/model/model-manifest.js";
import { MODEL_IN_IMAGE } from "../../infra/runtime-contract.js";
import { DynamoStudyRepository } from "../../lambdas/adapters/dynamo-study-repository.js";
import { S3ObjectStore } from "../../lambdas/adapters/s3-object-store.js";
import type { RouteLog } from "../../lambdas/status-api/app.js";
import { S3UrlSigner } from "../../lambdas/status-api/s3-url-signer.js";
import { type ApiKey, loadApiKeys } from "./api-keys.js";
import { startDynamoServer } from "./dynamo-server.js";
import { createHttpApi } from "./http-api.js";
import { type JobLauncher, LocalJobRunner } from "./job-runner.js";
import { startS3Server } from "./s3-server.js";

export const LOCAL_BUCKETS = { ingest: "deepsc-ingest", results: "deepsc-results" } as const;
const STUDIES_TABLE = "deepsc-studies";
const TENANT_ROLE_PREFIX = "deepsc-tenant-";
/** A claim is exclusive this long: far longer than header-only validation takes here. */
const LEASE_MS = 60_000;
/** When an ingest throws (the studies table or S3 unreachable, a claim busy), it is retried this much later, as Lambda retries. */
const INGEST_RETRY_DELAYS_MS = [2_000, 10_000] as const;

export interface LocalStackOptions {
  /** Everything the stack keeps: objects, studies, jobs, API keys, the UID salt. */
  dataDir: string;
  /** Address every server binds to, and that URLs name. @default "127.0.0.1" */
  host?: string;
  /** The status API's port. @default 8080; 0 for any free port */
  port?: number;
  /** The S3 server's port. @default the API's port + 1, or any free port when that is 0 */
  s3Port?: number;
  /** How jobs run. @default the gpu-job entrypoint in a child process (job-runner.ts) */
  launch?: JobLauncher;
  /** A job attempt running longer is stopped and its study FAILED. @default 60 minutes, as the Batch job's */
  jobTimeoutMs?: number;
  /** Lines for people: requests, ingests, job states (ids, codes and states only, no patient data). */
  log?: (line: string) => void;
}

export interface LocalStack {
  /** http://host:port, the status API's base URL (paths start with /v1/). */
  apiUrl: string;
  /** The S3 endpoint (path-style; credentials S3RVER / S3RVER). */
  s3Endpoint: string;
  dataDir: string;
  keys: ApiKey[];
  /** The key this start created (a new data folder), else undefined. */
  createdKey: ApiKey | undefined;
  /** Model identity studies are analysed with (part of each study id). */
  model: string;
  runner: LocalJobRunner;
  /** Resolves when no ingest is pending and no job waits or runs (tests). */
  idle(): Promise<void>;
  close(): Promise<void>;
}

const ConfigSchema = z.object({ uidSalt: z.string().min(MIN_UID_SALT_CHARS) });
const CONFIG_FILE = "config.json";

export async function startLocalStack(o: LocalStackOptions): Promise<LocalStack> {
  const dataDir = resolve(o.dataDir);
  const host = o.host ?? "127.0.0.1";
  const port = o.port ?? 8080;
  const log = o.log ?? (() => {});
  await mkdir(join(dataDir, "s3"), { recursive: true });
  const unlock = await lockDataDir(dataDir);
  const { uidSalt } = await loadConfig(dataDir);
  const keys = await loadApiKeys(dataDir);
  const model = modelIdentity(MODEL_IN_IMAGE);

  const closers: Array<() => Promise<void>> = [unlock];
  // Set once the runner exists; closeAll calls it first, at once: a job whose process exits from there on
  // was stopped, it did not fail.
  let halt = () => {};
  const closeAll = async () => {
    halt();
    for (const c of closers.reverse()) await c().catch(() => undefined);
  };
  try {
    const s3 = await startS3Server({
      directory: join(dataDir, "s3"),
      address: host,
      port: o.s3Port ?? (port === 0 ? 0 : port + 1),
      buckets: [LOCAL_BUCKETS.ingest, LOCAL_BUCKETS.results],
    });
    closers.push(() => s3.close());
    const db = await startDynamoServer({ path: join(dataDir, "dynamodb"), address: host });
    closers.push(() => db.close());
    const table = await db.createStudiesTable(STUDIES_TABLE);

    const client = s3.newClient();
    const studies = new DynamoStudyRepository(db.client, table);
    const ingestStore = new S3ObjectStore(client, LOCAL_BUCKETS.ingest);
    const results = new S3ObjectStore(client, LOCAL_BUCKETS.results);
    const jobs = new LocalJobRunner({
      dataDir,
      s3Endpoint: s3.endpoint,
      uidSalt,
      studies,
      results,
      log,
      ...(o.launch ? { launch: o.launch } : {}),
      ...(o.jobTimeoutMs !== undefined ? { attemptTimeoutMs: o.jobTimeoutMs } : {}),
    });
    halt = () => jobs.halt();
    closers.push(() => jobs.close());

    const ingestConfig: IngestConfig = {
      ingestBucket: LOCAL_BUCKETS.ingest,
      resultsBucket: LOCAL_BUCKETS.results,
      modelUri: model,
      leaseMs: LEASE_MS,
      uidSalt,
    };
    const pending = new Set<Promise<void>>();
    let closing = false;
    const deliver = async (key: string, etag: string): Promise<void> => {
      for (let attempt = 0; ; attempt++) {
        try {
          const outcome = await ingestUpload({ key, etag }, ingestConfig, {
            store: ingestStore,
            studies,
            jobs,
            now: () => new Date(),
            newToken: randomUUID,
          });
          if (outcome.kind !== "ignored")
            log(
              `ingest: study ${outcome.studyId} ${outcome.kind}${outcome.kind === "rejected" ? ` (${outcome.codes.join(", ")})` : ""}`,
            );
          return;
        } catch (e) {
          const delay = INGEST_RETRY_DELAYS_MS[attempt];
          if (delay === undefined || closing) {
            log(
              `ingest failed for good (${describeForLog(e)}); the upload is kept: upload it again to retry`,
            );
            return;
          }
          const wait = e instanceof ClaimBusyError ? Math.max(delay, e.leaseUntil - Date.now()) : delay;
          log(`ingest failed (${describeForLog(e)}); retrying in ${Math.round(wait / 1000)} s`);
          await new Promise((r) => setTimeout(r, wait));
        }
      }
    };
    /** Deliver in the background, tracked so that close() and idle() can wait for it. */
    const track = ({ key, etag }: { key: string; etag: string }): void => {
      const p = deliver(key, etag).finally(() => pending.delete(p));
      pending.add(p);
    };
    // s3rver's event for every put, post and copy: the EventBridge rule's "Object Created" on the ingest bucket.
    s3.server.on("event", (event: unknown) => {
      for (const created of objectsCreated(event, LOCAL_BUCKETS.ingest)) track(created);
    });

    const api = createHttpApi({
      config: {
        ingestBucket: LOCAL_BUCKETS.ingest,
        resultsBucket: LOCAL_BUCKETS.results,
        tenantRolePrefix: TENANT_ROLE_PREFIX,
        urlExpiresIn: MAX_PRESIGN_SECONDS,
      },
      deps: { studies, results, signer: new S3UrlSigner(client), now: () => new Date() },
      tenantOf: (h) => keys.tenantOf(h),
      log: (l: RouteLog) =>
        log(
          `${l.route} -> ${l.status}${l.tenant ? ` (tenant ${l.tenant})` : ""}${l.studyId ? ` study ${l.studyId}` : ""}`,
        ),
    });
    await listen(api, port, host);
    closers.push(() => closeServer(api));
    closers.push(async () => {
      closing = true;
      await Promise.allSettled([...pending]);
    });
    await jobs.recover();
    // Uploads whose event this process never handled (it was down, or stopped mid-ingest): s3rver's events
    // live in memory only, so every upload is delivered again; the ingest is idempotent (a finished study is
    // a duplicate, nothing more).
    for (const created of await uploadsIn(ingestStore)) track(created);

    const apiPort = (api.address() as AddressInfo).port;
    const idle = async (): Promise<void> => {
      // An ingest queues a job; a job that ends queues nothing, but an event may arrive meanwhile.
      do {
        while (pending.size > 0) await Promise.allSettled([...pending]);
        await jobs.idle();
      } while (pending.size > 0);
    };
    return {
      apiUrl: `http://${host.includes(":") ? `[${host}]` : host}:${apiPort}`,
      s3Endpoint: s3.endpoint,
      dataDir,
      keys: keys.keys,
      createdKey: keys.created,
      model,
      runner: jobs,
      idle,
      close: closeAll,
    };
  } catch (e) {
    await closeAll();
    throw e;
  }
}

/** Series-complete objects under incoming/ (a zip, a NIfTI, a manifest) with their ETags, from one listing. */
async function uploadsIn(store: S3ObjectStore): Promise<Array<{ key: string; etag: string }>> {
  return (await store.list(INCOMING_PREFIX)).flatMap(({ key, etag }) =>
    etag !== undefined && parseIncomingKey(key)?.trigger !== undefined ? [{ key, etag }] : [],
  );
}

/** A second stack on one data folder would share its database and queue: refused while the first runs. */
export class DataDirInUseError extends Error {
  override readonly name = "DataDirInUseError";
}

/** Take `<dataDir>/serve.lock` (our pid); returns its release. A lock whose process is gone is taken over. */
async function lockDataDir(dataDir: string): Promise<() => Promise<void>> {
  const file = join(dataDir, "serve.lock");
  try {
    const pid = Number((await readFile(file, "utf8")).trim());
    if (Number.isInteger(pid) && pid > 0 && pid !== process.pid && isProcessRunning(pid))
      throw new DataDirInUseError(
        `another deepsc serve (process ${pid}) uses ${dataDir}: stop it, or give this one another --data`,
      );
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== "ENOENT") throw e;
  }
  await writeFile(file, `${process.pid}\n`);
  return () => rm(file, { force: true });
}

/**
 * An error for the stack's log: its name and errno code, never its message, as the ingest Lambda logs it:
 * messages can quote object keys, whose folders an export may have named after the patient.
 */
export function describeForLog(e: unknown): string {
  const { errorName, errorCode, errorType } = describeErrorForLog(e);
  return errorCode !== undefined ? `${errorName} ${errorCode}` : String(errorName ?? errorType);
}

/** The S3 event records of objects created in `bucket`: key and ETag. */
export function objectsCreated(event: unknown, bucket: string): Array<{ key: string; etag: string }> {
  const parsed = S3rverEventSchema.safeParse(event);
  if (!parsed.success) return [];
  return parsed.data.Records.filter(
    (r) => r.eventName.startsWith("ObjectCreated:") && r.s3.bucket.name === bucket && r.s3.object.eTag,
  ).map((r) => ({ key: r.s3.object.key, etag: r.s3.object.eTag as string }));
}

/** s3rver's event: the S3 notification format (keys as stored, not form-encoded). */
const S3rverEventSchema = z.object({
  Records: z.array(
    z.object({
      eventName: z.string(),
      s3: z.object({
        bucket: z.object({ name: z.string() }),
        object: z.object({ key: z.string().min(1), eTag: z.string().optional() }),
      }),
    }),
  ),
});

/** The data folder's config.json: the deployment's UID salt, made once (as the Secrets Manager secret on AWS). */
async function loadConfig(dataDir: string): Promise<z.infer<typeof ConfigSchema>> {
  const file = join(dataDir, CONFIG_FILE);
  try {
    return ConfigSchema.parse(JSON.parse(await readFile(file, "utf8")));
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== "ENOENT")
      throw new Error(`${file} is damaged: ${(e as Error).message}`, { cause: e });
  }
  const config = { uidSalt: randomBytes(32).toString("hex") };
  await writeFileAtomic(dataDir, CONFIG_FILE, `${JSON.stringify(config, null, 2)}\n`, { mode: 0o600 });
  return config;
}

function listen(server: Server, port: number, host: string): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => {
      server.off("error", reject);
      resolve();
    });
  });
}

function closeServer(server: Server): Promise<void> {
  server.closeAllConnections();
  return new Promise((resolve) => server.close(() => resolve()));
}
