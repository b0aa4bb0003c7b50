/**
 * Batch job state changes -> study status. Events come at least once and in any order; the repository's
 * conditional write (core/studies/transitions.ts) drops repeated and outdated ones.
 *
 * SUCCEEDED is believed only when the results manifest exists: the job writes `manifest.json` last, so
 * its absence means the outputs are incomplete. Such a study becomes FAILED with RESULTS_MISSING rather
 * than staying RUNNING: Batch sends nothing after SUCCEEDED, so a RUNNING study would wait forever, and S3's
 * read-after-write consistency means a manifest written before the job exited is visible now.
 *
 * FAILED after the results manifest was published is SUCCEEDED: the results are complete, whatever ended
 * the attempt afterwards. Otherwise FAILED carries the job's own reasons when it left `failure.json`
 * (core/contracts/results-manifest.ts):
 * input reason codes and the job's own codes (JOB_FAILURE_REASONS) as they are, an unknown code as JOB_FAILED
 * with the code in the message.
 */
import { FAILURE_REPORT_NAME, FailureReportSchema } from "../contracts/results-manifest.js";
import type { StudyReason, StudyStatus } from "../contracts/study.js";
import { currentReason, StudyIdSchema, StudyReasonSchema } from "../contracts/study.js";
import { ObjectNotFoundError, type ObjectStore } from "../ports/object-store.js";
import type { StudyRepository } from "../ports/study-repository.js";
import { RESULTS_MANIFEST_NAME, resultsPrefix } from "./keys.js";
import { type BatchJobState, studyStatusForBatchState } from "./transitions.js";

/** Batch status reasons are free text from Batch or the container; keep them short. */
const MAX_REASON_CHARS = 500;

export interface JobStateChange {
  jobId: string;
  status: BatchJobState;
  statusReason?: string;
  /** Completed attempts so far (the event's `attempts` array length). */
  attempts: number;
  /** From the job's parameters, environment or tags; undefined for jobs that are not ours. */
  studyId: string | undefined;
}

export interface JobEventDeps {
  studies: StudyRepository;
  /** The results bucket. */
  results: ObjectStore;
  now: () => Date;
}

export type JobEventOutcome =
  | { kind: "ignored"; why: "no-study-id" | "unknown-study" | "other-job" }
  | { kind: "applied" | "stale"; studyId: string; tenant: string; status: StudyStatus; codes: string[] };

export async function applyJobStateChange(ev: JobStateChange, deps: JobEventDeps): Promise<JobEventOutcome> {
  const id = StudyIdSchema.safeParse(ev.studyId);
  if (!id.success) return { kind: "ignored", why: "no-study-id" };
  const studyId = id.data;
  const study = await deps.studies.get(studyId);
  if (study === undefined) return { kind: "ignored", why: "unknown-study" };
  // Only the job the ingest submitted for the study moves it: another job on the queue naming the same study
  // (a clone or resubmission from the console) failed a study whose own job went on to publish its results.
  // An event that arrives before the submission is recorded cannot be told apart, and is taken.
  if (study.jobId !== undefined && study.jobId !== ev.jobId) return { kind: "ignored", why: "other-job" };

  let status = studyStatusForBatchState(ev.status);
  let reasons: StudyReason[] | undefined;
  if (status === "SUCCEEDED" && !(await resultsManifestExists(deps.results, study.tenant, studyId))) {
    status = "FAILED";
    reasons = [
      {
        code: "RESULTS_MISSING",
        message: `Batch reported success but ${resultsPrefix(study.tenant, studyId)}${RESULTS_MANIFEST_NAME} does not exist.`,
      },
    ];
  } else if (status === "FAILED" && (await resultsManifestExists(deps.results, study.tenant, studyId))) {
    // The job publishes manifest.json last, after checking every file it lists: the results are complete.
    // What failed came after them (a timeout during the scratch clean-up, a Spot reclaim just after, whose
    // retry then waited too long), and the study has its results.
    status = "SUCCEEDED";
  } else if (status === "FAILED") {
    const why = (ev.statusReason ?? "no status reason").slice(0, MAX_REASON_CHARS);
    reasons = (await jobFailureReasons(deps.results, study.tenant, studyId)) ?? [
      { code: "JOB_FAILED", message: `The analysis job failed: ${why}` },
    ];
  }
  const applied = await deps.studies.advance(
    studyId,
    { status, attempt: ev.attempts, jobId: ev.jobId, ...(reasons ? { reasons } : {}) },
    deps.now().toISOString(),
  );
  return {
    kind: applied ? "applied" : "stale",
    studyId,
    tenant: study.tenant,
    status,
    codes: (reasons ?? []).map((r) => r.code),
  };
}

async function resultsManifestExists(
  results: ObjectStore,
  tenant: string,
  studyId: string,
): Promise<boolean> {
  try {
    await results.head(`${resultsPrefix(tenant, studyId)}${RESULTS_MANIFEST_NAME}`);
    return true;
  } catch (e) {
    if (e instanceof ObjectNotFoundError) return false;
    throw e;
  }
}

/**
 * The reasons of the job's failure.json, or undefined when there is none or it cannot be read: Batch's
 * status reason is the fallback, so a missing or unreadable report never fails the event.
 */
async function jobFailureReasons(
  results: ObjectStore,
  tenant: string,
  studyId: string,
): Promise<StudyReason[] | undefined> {
  let report: ReturnType<typeof FailureReportSchema.parse>;
  try {
    const bytes = await results.get(`${resultsPrefix(tenant, studyId)}${FAILURE_REPORT_NAME}`);
    report = FailureReportSchema.parse(JSON.parse(new TextDecoder().decode(bytes)));
  } catch {
    return undefined;
  }
  return report.reasons.map((r): StudyReason => {
    const code = StudyReasonSchema.shape.code.safeParse(r.code);
    if (!code.success) return { code: "JOB_FAILED", message: `${r.code}: ${r.message}` };
    // A failure.json of an older job version named files by path: currentReason withholds such a reason's
    // file and message.
    return currentReason({
      code: code.data,
      message: r.message,
      ...(r.file !== undefined ? { file: r.file } : {}),
      ...(r.slice !== undefined ? { slice: r.slice } : {}),
    });
  });
}
