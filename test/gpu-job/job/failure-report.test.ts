/**
 * failure.json end to end on the reading side: what the job writes (classifyFailure -> writeFailureReport)
 * is what job-events turns into the study's FAILED reasons. Plus the transient/permanent classification.
 */

import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { REASON_CODES } from "../../../core/contracts/reason-codes.js";
import type { StudyReason, StudyRecord } from "../../../core/contracts/study.js";
import { InputRejected, reason } from "../../../core/errors.js";
import { FsObjectStore } from "../../../core/input/fs-object-store.js";
import type { StudyRepository } from "../../../core/ports/study-repository.js";
import { applyJobStateChange } from "../../../core/studies/job-events.js";
import {
  classifyFailure,
  isTransientError,
  JobFailure,
  TransientStorageError,
} from "../../../gpu-job/job/failure.js";
import { writeFailureReport } from "../../../gpu-job/job/stage-out.js";
import type { JobStore } from "../../../gpu-job/job/store.js";

const STUDY = "0123456789abcdef0123456789abcdef";
const PREFIX = `results/acme/${STUDY}/`;

function fakeStudies(): StudyRepository & { advanced: { status: string; reasons?: StudyReason[] }[] } {
  const record: StudyRecord = {
    studyId: STUDY,
    tenant: "acme",
    uploadId: "u1",
    inputKey: "incoming/acme/u1/series.zip",
    status: "RUNNING",
    attempt: 0,
    progress: 3,
    createdAt: "2025-01-01T00:00:00.000Z",
    updatedAt: "2025-01-01T00:00:00.000Z",
    reasons: [],
    submitted: true,
  };
  const advanced: { status: string; reasons?: StudyReason[] }[] = [];
  return {
    advanced,
    get: async () => record,
    advance: async (_id: string, next: { status: string; reasons?: StudyReason[] }) => {
      advanced.push({ status: next.status, ...(next.reasons ? { reasons: next.reasons } : {}) });
      return true;
    },
  } as unknown as StudyRepository & { advanced: { status: string; reasons?: StudyReason[] }[] };
}

let dir: string;
let store: FsObjectStore;
beforeEach(async () => {
  dir = await mkdtemp(path.join(tmpdir(), "failure-report-"));
  store = new FsObjectStore(dir);
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function failWith(e: unknown) {
  const c = classifyFailure(e);
  if (c.retryable) throw new Error("expected a permanent failure");
  await writeFailureReport(store as unknown as JobStore, PREFIX, c.report);
  const studies = fakeStudies();
  await applyJobStateChange(
    {
      jobId: "j1",
      status: "FAILED",
      statusReason: "Essential container in task exited",
      attempts: 1,
      studyId: STUDY,
    },
    { studies, results: store, now: () => new Date() },
  );
  return studies.advanced.at(-1);
}

describe("failure.json -> study reasons", () => {
  it("carries an input rejection's reason codes, file and slice to the study", async () => {
    const e = new InputRejected([
      reason("SLICE_GAP", "Slices are missing between 40 and 44.", { slice: 41 }),
      reason("NOT_CT", "The image is not CT.", { file: "#7" }),
    ]);
    expect(await failWith(e)).toEqual({
      status: "FAILED",
      reasons: [
        { code: "SLICE_GAP", message: "Slices are missing between 40 and 44.", slice: 41 },
        { code: "NOT_CT", message: "The image is not CT.", file: "#7" },
      ],
    });
  });

  it("withholds what an older job's failure.json says of a file by its path (file and message)", async () => {
    const e = new InputRejected([
      reason("NOT_CT", "DOE_JANE/IM7.dcm is not CT.", { file: "DOE_JANE/IM7.dcm" }),
    ]);
    const got = await failWith(e);
    expect(got?.reasons).toEqual([{ code: "NOT_CT", message: REASON_CODES.NOT_CT }]);
    expect(JSON.stringify(got)).not.toContain("DOE");
  });

  it("carries the job's own codes to the study as they are", async () => {
    const got = await failWith(new JobFailure("CONFIGURATION", "MODEL_CHECKSUM_MISMATCH", "weights differ."));
    expect(got?.reasons).toEqual([{ code: "MODEL_CHECKSUM_MISMATCH", message: "weights differ." }]);
  });

  it("shows a code it does not know (a newer job's) as JOB_FAILED with the code in the message", async () => {
    await writeFailureReport(store as unknown as JobStore, PREFIX, {
      schemaVersion: 1,
      kind: "INTERNAL",
      exitCode: 1,
      reasons: [{ code: "GPU_ON_FIRE", message: "the card melted." }],
    });
    const studies = fakeStudies();
    await applyJobStateChange(
      { jobId: "j1", status: "FAILED", statusReason: "exit 1", attempts: 1, studyId: STUDY },
      { studies, results: store, now: () => new Date() },
    );
    expect(studies.advanced.at(-1)?.reasons).toEqual([
      { code: "JOB_FAILED", message: "GPU_ON_FIRE: the card melted." },
    ]);
  });

  it("falls back to Batch's status reason without failure.json", async () => {
    const studies = fakeStudies();
    await applyJobStateChange(
      {
        jobId: "j1",
        status: "FAILED",
        statusReason: "Job attempt duration exceeded timeout",
        attempts: 1,
        studyId: STUDY,
      },
      { studies, results: store, now: () => new Date() },
    );
    expect(studies.advanced.at(-1)?.reasons).toEqual([
      { code: "JOB_FAILED", message: "The analysis job failed: Job attempt duration exceeded timeout" },
    ]);
  });
});

describe("classifyFailure", () => {
  it("maps each class to its exit code", () => {
    expect(classifyFailure(new TransientStorageError("x"))).toMatchObject({ retryable: true, exitCode: 75 });
    expect(classifyFailure(new InputRejected([reason("NOT_DICOM")]))).toMatchObject({ exitCode: 2 });
    expect(classifyFailure(new JobFailure("CONFIGURATION", "INVALID_JOB_PARAMETERS"))).toMatchObject({
      exitCode: 78,
    });
    const internal = classifyFailure(new Error("/scratch/deepsc-job-x/input/series/SMITH^JOHN.dcm: bad"));
    expect(internal).toMatchObject({ exitCode: 1, codes: ["INTERNAL_ERROR"] });
    expect(JSON.stringify(internal)).not.toContain("SMITH");
  });
});

describe("isTransientError", () => {
  const sdkError = (name: string, status: number, extra: object = {}) =>
    Object.assign(new Error(name), { name, $metadata: { httpStatusCode: status }, ...extra });
  it("retries throttling, 5xx, timeouts and socket errors", () => {
    expect(isTransientError(sdkError("SlowDown", 503))).toBe(true);
    expect(isTransientError(sdkError("InternalError", 500))).toBe(true);
    expect(isTransientError(sdkError("Whatever", 429))).toBe(true);
    expect(isTransientError(Object.assign(new Error("x"), { $retryable: {} }))).toBe(true);
    expect(isTransientError(Object.assign(new Error("socket hang up"), { code: "ECONNRESET" }))).toBe(true);
    expect(
      isTransientError(new Error("outer", { cause: Object.assign(new Error(), { code: "ETIMEDOUT" }) })),
    ).toBe(true);
  });
  it("does not retry what fails the same way every time", () => {
    expect(isTransientError(sdkError("AccessDenied", 403))).toBe(false);
    expect(isTransientError(sdkError("NoSuchBucket", 404))).toBe(false);
    expect(isTransientError(new TypeError("x is undefined"))).toBe(false);
    expect(isTransientError(Object.assign(new Error("disk full"), { code: "ENOSPC" }))).toBe(false);
  });
});
