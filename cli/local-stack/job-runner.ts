/**
 * The local stack's stand-in for AWS Batch: a JobSubmitter (core/ports/job-submitter.ts) that runs each job
 * as Batch would, the gpu-job container's entrypoint (dist/gpu-job/main.js) in its own process with the
 * job's parameters in its environment, one job at a time (the analysis uses every core), and reports the
 * job's states (RUNNING, SUCCEEDED, FAILED) through the same code as the job-events Lambda
 * (core/studies/job-events.ts). Exit codes mean what they mean to Batch (gpu-job/job/exit-codes.ts): a
 * retryable one runs the job again, up to `maxAttempts`.
 *
 * Jobs are written to `<dataDir>/jobs/<jobId>.json` before they are queued, so a stack that is stopped or
 * killed with jobs waiting or running runs them again when it starts (`recover()`): a job is restart-safe
 * (results complete from an earlier attempt are not analysed again; manifest.json is written last).
 */
import { type ChildProcess, spawn } from "node:child_process";
import { randomUUID } from "node:crypto";
import { mkdir, readdir, readFile, rm } from "node:fs/promises";
import { join } from "node:path";
import * as z from "zod";
import { type JobParameters, JobParametersSchema } from "../../core/contracts/study.js";
import type { JobSubmission, JobSubmitter } from "../../core/ports/job-submitter.js";
import type { ObjectStore } from "../../core/ports/object-store.js";
import type { StudyRepository } from "../../core/ports/study-repository.js";
import { applyJobStateChange } from "../../core/studies/job-events.js";
import type { BatchJobState } from "../../core/studies/transitions.js";
import { findUpwards } from "../../core/util/find-upwards.js";
import { writeFileAtomic } from "../../core/util/write-file-atomic.js";
import { EXIT_CODES, JOB_ATTEMPTS, RETRYABLE_EXIT_CODES } from "../../gpu-job/job/exit-codes.js";
import { S3_ENDPOINT_ENV } from "../../gpu-job/job/params.js";
import { JOB_ENV } from "../../infra/runtime-contract.js";
import { jobEnvironment } from "../../lambdas/adapters/batch-job-submitter.js";
import { S3RVER_CREDENTIALS, S3RVER_REGION } from "./s3-server.js";

const JobRecordSchema = z.object({
  jobId: z.string().uuid(),
  jobName: z.string().min(1),
  parameters: JobParametersSchema,
  submittedAt: z.string(),
  /** Set once the job has ended (SUCCEEDED or FAILED); kept so findByName still finds it. */
  endedAt: z.string().optional(),
  /**
   * The attempt last started. A job recovered after a stop goes on from it (that attempt, cut short by the
   * stop, is not an outcome), so a stop never grants a job more attempts than Batch would.
   */
  attempt: z.number().int().positive().optional(),
});
type JobRecord = z.infer<typeof JobRecordSchema>;

/** Runs one attempt of a job with this environment; resolves to its exit code. */
export type JobLauncher = (env: Record<string, string>, signal: AbortSignal) => Promise<number>;

export interface LocalJobRunnerOptions {
  dataDir: string;
  /** The S3 server the job reads its input from and writes its results to. */
  s3Endpoint: string;
  uidSalt: string;
  studies: StudyRepository;
  /** The results bucket (job-events reads manifest.json and failure.json there). */
  results: ObjectStore;
  /** @default a child process running dist/gpu-job/main.js */
  launch?: JobLauncher;
  /** Attempts per job, as the job definition's retry strategy. @default JOB_ATTEMPTS (3) */
  maxAttempts?: number;
  /** An attempt running longer is stopped (SIGTERM) and the job FAILED, as Batch's job timeout does. @default 60 minutes */
  attemptTimeoutMs?: number;
  /** One line per job event (no patient data: ids, states, exit codes). */
  log?: (message: string) => void;
}

type ResolvedOptions = Required<LocalJobRunnerOptions>;

export class LocalJobRunner implements JobSubmitter {
  readonly #o: ResolvedOptions;
  readonly #jobs = new Map<string, JobRecord>();
  readonly #queue: JobRecord[] = [];
  readonly #dir: string;
  #running: Promise<void> | undefined;
  #abort = new AbortController();
  #closed = false;

