/**
 * Ingest Lambda against real protocol servers: s3rver (S3, range reads) and dynalite (DynamoDB conditional
 * writes); only Batch is mocked (aws-sdk-client-mock).
 */

import { createHash } from "node:crypto";
import {
  BatchClient,
  ListJobsCommand,
  SubmitJobCommand,
  type SubmitJobCommandInput,
} from "@aws-sdk/client-batch";
import { HeadObjectCommand } from "@aws-sdk/client-s3";
import { mockClient } from "aws-sdk-client-mock";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { JOB_PARAMETER_ENV, type StudyRecord } from "../../../core/contracts/study.js";
import { bareEtag, type ObjectStore, type ReadOptions } from "../../../core/ports/object-store.js";
import { ClaimBusyError } from "../../../core/studies/ingest.js";
import {
  INGEST_TIMEOUT_S,
  ingestLeaseSeconds,
  LAMBDA_ASYNC_LAST_RETRY_AFTER_S,
} from "../../../infra/runtime-contract.js";
import { BatchJobSubmitter } from "../../../lambdas/adapters/batch-job-submitter.js";
import { DynamoStudyRepository } from "../../../lambdas/adapters/dynamo-study-repository.js";
import { S3ObjectStore } from "../../../lambdas/adapters/s3-object-store.js";
import { ingestConfigFromEnv } from "../../../lambdas/ingest/config.js";
import {
  createIngestHandler,
  IngestFailedError,
  type IngestHandler,
  InvalidEventError,
} from "../../../lambdas/ingest/handler.js";
import { type DynaliteHandle, startDynalite } from "../../helpers/dynalite.js";
import { type S3rverHandle, startS3rver } from "../../helpers/s3rver.js";
import {
  objectCreatedEvent,
  phantomFiles,
  putObject,
  quietPowertools,
  uploadDicomWithManifest,
} from "../fixtures.js";

const INGEST = "ingest";
const RESULTS = "results";
const QUEUE = "arn:aws:batch:us-east-1:123456789012:job-queue/deepsc";
const DEFINITION = "arn:aws:batch:us-east-1:123456789012:job-definition/deepsc:1";

/** The Batch adapter over the mocked client (aws-sdk-client-mock intercepts every BatchClient). */
const batchJobs = () =>
  new BatchJobSubmitter(new BatchClient({ region: "us-east-1" }), {
    jobQueue: QUEUE,
    jobDefinition: DEFINITION,
  });

let s3: S3rverHandle;
let db: DynaliteHandle;
let repo: DynamoStudyRepository;
let ingest: IngestHandler;
const batch = mockClient(BatchClient);
let jobCounter = 0;
/** The deployment's UID salt, as the Lambda reads it from Secrets Manager (lambdas/adapters/uid-salt.ts). */
const SALT = "ingest-test-salt-0123456789abcdef";

/** The handler as deployed, over `store` (the ingest bucket unless a test puts something in between). */
const handlerOver = (store: ObjectStore, studies: DynamoStudyRepository = repo) =>
  createIngestHandler({
    config: {
      ingestBucket: INGEST,
      resultsBucket: RESULTS,
      modelUri: "s3://models/deepsc/v1/model.json",
      leaseMs: ingestLeaseSeconds(INGEST_TIMEOUT_S) * 1000,
      uidSalt: SALT,
    },
    store,
    studies,
    jobs: batchJobs(),
    ...quietPowertools("ingest-test"),
  });

beforeAll(async () => {
  [s3, db] = await Promise.all([startS3rver({ buckets: [INGEST, RESULTS] }), startDynalite()]);
  const table = await db.createStudiesTable();
  repo = new DynamoStudyRepository(db.client, table);
  ingest = handlerOver(new S3ObjectStore(s3.client, INGEST));
});

afterAll(async () => {
  batch.restore();
  await Promise.all([s3?.stop(), db?.stop()]);
});

const fakeSubmit = async () => ({ jobId: `job-${++jobCounter}`, jobName: "x", jobArn: "arn" });
/** The next SubmitJob throws `err`; later ones succeed again. */
const failNextSubmit = (err: Error) => batch.on(SubmitJobCommand).rejectsOnce(err).callsFake(fakeSubmit);

beforeEach(() => {
  batch.reset();
  batch.on(SubmitJobCommand).callsFake(fakeSubmit);
  batch.on(ListJobsCommand).resolves({ jobSummaryList: [] });
});

const submits = () => batch.commandCalls(SubmitJobCommand);

