import { describe, expect, it } from "vitest";
import { JobConfigError, parseJobEnv } from "../../../gpu-job/job/params.js";
import { jobEnv, studyIdFor } from "./job-fixtures.js";

const ID = studyIdFor(1);
const KEY = "incoming/hospital-a/u1/series.zip";

function issues(env: NodeJS.ProcessEnv): { issues: string[]; trusted: boolean } {
  try {
    parseJobEnv(env);
  } catch (e) {
    if (e instanceof JobConfigError) return { issues: e.issues, trusted: e.params !== undefined };
    throw e;
  }
  throw new Error("expected a JobConfigError");
}

describe("parseJobEnv", () => {
  it("reads the job parameters and the deployment's settings", () => {
    const c = parseJobEnv(jobEnv(ID, KEY, { TMPDIR: "/scratch" }));
    expect(c).toEqual({
      params: {
        tenant: "hospital-a",
        studyId: ID,
        inputBucket: "ingest",
        inputKey: KEY,
        resultsBucket: "results",
        resultsPrefix: `results/hospital-a/${ID}/`,
      },
      model: { kind: "image" },
      executionProvider: "cpu",
      uidSalt: "test-salt-0123456789abcdef",
      scratchDir: "/scratch",
      s3Endpoint: undefined,
      lastAttempt: false,
    });
  });

  it("knows its last attempt from Batch's attempt number and the job definition's attempts", () => {
    const last = (attempt?: string, attempts?: string) =>
      parseJobEnv(jobEnv(ID, KEY, { AWS_BATCH_JOB_ATTEMPT: attempt, DEEPSC_JOB_ATTEMPTS: attempts }))
        .lastAttempt;
    expect(last("3", "3")).toBe(true);
    expect(last("1", "1")).toBe(true);
    expect(last("2", "3")).toBe(false);
    expect(last("3", undefined)).toBe(false);
    expect(last(undefined, "3")).toBe(false);
    expect(last("x", "3")).toBe(false);
  });

  it("defaults to the bundled model and CUDA, and parses an S3 model URI", () => {
    const c = parseJobEnv(
      jobEnv(ID, KEY, { DEEPSC_MODEL_URI: undefined, DEEPSC_EXECUTION_PROVIDER: undefined }),
    );
    expect(c.model).toEqual({ kind: "image" });
    expect(c.executionProvider).toBe("cuda");
    expect(
      parseJobEnv(jobEnv(ID, KEY, { DEEPSC_MODEL_URI: "s3://my-models/deepsc/v2/model.json" })).model,
    ).toEqual({
      kind: "s3",
      bucket: "my-models",
      key: "deepsc/v2/model.json",
    });
  });

  it("names every missing variable at once, never their values", () => {
    const r = issues({ DEEPSC_UID_SALT: "short" });
    expect(r.trusted).toBe(false);
    for (const name of [
      "DEEPSC_TENANT",
      "DEEPSC_STUDY_ID",
      "DEEPSC_INPUT_BUCKET",
      "DEEPSC_INPUT_KEY",
      "DEEPSC_RESULTS_BUCKET",
      "DEEPSC_RESULTS_PREFIX",
      "DEEPSC_UID_SALT",
    ])
      expect(
        r.issues.some((i) => i.startsWith(`${name}:`)),
        name,
      ).toBe(true);
    expect(r.issues.join(" ")).not.toContain("short");
  });

  it("treats empty strings as unset", () => {
    expect(issues(jobEnv(ID, KEY, { DEEPSC_UID_SALT: "" })).issues).toEqual([
      expect.stringMatching(/^DEEPSC_UID_SALT:/),
    ]);
  });

  it("refuses an input key of another tenant or outside the upload protocol", () => {
    expect(issues(jobEnv(ID, "incoming/hospital-b/u1/series.zip")).issues).toEqual([
      "DEEPSC_INPUT_KEY: belongs to another tenant than DEEPSC_TENANT",
    ]);
    expect(issues(jobEnv(ID, "incoming/hospital-a/u1/notes.txt")).issues[0]).toMatch(
      /^DEEPSC_INPUT_KEY: not an upload key/,
    );
  });

  it("refuses a results prefix that is not the study's own", () => {
    const r = issues(jobEnv(ID, KEY, { DEEPSC_RESULTS_PREFIX: `results/hospital-a/${studyIdFor(2)}/` }));
    expect(r.issues).toEqual(["DEEPSC_RESULTS_PREFIX: must be results/{DEEPSC_TENANT}/{DEEPSC_STUDY_ID}/"]);
    expect(r.trusted).toBe(false);
  });

  it("refuses buckets other than the deployment's", () => {
    const r = issues(jobEnv(ID, KEY, { DEEPSC_INPUT_BUCKET: "elsewhere", DEEPSC_RESULTS_BUCKET: "other" }));
    expect(r.issues).toEqual([
      "DEEPSC_INPUT_BUCKET: differs from INGEST_BUCKET_NAME",
      "DEEPSC_RESULTS_BUCKET: differs from RESULTS_BUCKET_NAME",
    ]);
    expect(r.trusted).toBe(false);
  });

  it("keeps sound parameters for failure.json when only a deployment setting is wrong", () => {
    const r = issues(
      jobEnv(ID, KEY, {
        DEEPSC_MODEL_URI: "https://example.org/model.json",
        DEEPSC_EXECUTION_PROVIDER: "tpu",
      }),
    );
    expect(r.trusted).toBe(true);
    expect(r.issues).toHaveLength(2);
    expect(r.issues[0]).toMatch(/^DEEPSC_MODEL_URI:/);
    expect(r.issues[1]).toMatch(/^DEEPSC_EXECUTION_PROVIDER:/);
  });
});