  constructor(options: LocalJobRunnerOptions) {
    this.#o = {
      ...options,
      launch: options.launch ?? gpuJobProcess(),
      maxAttempts: options.maxAttempts ?? JOB_ATTEMPTS,
      attemptTimeoutMs: options.attemptTimeoutMs ?? 60 * 60_000,
      log: options.log ?? (() => {}),
    };
    this.#dir = join(options.dataDir, "jobs");
  }

  /** Load the jobs of earlier runs and queue again those that never ended. Returns how many were queued. */
  async recover(): Promise<number> {
    await mkdir(this.#dir, { recursive: true });
    // Scratch folders of attempts a crash cut short (copies of scans): nothing runs yet, so all of it goes.
    await rm(join(this.#o.dataDir, "scratch"), { recursive: true, force: true });
    const records: JobRecord[] = [];
    for (const name of (await readdir(this.#dir)).filter((n) => n.endsWith(".json")).sort()) {
      let raw: unknown;
      try {
        raw = JSON.parse(await readFile(join(this.#dir, name), "utf8"));
      } catch {
        raw = undefined;
      }
      const parsed = JobRecordSchema.safeParse(raw);
      if (parsed.success) records.push(parsed.data);
      else this.#o.log(`job file ${name} is not a job record; ignored`);
    }
    records.sort((a, b) => a.submittedAt.localeCompare(b.submittedAt));
    let queued = 0;
    for (const r of records) {
      this.#jobs.set(r.jobId, r);
      if (r.endedAt === undefined) {
        this.#queue.push(r);
        queued++;
      }
    }
    this.#kick();
    return queued;
  }

  async submit(job: JobSubmission): Promise<{ jobId: string }> {
    if (this.#closed) throw new Error("the local job runner is stopped");
    const record: JobRecord = {
      jobId: randomUUID(),
      jobName: job.jobName,
      parameters: job.parameters,
      submittedAt: new Date().toISOString(),
    };
    await this.#save(record);
    this.#jobs.set(record.jobId, record);
    this.#queue.push(record);
    this.#o.log(`job ${record.jobId} queued for study ${record.parameters.studyId}`);
    this.#kick();
    return { jobId: record.jobId };
  }

  async findByName(jobName: string): Promise<{ jobId: string } | undefined> {
    for (const r of this.#jobs.values()) if (r.jobName === jobName) return { jobId: r.jobId };
    return undefined;
  }

  /** Resolves when the queue is empty and nothing runs (tests). */
  async idle(): Promise<void> {
    while (this.#running !== undefined) await this.#running;
  }

  /**
   * Stop taking and starting jobs, at once (synchronously: an exit of the running job seen after this is the
   * stop's doing, never an outcome); the running one is stopped and left for recover() on the next start.
   */
  halt(): void {
    this.#closed = true;
    this.#queue.length = 0;
    this.#abort.abort();
  }

  /** halt(), then wait for the running job's process to end. */
  async close(): Promise<void> {
    this.halt();
    await this.#running;
  }

  #kick(): void {
    if (this.#running !== undefined || this.#closed) return;
    this.#running = (async () => {
      // Yield first: without a job the body would finish before `#running` is even assigned, and the
      // assignment would then leave a settled promise there for good.
      await Promise.resolve();
      try {
        for (let job = this.#queue.shift(); job !== undefined && !this.#closed; job = this.#queue.shift()) {
          try {
            await this.#run(job);
          } catch (e) {
            // The studies table or the disk failed while recording a state: the job stays un-ended, so the
            // next start runs it again (its results, if complete, are not analysed twice).
            this.#o.log(
              `job ${job.jobId} could not record its state (${(e as Error).name}: ${(e as Error).message}); it runs again at the next start`,
            );
          }
        }
      } finally {
        this.#running = undefined;
      }
      // A job submitted while the last one finished.
      if (this.#queue.length > 0) this.#kick();
    })();
  }

  async #run(job: JobRecord): Promise<void> {
    for (
      let attempt = Math.min(job.attempt ?? 1, this.#o.maxAttempts);
      attempt <= this.#o.maxAttempts;
      attempt++
    ) {
      if (job.attempt !== attempt) {
        job.attempt = attempt;
        await this.#save(job);
      }
      await this.#report(job, "RUNNING", attempt - 1);
      let code: number;
      const timeout = AbortSignal.timeout(this.#o.attemptTimeoutMs);
      // Each attempt in a scratch folder of its own, removed after it whatever happened (a stopped job's
      // copy of the scan must not stay behind).
      const scratch = join(this.#o.dataDir, "scratch", `${job.jobId}-${attempt}`);
      try {
        await mkdir(scratch, { recursive: true });
        code = await this.#o.launch(
          this.#environment(job.parameters, job.jobId, attempt, scratch),
          AbortSignal.any([this.#abort.signal, timeout]),
        );
      } catch (e) {
        this.#o.log(`job ${job.jobId} could not start: ${(e as Error).message}`);
        code = EXIT_CODES.INTERNAL_ERROR;
      } finally {
        await rm(scratch, { recursive: true, force: true });
      }
      // Stopped with the stack: not an outcome; the job runs again after a restart.
      if (this.#closed) return;
      if (timeout.aborted)
        return this.#end(
          job,
          "FAILED",
          attempt,
          `Job attempt timed out after ${this.#o.attemptTimeoutMs / 1000} s`,
        );
      this.#o.log(`job ${job.jobId} attempt ${attempt} exited with ${code}`);
      if (code === EXIT_CODES.SUCCESS) return this.#end(job, "SUCCEEDED", attempt);
      if (!RETRYABLE_EXIT_CODES.includes(code) || attempt === this.#o.maxAttempts)
        return this.#end(job, "FAILED", attempt, `Essential container in task exited with code ${code}`);
    }
  }

  async #end(job: JobRecord, state: BatchJobState, attempts: number, statusReason?: string): Promise<void> {
    await this.#report(job, state, attempts, statusReason);
    job.endedAt = new Date().toISOString();
    await this.#save(job);
  }

  async #report(job: JobRecord, status: BatchJobState, attempts: number, statusReason?: string) {
    const outcome = await applyJobStateChange(
      {
        jobId: job.jobId,
        status,
        attempts,
        studyId: job.parameters.studyId,
        ...(statusReason !== undefined ? { statusReason } : {}),
      },
      { studies: this.#o.studies, results: this.#o.results, now: () => new Date() },
    );
    if (outcome.kind !== "ignored")
      this.#o.log(
        `study ${outcome.studyId}: ${outcome.status}${outcome.codes.length ? ` (${outcome.codes.join(", ")})` : ""}`,
      );
  }

  #environment(p: JobParameters, jobId: string, attempt: number, scratch: string): Record<string, string> {
    return {
      ...Object.fromEntries(jobEnvironment(p).map((e) => [e.name, e.value])),
      [S3_ENDPOINT_ENV]: this.#o.s3Endpoint,
      [JOB_ENV.executionProvider]: "cpu",
      [JOB_ENV.uidSalt]: this.#o.uidSalt,
      [JOB_ENV.scratchDir]: scratch,
      AWS_ACCESS_KEY_ID: S3RVER_CREDENTIALS.accessKeyId,
      AWS_SECRET_ACCESS_KEY: S3RVER_CREDENTIALS.secretAccessKey,
      AWS_REGION: S3RVER_REGION,
      AWS_BATCH_JOB_ID: jobId,
      AWS_BATCH_JOB_ATTEMPT: String(attempt),
      [JOB_ENV.attempts]: String(this.#o.maxAttempts),
    };
  }

  async #save(r: JobRecord): Promise<void> {
    await mkdir(this.#dir, { recursive: true });
    await writeFileAtomic(this.#dir, `${r.jobId}.json`, `${JSON.stringify(r, null, 2)}\n`);
  }
}

/**
 * dist/gpu-job/main.js of this package, found from wherever this code runs (the sources, tsc's output or
 * the CLI bundle in dist/bin), as bundledModelPath finds the model.
 */
export function gpuJobEntrypoint(): string {
  const relative = join("dist", "gpu-job", "main.js");
  const found = findUpwards(import.meta.dirname, relative);
  if (found === undefined)
    throw new Error(`${relative} not found above ${import.meta.dirname}: run \`npm run build\` first`);
  return found;
}

/** How long a stopped job has to exit after SIGTERM before SIGKILL. */
const KILL_GRACE_MS = 10_000;

/**
 * One attempt in a child process, as Batch runs the container: the job's log lines (JSON, no patient
 * data) go to this process's stderr, or nowhere; an abort sends SIGTERM (the job exits 143).
 */
export const gpuJobProcess =
  (output: "stderr" | "ignore" = "stderr"): JobLauncher =>
  (env, signal) =>
    new Promise((resolve, reject) => {
      const out = output === "stderr" ? 2 : "ignore";
      const child: ChildProcess = spawn(process.execPath, [gpuJobEntrypoint()], {
        // Only what the job needs: the stack's own environment (credentials, say) stays here.
        env: {
          PATH: process.env.PATH ?? "",
          HOME: process.env.HOME ?? "",
          // The AWS SDK's notice that its 2027 releases need Node 22 (this one is pinned by the lockfile),
          // printed as eight plain lines among the job's JSON log lines on Node 20.
          AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: "true",
          ...env,
        },
        // The IPC channel tells the job when the stack is gone (gpu-job/main.ts runAsEntrypoint).
        stdio: ["ignore", out, out, "ipc"],
        // Its own process group: a Ctrl-C at the terminal reaches the stack, which stops the job itself,
        // and not the job first (it exited 143, which read as the job's own failure).
        detached: true,
      });
      let kill: NodeJS.Timeout | undefined;
      const onAbort = () => {
        child.kill("SIGTERM");
        // As Batch does after its grace period: a job stuck in synchronous code never runs its handler.
        kill = setTimeout(() => child.kill("SIGKILL"), KILL_GRACE_MS);
      };
      signal.addEventListener("abort", onAbort, { once: true });
      const done = () => {
        signal.removeEventListener("abort", onAbort);
        clearTimeout(kill);
      };
      child.once("error", (e) => {
        done();
        reject(e);
      });
      child.once("exit", (code, sig) => {
        done();
        resolve(code ?? (sig === "SIGTERM" ? EXIT_CODES.TERMINATED : EXIT_CODES.INTERNAL_ERROR));
      });
    });