const fulfilled = <T>(settled: PromiseSettledResult<T>[]) =>
  settled.flatMap((r) => (r.status === "fulfilled" ? [r.value] : []));
/** The rejections of `settled`, each of which must be a `type`. */
function rejectedWith<E extends Error>(
  settled: PromiseSettledResult<unknown>[],
  type: new (...args: never[]) => E,
): E[] {
  const errors = settled.flatMap((r) => (r.status === "rejected" ? [r.reason as unknown] : []));
  for (const e of errors) expect(e).toBeInstanceOf(type);
  return errors as E[];
}

async function uploadZip(tenant: string, uploadId: string) {
  const { zip } = await phantomFiles();
  const key = `incoming/${tenant}/${uploadId}/series.zip`;
  return {
    key,
    event: objectCreatedEvent(INGEST, key, await putObject(s3.client, INGEST, key, zip), zip.length),
  };
}

async function study(studyId: string): Promise<StudyRecord> {
  const r = await repo.get(studyId);
  if (r === undefined) throw new Error(`no study ${studyId}`);
  return r;
}

describe("ingest handler", () => {
  it("validates a valid series.zip from byte ranges, submits exactly one job and records QUEUED", async () => {
    const { key, event } = await uploadZip("acme", "u-valid");
    const outcome = await ingest(event);
    expect(outcome.kind).toBe("queued");
    if (outcome.kind !== "queued") return;
    expect(submits()).toHaveLength(1);

    const input = submits()[0]!.args[0].input as SubmitJobCommandInput;
    expect(input.jobName).toMatch(/^[A-Za-z0-9_-]{1,128}$/);
    expect(input.jobName).toBe(`deepsc-acme-${outcome.studyId}`);
    expect(input.jobQueue).toBe(QUEUE);
    expect(input.jobDefinition).toBe(DEFINITION);
    const expected = {
      tenant: "acme",
      studyId: outcome.studyId,
      inputBucket: INGEST,
      inputKey: key,
      resultsBucket: RESULTS,
      resultsPrefix: `results/acme/${outcome.studyId}/`,
      // The version validated: the job refuses any other content under the key.
      inputEtag: (await s3.client.send(new HeadObjectCommand({ Bucket: INGEST, Key: key }))).ETag?.replace(
        /"/g,
        "",
      ),
    };
    expect(input.parameters).toEqual(expected);
    const env = Object.fromEntries(
      (input.containerOverrides?.environment ?? []).map((e) => [e.name, e.value]),
    );
    expect(env[JOB_PARAMETER_ENV.studyId]).toBe(outcome.studyId);
    expect(env[JOB_PARAMETER_ENV.inputKey]).toBe(key);
    expect(env[JOB_PARAMETER_ENV.resultsPrefix]).toBe(`results/acme/${outcome.studyId}/`);
    expect(input.tags).toEqual({ tenant: "acme", studyId: outcome.studyId });

    const rec = await study(outcome.studyId);
    expect(rec).toMatchObject({
      status: "QUEUED",
      tenant: "acme",
      uploadId: "u-valid",
      submitted: true,
      jobId: outcome.jobId,
    });
    // Header-only: a fraction of the zip was read, never all of it.
    const { zip } = await phantomFiles();
    expect(rec.bytesRead).toBeGreaterThan(0);
    expect(rec.bytesTotal).toBe(zip.length);
  });

  it("finds an object whose key the event carries form-encoded, and takes a key that exists as given", async () => {
    const { zip } = await phantomFiles();
    const key = "incoming/acme/u-encoded/scan 1+2.zip";
    const etag = await putObject(s3.client, INGEST, key, zip);
    // As classic S3 notifications write it: spaces as '+', a literal '+' as %2B.
    const encoded = "incoming/acme/u-encoded/scan+1%2B2.zip";
    const outcome = await ingest(objectCreatedEvent(INGEST, encoded, etag, zip.length));
    expect(outcome.kind).toBe("queued");
    const input = submits().at(-1)!.args[0].input as SubmitJobCommandInput;
    expect(input.parameters?.inputKey).toBe(key);
    // A key holding '+' literally is taken as it is, not decoded into one that does not exist.
    const literal = "incoming/acme/u-literal/a+b.zip";
    const literalTag = await putObject(s3.client, INGEST, literal, zip);
    expect((await ingest(objectCreatedEvent(INGEST, literal, literalTag, zip.length))).kind).toBe("queued");
    expect((submits().at(-1)!.args[0].input as SubmitJobCommandInput).parameters?.inputKey).toBe(literal);
  });

  it("ignores the event of an upload overwritten since (the newer version's event starts its study)", async () => {
    const { zip } = await phantomFiles();
    const key = "incoming/acme/u-overwritten/series.zip";
    const junk = new TextEncoder().encode("this is not a zip at all");
    const first = objectCreatedEvent(INGEST, key, await putObject(s3.client, INGEST, key, junk), junk.length);
    const second = objectCreatedEvent(INGEST, key, await putObject(s3.client, INGEST, key, zip), zip.length);
    const before = submits().length;
    expect(await ingest(first)).toEqual({ kind: "ignored", why: "superseded" });
    expect(submits()).toHaveLength(before);
    const outcome = await ingest(second);
    expect(outcome.kind).toBe("queued");
    expect(submits()).toHaveLength(before + 1);
  });

  it("takes identical zip bytes sent again as the same study by the store's checksum, though SSE-KMS gives each upload its own ETag", async () => {
    const { zip } = await phantomFiles();
    const key = "incoming/acme/u-kms-resent/series.zip";
    const s3Store = new S3ObjectStore(s3.client, INGEST);
    // S3 under SSE-KMS: each upload's ETag is its own (not an MD5), while the CRC64NVME S3 computes for
    // every upload depends only on the bytes. s3rver keeps MD5 ETags and no checksum, so both are
    // layered over it here: a per-upload ETag suffix, and a checksum of the stored bytes.
    let upload = 0;
    const kmsEtag = (real: string | undefined) => `${real}-kms${upload}`;
    const realEtag = (o?: ReadOptions) =>
      o?.ifMatch === undefined ? o : { ifMatch: o.ifMatch.replace(/-kms\d+$/, "") };
    const withChecksum = (checksum: boolean): ObjectStore => ({
      list: async (p) => (await s3Store.list(p)).map((i) => ({ ...i, etag: kmsEtag(i.etag) })),
      head: async (k) => {
        const info = await s3Store.head(k);
        const sha = createHash("sha256")
          .update(await s3Store.get(k))
          .digest("base64");
        return { ...info, etag: kmsEtag(info.etag), ...(checksum ? { checksum: `sha256:${sha}` } : {}) };
      },
      getRange: (k, a, b, o) => s3Store.getRange(k, a, b, realEtag(o)),
      get: (k, o) => s3Store.get(k, realEtag(o)),
      put: (k, b, t) => s3Store.put(k, b, t),
    });
    const send = async (body: Uint8Array, checksum = true) => {
      upload++;
      const etag = kmsEtag(bareEtag(await putObject(s3.client, INGEST, key, body)));
      return handlerOver(withChecksum(checksum))(objectCreatedEvent(INGEST, key, etag, body.length));
    };

    const first = await send(zip);
    expect(first.kind).toBe("queued");
    const before = submits().length;
    const again = await send(zip);
    expect(again).toMatchObject({ kind: "duplicate", studyId: (first as { studyId: string }).studyId });
    expect(submits()).toHaveLength(before);
    // Other bytes are another study; and with no checksum kept, the ETag is all there is to go by.
    const other = zip.slice();
    other[other.length - 30] = other[other.length - 30]! ^ 1;
    expect(await send(other)).not.toMatchObject({ studyId: (first as { studyId: string }).studyId });
    expect(await send(zip, false)).not.toMatchObject({ studyId: (first as { studyId: string }).studyId });
  });

  it("rejects an upload overwritten while it is validated as UPLOAD_CHANGED, never validating the newer bytes", async () => {
    const { zip } = await phantomFiles();
    const key = "incoming/acme/u-overwritten-during/series.zip";
    const event = objectCreatedEvent(INGEST, key, await putObject(s3.client, INGEST, key, zip), zip.length);
    const s3Store = new S3ObjectStore(s3.client, INGEST);
    // The second version lands right after the handler's HEAD confirmed the first.
    let overwritten = false;
    const racing: ObjectStore = {
      list: (p) => s3Store.list(p),
      head: async (k) => {
        const info = await s3Store.head(k);
        if (!overwritten) {
          overwritten = true;
          await putObject(s3.client, INGEST, key, zip.slice(0, zip.length - 10));
        }
        return info;
      },
      getRange: (k, a, b, o) => s3Store.getRange(k, a, b, o),
      get: (k, o) => s3Store.get(k, o),
      put: (k, b, t) => s3Store.put(k, b, t),
    };
    const before = submits().length;
    const outcome = await handlerOver(racing)(event);
    expect(overwritten).toBe(true);
    expect(outcome).toMatchObject({ kind: "rejected", codes: ["UPLOAD_CHANGED"] });
    expect(submits()).toHaveLength(before);
  });

  it("leaves a manifest re-sent during validation to its newer event, which validates the same study", async () => {
    const { slices } = await phantomFiles();
    const folder = "incoming/acme/u-manifest-resent/";
    const { manifestKey, etag } = await uploadDicomWithManifest(s3.client, INGEST, folder, slices);
    const s3Store = new S3ObjectStore(s3.client, INGEST);
    const original = new TextDecoder().decode(await s3Store.get(manifestKey));
    let resentEtag: string | undefined;
    // The client sends the manifest again (same files, other formatting) right after the handler's HEAD.
    const racing: ObjectStore = {
      list: (p) => s3Store.list(p),
      head: async (k) => {
        const info = await s3Store.head(k);
        if (resentEtag === undefined && k === manifestKey)
          resentEtag = await putObject(
            s3.client,
            INGEST,
            manifestKey,
            JSON.stringify(JSON.parse(original), null, 2),
          );
        return info;
      },
      getRange: (k, a, b, o) => s3Store.getRange(k, a, b, o),
      get: (k, o) => s3Store.get(k, o),
      put: (k, b, t) => s3Store.put(k, b, t),
    };
    const before = submits().length;
    expect(await handlerOver(racing)(objectCreatedEvent(INGEST, manifestKey, etag))).toEqual({
      kind: "ignored",
      why: "superseded",
    });
    // The newer event: same listed files, so the same study, validated and queued (not a duplicate of a
    // rejection, as it was when the first event's validation met the new manifest).
    const outcome = await ingest(objectCreatedEvent(INGEST, manifestKey, resentEtag!));
    expect(outcome.kind).toBe("queued");
    expect(submits()).toHaveLength(before + 1);
  });

  /** The ingest bucket, with a listed file overwritten (a new version) after the first `times` listings. */
  function overwritingAfterListing(resentKey: string, bytes: Uint8Array, times: number) {
    const s3Store = new S3ObjectStore(s3.client, INGEST);
    let listings = 0;
    const store: ObjectStore = {
      list: async (p) => {
        const listed = await s3Store.list(p);
        if (listings++ < times) {
          bytes[bytes.length - 1]! ^= 1; // another version each time (s3rver's ETag is the bytes' MD5)
          await putObject(s3.client, INGEST, resentKey, bytes);
        }
        return listed;
      },
      head: (k) => s3Store.head(k),
      getRange: (k, a, b, o) => s3Store.getRange(k, a, b, o),
      get: (k, o) => s3Store.get(k, o),
      put: (k, b, t) => s3Store.put(k, b, t),
    };
    return { store, listings: () => listings };
  }

  it("validates again from a fresh listing when a listed file is overwritten after the listing", async () => {
    const { slices } = await phantomFiles();
    const folder = "incoming/acme/u-slice-resent/";
    const { manifestKey, etag } = await uploadDicomWithManifest(s3.client, INGEST, folder, slices);
    const racing = overwritingAfterListing(`${folder}${slices[3]!.name}`, slices[3]!.bytes.slice(), 1);
    // Within the one invocation, under its own claim (a retry could find the event superseded and leave
    // the study claimed for good).
    const outcome = await handlerOver(racing.store)(objectCreatedEvent(INGEST, manifestKey, etag));
    expect(outcome.kind).toBe("queued");
    expect(racing.listings()).toBe(2);
    // The job is pinned by what the manifest lists, not by its ETag (the same list re-sent is the same study).
    const env =
      (submits().at(-1)!.args[0].input as SubmitJobCommandInput).containerOverrides?.environment ?? [];
    const names = env.map((e) => e.name);
    expect(names).toContain(JOB_PARAMETER_ENV.inputManifestDigest);
    expect(names).not.toContain(JOB_PARAMETER_ENV.inputEtag);
  });

  it("rethrows a failure as IngestFailedError, whose message and stack name no object key", async () => {
    const { zip } = await phantomFiles();
    const key = "incoming/acme/u-denied/DOE_JANE_19600101.zip";
    const event = objectCreatedEvent(INGEST, key, await putObject(s3.client, INGEST, key, zip), zip.length);
    const s3Store = new S3ObjectStore(s3.client, INGEST);
    const denying: ObjectStore = {
      list: (p) => s3Store.list(p),
      head: (k) => s3Store.head(k),
      // As S3's AccessDenied reads: it names the resource.
      getRange: async (k) => {
        throw Object.assign(new Error(`User is not authorized to perform s3:GetObject on ${k}`), {
          name: "AccessDenied",
        });
      },
      get: (k, o) => s3Store.get(k, o),
      put: (k, b, t) => s3Store.put(k, b, t),
    };
    const thrown = await handlerOver(denying)(event).catch((e: unknown) => e);
    expect(thrown).toBeInstanceOf(IngestFailedError);
    expect((thrown as IngestFailedError).causeName).toBe("AccessDenied");
    expect(`${(thrown as Error).message}\n${(thrown as Error).stack}`).not.toContain("DOE_JANE");
  });

  it("rejects as UPLOAD_CHANGED when listed files keep changing through every validation", async () => {
    const { slices } = await phantomFiles();
    const folder = "incoming/acme/u-slice-churn/";
    const { manifestKey, etag } = await uploadDicomWithManifest(s3.client, INGEST, folder, slices);
    const racing = overwritingAfterListing(`${folder}${slices[3]!.name}`, slices[3]!.bytes.slice(), 99);
    const before = submits().length;
    const outcome = await handlerOver(racing.store)(objectCreatedEvent(INGEST, manifestKey, etag));
    expect(outcome).toMatchObject({ kind: "rejected", codes: ["UPLOAD_CHANGED"] });
    expect(racing.listings()).toBe(3);
    expect(submits()).toHaveLength(before);
  });

  it("starts one job for the same event delivered three times, in sequence and concurrently", async () => {
    const seq = await uploadZip("acme", "u-seq");
    const first = await ingest(seq.event);
    const again = [await ingest(seq.event), await ingest(seq.event)];
    expect(first.kind).toBe("queued");
    expect(again.map((o) => o.kind)).toEqual(["duplicate", "duplicate"]);
    expect(submits()).toHaveLength(1);

    // Concurrent deliveries: one claims and submits; the others find the claim busy and throw, so Lambda
    // retries them, and the retries see the study submitted.
    const conc = await uploadZip("acme", "u-concurrent");
    const settled = await Promise.allSettled([ingest(conc.event), ingest(conc.event), ingest(conc.event)]);
    const queued = fulfilled(settled).filter((o) => o.kind === "queued");
    expect(queued).toHaveLength(1);
    const busy = rejectedWith(settled, ClaimBusyError);
    expect(busy).toHaveLength(2);
    expect(submits()).toHaveLength(2);
    const studyId = queued[0]!.studyId;
    expect(busy.every((e) => e.studyId === studyId)).toBe(true);
    const retried = [await ingest(conc.event), await ingest(conc.event)];
    expect(retried).toEqual([
      { kind: "duplicate", studyId, tenant: "acme", status: "QUEUED" },
      { kind: "duplicate", studyId, tenant: "acme", status: "QUEUED" },
    ]);
    expect(submits()).toHaveLength(2);
  });

  it("finishes a study whose holder crashed: a retry during the lease is busy, one after it takes over", async () => {
    const start = Date.parse("2026-11-27T12:00:00Z");
    let clock = start;
    const leaseMs = ingestLeaseSeconds(INGEST_TIMEOUT_S) * 1000;
    let crash = true;
    const s3store = new S3ObjectStore(s3.client, INGEST);
    // The first invocation dies in validation (a timeout or an out-of-memory kill gives it no chance to
    // release its claim): its store throws on the first range read, and nothing after that runs.
    const crashed = Object.create(repo) as DynamoStudyRepository;
    crashed.releaseLease = async () => false;
    const store = Object.create(s3store) as S3ObjectStore;
    store.getRange = async (key, start, end) => {
      if (crash)
        throw Object.assign(new Error("Task timed out after 120.00 seconds"), { name: "TimeoutError" });
      return s3store.getRange(key, start, end);
    };
    const handler = createIngestHandler({
      config: { ingestBucket: INGEST, resultsBucket: RESULTS, modelUri: "image", leaseMs, uidSalt: SALT },
      store,
      studies: crashed,
      jobs: batchJobs(),
      now: () => new Date(clock),
      ...quietPowertools("ingest-crash-test"),
    });
    const { event } = await uploadZip("acme", "u-holder-crashed");
    await expect(handler(event)).rejects.toThrow("ingest failed (TimeoutError)");
    crash = false;
    // Lambda's first retry, a minute later: the lease still runs, so it must not call itself a duplicate.
    clock = start + 60_000;
    const busy = await handler(event).catch((e: unknown) => e);
    expect(busy).toBeInstanceOf(ClaimBusyError);
    expect(submits()).toHaveLength(0);
    const rec = await study((busy as ClaimBusyError).studyId);
    expect(rec).toMatchObject({ status: "VALIDATING", submitted: false });
    // The last retry, two minutes after that: the lease has ended, it takes over and submits once.
    clock = start + LAMBDA_ASYNC_LAST_RETRY_AFTER_S * 1000;
    const outcome = await handler(event);
    expect(outcome).toMatchObject({ kind: "queued", resubmitted: true });
    expect(submits()).toHaveLength(1);
    expect(await study(rec.studyId)).toMatchObject({ status: "QUEUED", submitted: true });
  });

  it("rejects a DICOM upload with a missing slice (SLICE_GAP) and submits nothing", async () => {
    const { slices } = await phantomFiles();
    const gappy = slices.filter((_, i) => i !== 11);
    const { manifestKey, etag } = await uploadDicomWithManifest(
      s3.client,
      INGEST,
      "incoming/acme/u-gap/",
      gappy,
    );
    const outcome = await ingest(objectCreatedEvent(INGEST, manifestKey, etag));
    expect(outcome.kind).toBe("rejected");
    if (outcome.kind !== "rejected") return;
    expect(outcome.codes).toContain("SLICE_GAP");
    expect(submits()).toHaveLength(0);
    const rec = await study(outcome.studyId);
    expect(rec.status).toBe("REJECTED");
    expect(rec.reasons.map((r) => r.code)).toContain("SLICE_GAP");
    expect(rec.reasons.every((r) => r.message.length > 0)).toBe(true);
    expect(rec.bytesRead).toBeGreaterThan(0);
    // A repeat of the rejected upload's event changes nothing.
    expect((await ingest(objectCreatedEvent(INGEST, manifestKey, etag))).kind).toBe("duplicate");
    expect(submits()).toHaveLength(0);
  });

  it("names a rejected file by its position, never by its path or UID, in the studies table", async () => {
    const { slices } = await phantomFiles();
    const uid = "1.2.826.0.1.3680043.8.498.424242424242";
    // PACS exports often put the patient's name in the folder.
    const renamed = slices.map((x, i) =>
      i === 5
        ? { name: `DOE_JANE_19600101/${uid}.dcm`, bytes: x.bytes.subarray(0, x.bytes.length - 100) }
        : { ...x, name: `DOE_JANE_19600101/${x.name}` },
    );
    const { manifestKey, etag } = await uploadDicomWithManifest(
      s3.client,
      INGEST,
      "incoming/acme/u-uid/",
      renamed,
    );
    const outcome = await ingest(objectCreatedEvent(INGEST, manifestKey, etag));
    expect(outcome.kind).toBe("rejected");
    if (outcome.kind !== "rejected") return;
    const rec = await study(outcome.studyId);
    const named = rec.reasons.find((r) => r.file !== undefined);
    const position = renamed
      .map((x) => x.name)
      .sort((a, b) => (a < b ? -1 : a > b ? 1 : 0))
      .indexOf(`DOE_JANE_19600101/${uid}.dcm`);
    expect(named?.file).toBe(`#${position + 1}`);
    expect(JSON.stringify(rec)).not.toContain(uid);
    expect(JSON.stringify(rec)).not.toContain("DOE_JANE");
  });

  it("accepts a complete DICOM upload only when its manifest arrives; slices alone start nothing", async () => {
    const { slices } = await phantomFiles();
    const folder = "incoming/beta/u-dicom/";
    const sliceKey = `${folder}${slices[0]!.name}`;
    const sliceEtag = await putObject(s3.client, INGEST, sliceKey, slices[0]!.bytes);
    expect(await ingest(objectCreatedEvent(INGEST, sliceKey, sliceEtag))).toEqual({
      kind: "ignored",
      why: "not-series-complete",
    });
    const { manifestKey, etag } = await uploadDicomWithManifest(s3.client, INGEST, folder, slices);
    const outcome = await ingest(objectCreatedEvent(INGEST, manifestKey, etag));
    expect(outcome.kind).toBe("queued");
    expect(submits()).toHaveLength(1);
  });

  it("refuses a manifest spelled otherwise than manifest.json with a reason, and the list sent rightly is a study of its own", async () => {
    const { slices } = await phantomFiles();
    const folder = "incoming/beta/u-cased/";
    const { manifestKey } = await uploadDicomWithManifest(s3.client, INGEST, folder, slices);
    const listed = await new S3ObjectStore(s3.client, INGEST).get(manifestKey);
    const cased = `${folder}Manifest.JSON`;
    const casedEtag = await putObject(s3.client, INGEST, cased, listed);
    const refused = await ingest(objectCreatedEvent(INGEST, cased, casedEtag));
    expect(refused).toMatchObject({ kind: "rejected", codes: ["UNSUPPORTED_FORMAT"] });
    if (refused.kind !== "rejected") return;
    expect((await study(refused.studyId)).reasons?.[0]?.message).toMatch(
      /must be named manifest\.json, in lower case/,
    );
    const etag = await putObject(s3.client, INGEST, manifestKey, listed);
    const accepted = await ingest(objectCreatedEvent(INGEST, manifestKey, etag));
    expect(accepted.kind).toBe("queued");
    if (accepted.kind === "queued") expect(accepted.studyId).not.toBe(refused.studyId);
  });

  it("rejects a file that is not an image (NOT_NIFTI for a .nii that is text)", async () => {
    const key = "incoming/acme/u-text/scan.nii";
    const etag = await putObject(s3.client, INGEST, key, "this is not a NIfTI volume at all ".repeat(20));
    const outcome = await ingest(objectCreatedEvent(INGEST, key, etag));
    expect(outcome.kind).toBe("rejected");
    if (outcome.kind === "rejected") expect(outcome.codes).toEqual(["NOT_NIFTI"]);
    expect(submits()).toHaveLength(0);
  });

  it("leaves a retryable state when SubmitJob fails, and the retried event submits exactly once", async () => {
    const { event } = await uploadZip("acme", "u-throttled");
    failNextSubmit(Object.assign(new Error("Rate exceeded"), { name: "TooManyRequestsException" }));
    await expect(ingest(event)).rejects.toThrow("ingest failed (TooManyRequestsException)");
    const failedCalls = submits().length;
    expect(failedCalls).toBe(1);

    // EventBridge retries the event (three deliveries at once, to be hard on it): one takes the released
    // claim over, the others find it busy and are retried later.
    const retries = await Promise.allSettled([ingest(event), ingest(event), ingest(event)]);
    const queued = fulfilled(retries).filter((o) => o.kind === "queued");
    expect(queued).toHaveLength(1);
    expect(rejectedWith(retries, ClaimBusyError)).toHaveLength(2);
    expect(submits()).toHaveLength(2); // the failed call and exactly one successful one
    const q = queued[0]!;
    if (q.kind !== "queued") return;
    expect(q.resubmitted).toBe(true);
    const rec = await study(q.studyId);
    expect(rec).toMatchObject({ status: "QUEUED", submitted: true, jobId: q.jobId });
    expect(batch.commandCalls(ListJobsCommand)).toHaveLength(1);
  });

  it("ends its lease when a read during validation or the table write after SubmitJob fails, so the next retry takes over", async () => {
    const { event } = await uploadZip("acme", "u-s3-outage");
    const s3Store = new S3ObjectStore(s3.client, INGEST);
    const slowDown = () => Object.assign(new Error("Please reduce your request rate."), { name: "SlowDown" });
    // S3 answers the validation's first range read with 503 SlowDown.
    let failed = false;
    const flaky: ObjectStore = {
      list: (p) => s3Store.list(p),
      head: (k) => s3Store.head(k),
      get: (k, o) => s3Store.get(k, o),
      put: (k, b, t) => s3Store.put(k, b, t),
      getRange: async (k, a, b, o) => {
        if (!failed) {
          failed = true;
          throw slowDown();
        }
        return s3Store.getRange(k, a, b, o);
      },
    };
    await expect(handlerOver(flaky)(event)).rejects.toThrow("ingest failed (SlowDown)");
    expect(submits()).toHaveLength(0);
    // Lambda's retry a minute later: well inside the lease the failed attempt took.
    const retried = await ingest(event);
    expect(retried.kind).toBe("queued");
    expect(submits()).toHaveLength(1);

    // Submitted, then the table write recording it fails: the retry finds the job by name, submits nothing.
    const second = await uploadZip("acme", "u-record-fails");
    const recordFails = Object.create(repo) as DynamoStudyRepository;
    recordFails.recordSubmission = async () => {
      throw Object.assign(new Error("Throughput exceeds the current capacity"), {
        name: "ProvisionedThroughputExceededException",
      });
    };
    const withRepo = handlerOver(new S3ObjectStore(s3.client, INGEST), recordFails);
    await expect(withRepo(second.event)).rejects.toThrow(IngestFailedError);
    expect(submits()).toHaveLength(2);
    const submitted = submits()[1]!.args[0].input as SubmitJobCommandInput;
    batch.on(ListJobsCommand).resolves({
      jobSummaryList: [{ jobId: "job-recorded-late", jobName: submitted.jobName!, status: "SUBMITTED" }],
    } as never);
    const after = await ingest(second.event);
    expect(after).toMatchObject({ kind: "queued", jobId: "job-recorded-late", resubmitted: false });
    expect(submits()).toHaveLength(2);
  });

  it("does not submit again after a takeover when Batch already knows the job by name", async () => {
    const { event } = await uploadZip("acme", "u-crashed");
    // SubmitJob reached Batch but its answer was lost (the holder saw an error, as one that crashed would).
    failNextSubmit(new Error("socket hang up"));
    await expect(ingest(event)).rejects.toThrow("ingest failed (Error)");
    const jobName = (submits()[0]!.args[0].input as SubmitJobCommandInput).jobName!;
    batch
      .on(ListJobsCommand)
      .resolves({ jobSummaryList: [{ jobId: "job-from-before", jobName, jobArn: "arn" }] });
    const outcome = await ingest(event);
    expect(outcome).toMatchObject({ kind: "queued", jobId: "job-from-before", resubmitted: false });
    expect(submits()).toHaveLength(1);
    if (outcome.kind === "queued") expect((await study(outcome.studyId)).jobId).toBe("job-from-before");
  });

  it("ignores keys outside the upload layout and events for other buckets; fails loudly on malformed events", async () => {
    expect((await ingest(objectCreatedEvent(INGEST, "elsewhere/x.zip", "e"))).kind).toBe("ignored");
    expect((await ingest(objectCreatedEvent(INGEST, "incoming/Bad_Tenant/u/series.zip", "e"))).kind).toBe(
      "ignored",
    );
    expect((await ingest(objectCreatedEvent("other-bucket", "incoming/acme/u/series.zip", "e"))).kind).toBe(
      "ignored",
    );
    await expect(
      ingest({ "detail-type": "Object Created", source: "aws.s3", detail: {} }),
    ).rejects.toBeInstanceOf(InvalidEventError);
    expect(submits()).toHaveLength(0);
  });
});

