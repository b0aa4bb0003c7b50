/** Job-events Lambda against dynalite (studies table) and s3rver (results bucket). */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { deriveStudyId } from "../../../core/studies/study-id.js";
import { DynamoStudyRepository } from "../../../lambdas/adapters/dynamo-study-repository.js";
import { S3ObjectStore } from "../../../lambdas/adapters/s3-object-store.js";
import {
  createJobEventsHandler,
  InvalidEventError,
  type JobEventsHandler,
} from "../../../lambdas/job-events/handler.js";
import { type DynaliteHandle, startDynalite } from "../../helpers/dynalite.js";
import { type S3rverHandle, startS3rver } from "../../helpers/s3rver.js";
import { putObject, quietPowertools } from "../fixtures.js";

const RESULTS = "results";
let s3: S3rverHandle;
let db: DynaliteHandle;
let repo: DynamoStudyRepository;
let onEvent: JobEventsHandler;

beforeAll(async () => {
  [s3, db] = await Promise.all([startS3rver({ buckets: [RESULTS] }), startDynalite()]);
  repo = new DynamoStudyRepository(db.client, await db.createStudiesTable());
  onEvent = createJobEventsHandler({
    studies: repo,
    results: new S3ObjectStore(s3.client, RESULTS),
    ...quietPowertools("job-events-test"),
  });
});
afterAll(async () => {
  await Promise.all([s3?.stop(), db?.stop()]);
});

/** A study as ingest leaves it: QUEUED with a job id. */
async function queuedStudy(uploadId: string, tenant = "acme"): Promise<string> {
  const studyId = deriveStudyId({ tenant, uploadId, content: ["etag:x"], model: "m" });
  const now = new Date().toISOString();
  const c = await repo.claim({
    studyId,
    tenant,
    uploadId,
    inputKey: `incoming/${tenant}/${uploadId}/series.zip`,
    modelUri: "m",
    claimToken: "t",
    leaseUntil: 1,
    now,
  });
  expect(c.claimed).toBe(true);
  expect(
    await repo.recordSubmission(
      studyId,
      "t",
      { jobId: `job-${uploadId}`, jobName: "n", bytesRead: 1, bytesTotal: 2 },
      now,
    ),
  ).toBe(true);
  jobOf.set(studyId, `job-${uploadId}`);
  return studyId;
}

/** The job the ingest recorded for each study: Batch's events for it carry its id. */
const jobOf = new Map<string, string>();

type State = "SUBMITTED" | "PENDING" | "RUNNABLE" | "STARTING" | "RUNNING" | "SUCCEEDED" | "FAILED";
function batchEvent(studyId: string, status: State, attempts = 0, extra: Record<string, unknown> = {}) {
  return {
    version: "0",
    "detail-type": "Batch Job State Change",
    source: "aws.batch",
    detail: {
      jobId: jobOf.get(studyId) ?? "job-1",
      jobName: `deepsc-acme-${studyId}`,
      jobQueue: "arn:aws:batch:us-east-1:123456789012:job-queue/deepsc",
      status,
      attempts: Array.from({ length: attempts }, () => ({ container: { exitCode: 1 } })),
      parameters: { studyId, tenant: "acme" },
      ...extra,
    },
  };
}

const statusOf = async (id: string) => (await repo.get(id))?.status;

