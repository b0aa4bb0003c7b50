import { mkdtemp, readdir, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { LocalJobRunner } from "../../../cli/local-stack/job-runner.js";
import type { ObjectStore } from "../../../core/ports/object-store.js";
import type { StudyRepository } from "../../../core/ports/study-repository.js";

let work: string;
beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), "deepsc-runner-"));
});
afterAll(async () => {
  await rm(work, { recursive: true, force: true });
});

const parameters = {
  tenant: "local",
  studyId: "0123456789abcdef0123456789abcdef",
  inputBucket: "deepsc-ingest",
  inputKey: "incoming/local/u1/scan.nii.gz",
  resultsBucket: "deepsc-results",
  resultsPrefix: "results/local/0123456789abcdef0123456789abcdef/",
};

describe("LocalJobRunner", () => {
  it("survives a studies table that fails while a job's state is recorded, and leaves the job for the next start", async () => {
    const broken = {
      get: async () => {
        throw new Error("DynamoDB unreachable");
      },
    } as unknown as StudyRepository;
    const lines: string[] = [];
    let launched = 0;
    const runner = new LocalJobRunner({
      dataDir: work,
      s3Endpoint: "http://127.0.0.1:1",
      uidSalt: "x".repeat(32),
      studies: broken,
      results: {} as ObjectStore,
      launch: async () => {
        launched++;
        return 0;
      },
      log: (l) => lines.push(l),
    });
    await runner.recover();
    const { jobId } = await runner.submit({ jobName: "j1", parameters, tags: {} });
    await runner.idle();
    expect(launched).toBe(0);
    expect(lines.join("\n")).toMatch(/could not record its state \(Error: DynamoDB unreachable\)/);
    // Not ended: the next start queues it again.
    const record = JSON.parse(await readFile(join(work, "jobs", `${jobId}.json`), "utf8"));
    expect(record.endedAt).toBeUndefined();
    expect(await new LocalJobRunner({ ...runnerOptions(), dataDir: work }).recover()).toBe(1);
    // And the process is still here to say so.
    expect(await readdir(join(work, "jobs"))).toContain(`${jobId}.json`);
  });

  it("goes on from the attempt a stop cut short: a stop never grants a job a third attempt", async () => {
    const dataDir = await mkdtemp(join(work, "attempts-"));
    const seen: string[] = [];
    let secondStarted!: () => void;
    const started = new Promise<void>((r) => {
      secondStarted = r;
    });
    const first = new LocalJobRunner({
      ...runnerOptions(),
      dataDir,
      maxAttempts: 2,
      launch: (env, signal) => {
        seen.push(`first:${env.AWS_BATCH_JOB_ATTEMPT}`);
        if (env.AWS_BATCH_JOB_ATTEMPT === "1") return Promise.resolve(75); // retryable
        secondStarted();
        return new Promise<number>((resolve) => signal.addEventListener("abort", () => resolve(143)));
      },
    });
    await first.recover();
    const { jobId } = await first.submit({ jobName: "j2", parameters, tags: {} });
    await started;
    await first.close();

    const second = new LocalJobRunner({
      ...runnerOptions(),
      dataDir,
      maxAttempts: 2,
      launch: async (env) => {
        seen.push(`second:${env.AWS_BATCH_JOB_ATTEMPT}`);
        return 75;
      },
    });
    expect(await second.recover()).toBe(1);
    await second.idle();
    // Attempt 2 again (it never ended), and no more: two attempts in all, as this runner allows.
    expect(seen).toEqual(["first:1", "first:2", "second:2"]);
    const record = JSON.parse(await readFile(join(dataDir, "jobs", `${jobId}.json`), "utf8"));
    expect(record.endedAt).toBeDefined();
    expect(record.attempt).toBe(2);
  });
});

function runnerOptions() {
  return {
    dataDir: work,
    s3Endpoint: "http://127.0.0.1:1",
    uidSalt: "x".repeat(32),
    studies: { get: async () => undefined } as unknown as StudyRepository,
    results: {} as ObjectStore,
    // Held until the test ends: recover() must only queue, not finish, the job.
    launch: () => new Promise<number>(() => {}),
  };
}