describe("ingest configuration", () => {
  it("reads the environment names the CDK stack sets, and refuses an incomplete environment", () => {
    const env = {
      STUDIES_TABLE_NAME: "t",
      INGEST_BUCKET_NAME: "i",
      RESULTS_BUCKET_NAME: "r",
      DEEPSC_MODEL_URI: "image",
      JOB_QUEUE_ARN: QUEUE,
      JOB_DEFINITION_ARN: DEFINITION,
      UID_SALT_SECRET_ARN: "arn:aws:secretsmanager:us-east-1:111122223333:secret:UidSalt-AbCdEf",
    };
    expect(ingestConfigFromEnv(env)).toMatchObject({
      studiesTable: "t",
      ingestBucket: "i",
      leaseMs: 150_000, // the 120 s timeout + 30 s: ends before Lambda's last retry (180 s)
      uidSaltSecretArn: env.UID_SALT_SECRET_ARN,
    });
    expect(() => ingestConfigFromEnv({ ...env, JOB_QUEUE_ARN: undefined })).toThrow();
    expect(() => ingestConfigFromEnv({ ...env, UID_SALT_SECRET_ARN: undefined })).toThrow();
    // A lease reaching Lambda's last retry would let a crashed invocation strand its study.
    expect(() => ingestConfigFromEnv({ ...env, INGEST_LEASE_SECONDS: "900" })).toThrow();
    expect(() => ingestConfigFromEnv({ ...env, INGEST_LEASE_SECONDS: "151" })).toThrow();
  });

  it("derives the lease from the timeout, and refuses a timeout whose lease would reach the last retry", () => {
    expect(ingestLeaseSeconds(INGEST_TIMEOUT_S)).toBe(150);
    // The lease ends a margin before Lambda's last retry (180 s after a failed attempt began).
    expect(ingestLeaseSeconds(120) + 30).toBeLessThanOrEqual(LAMBDA_ASYNC_LAST_RETRY_AFTER_S);
    expect(() => ingestLeaseSeconds(121)).toThrow(/VALIDATING/);
  });
});