describe("job-events handler", () => {
  it("moves a study only for the job its ingest submitted: another job naming it (a console clone) is ignored", async () => {
    const id = await queuedStudy("u-clone");
    await onEvent(batchEvent(id, "RUNNING"));
    const clone = batchEvent(id, "FAILED", 1);
    clone.detail.jobId = "job-cloned-from-the-console";
    expect(await onEvent(clone)).toEqual({ kind: "ignored", why: "other-job" });
    expect(await statusOf(id)).toBe("RUNNING");
    await putObject(s3.client, RESULTS, `results/acme/${id}/manifest.json`, JSON.stringify({ files: [] }));
    expect(await onEvent(batchEvent(id, "SUCCEEDED", 1))).toMatchObject({
      kind: "applied",
      status: "SUCCEEDED",
    });
  });

  it("follows the job in order to SUCCEEDED when the results manifest exists", async () => {
    const id = await queuedStudy("u-ok");
    await putObject(s3.client, RESULTS, `results/acme/${id}/manifest.json`, JSON.stringify({ files: [] }));
    for (const s of ["SUBMITTED", "PENDING", "RUNNABLE", "STARTING"] as const)
      await onEvent(batchEvent(id, s));
    expect(await statusOf(id)).toBe("QUEUED");
    await onEvent(batchEvent(id, "RUNNING"));
    expect(await statusOf(id)).toBe("RUNNING");
    const out = await onEvent(batchEvent(id, "SUCCEEDED", 1));
    expect(out).toMatchObject({ kind: "applied", status: "SUCCEEDED" });
    expect(await repo.get(id)).toMatchObject({ status: "SUCCEEDED", attempt: 1, reasons: [] });
  });

  it("ends in the right state whatever the order and repetition of events", async () => {
    const id = await queuedStudy("u-shuffled");
    await putObject(s3.client, RESULTS, `results/acme/${id}/manifest.json`, JSON.stringify({ files: [] }));
    const events = [
      batchEvent(id, "RUNNING"),
      batchEvent(id, "SUCCEEDED", 1),
      batchEvent(id, "RUNNABLE"),
      batchEvent(id, "RUNNING"),
      batchEvent(id, "SUBMITTED"),
      batchEvent(id, "SUCCEEDED", 1),
      batchEvent(id, "STARTING"),
    ];
    const outcomes = [];
    for (const e of events) outcomes.push(await onEvent(e));
    expect(outcomes.map((o) => o.kind)).toEqual([
      "applied",
      "applied",
      "stale",
      "stale",
      "stale",
      "stale",
      "stale",
    ]);
    expect(await statusOf(id)).toBe("SUCCEEDED");

    // Concurrently delivered duplicates of a late RUNNING cannot pull a finished study back.
    await Promise.all([onEvent(batchEvent(id, "RUNNING")), onEvent(batchEvent(id, "RUNNING"))]);
    expect(await statusOf(id)).toBe("SUCCEEDED");
  });

  it("lets a Batch retry (a later attempt) move RUNNING back to QUEUED, but not an old attempt's event", async () => {
    const id = await queuedStudy("u-retry");
    await onEvent(batchEvent(id, "RUNNING", 0));
    await onEvent(batchEvent(id, "RUNNABLE", 1)); // attempt 1 failed on a Spot reclaim: queued again
    expect(await repo.get(id)).toMatchObject({ status: "QUEUED", attempt: 1 });
    await onEvent(batchEvent(id, "RUNNING", 0)); // late duplicate of attempt 0
    expect(await repo.get(id)).toMatchObject({ status: "QUEUED", attempt: 1 });
    await onEvent(batchEvent(id, "FAILED", 2, { statusReason: "Essential container in task exited" }));
    const rec = await repo.get(id);
    expect(rec).toMatchObject({ status: "FAILED", attempt: 2 });
    expect(rec?.reasons).toEqual([
      { code: "JOB_FAILED", message: "The analysis job failed: Essential container in task exited" },
    ]);
    // FAILED is terminal: a SUCCEEDED of a lower or equal progress, or anything else, changes nothing.
    await onEvent(batchEvent(id, "SUCCEEDED", 1));
    expect(await statusOf(id)).toBe("FAILED");
  });

  it("takes FAILED after the results manifest was published as SUCCEEDED (the attempt died after publishing)", async () => {
    const id = await queuedStudy("u-late-fail");
    await onEvent(batchEvent(id, "RUNNING"));
    await putObject(s3.client, RESULTS, `results/acme/${id}/manifest.json`, JSON.stringify({ files: [] }));
    const out = await onEvent(
      batchEvent(id, "FAILED", 1, { statusReason: "Job attempt duration exceeded timeout" }),
    );
    expect(out).toMatchObject({ kind: "applied", status: "SUCCEEDED", codes: [] });
    expect(await statusOf(id)).toBe("SUCCEEDED");
  });

  it("never records SUCCEEDED without the results manifest: FAILED with RESULTS_MISSING", async () => {
    const id = await queuedStudy("u-nomanifest");
    // Outputs without the manifest (the job died before writing it last).
    await putObject(s3.client, RESULTS, `results/acme/${id}/diagnosis.json`, "{}");
    await onEvent(batchEvent(id, "RUNNING"));
    const out = await onEvent(batchEvent(id, "SUCCEEDED", 1));
    expect(out).toMatchObject({ kind: "applied", status: "FAILED", codes: ["RESULTS_MISSING"] });
    const rec = await repo.get(id);
    expect(rec?.status).toBe("FAILED");
    expect(rec?.reasons[0]?.code).toBe("RESULTS_MISSING");
  });

  it("finds the study from the container environment or tags when parameters are absent", async () => {
    const id = await queuedStudy("u-env");
    const ev = batchEvent(id, "RUNNING");
    const { parameters: _p, ...detail } = ev.detail;
    await onEvent({
      ...ev,
      detail: { ...detail, container: { environment: [{ name: "DEEPSC_STUDY_ID", value: id }] } },
    });
    expect(await statusOf(id)).toBe("RUNNING");
    const id2 = await queuedStudy("u-tags");
    await onEvent({ ...ev, detail: { ...detail, jobId: jobOf.get(id2)!, tags: { studyId: id2 } } });
    expect(await statusOf(id2)).toBe("RUNNING");
  });

  it("ignores other jobs and unknown studies; rejects malformed events", async () => {
    const ev = batchEvent("0".repeat(32), "RUNNING");
    expect(await onEvent(ev)).toEqual({ kind: "ignored", why: "unknown-study" });
    expect(await onEvent({ ...ev, detail: { ...ev.detail, parameters: {} } })).toEqual({
      kind: "ignored",
      why: "no-study-id",
    });
    await expect(onEvent({ ...ev, detail: { ...ev.detail, status: "EXPLODED" } })).rejects.toBeInstanceOf(
      InvalidEventError,
    );
  });
});
