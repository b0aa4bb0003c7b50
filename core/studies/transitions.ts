/**
 * Monotonic status transitions. Every status write carries `progress = attempt * 10 + rank` and is
 * conditional on the stored progress being lower (and the stored status not terminal), so
 *   - a repeated event (equal progress) changes nothing,
 *   - an older event arriving late (lower progress) changes nothing,
 *   - a Batch retry (attempt n+1) may move a study from RUNNING back to QUEUED, because the new attempt's
 *     RUNNABLE outranks the old attempt's RUNNING.
 * Ranks stay below 10, so the attempt always dominates.
 */
import { STATUS_RANK, type StudyStatus, TERMINAL_STATUSES } from "../contracts/study.js";

export function progressOf(status: StudyStatus, attempt: number): number {
  if (!Number.isInteger(attempt) || attempt < 0) throw new RangeError(`Invalid attempt ${attempt}`);
  return attempt * 10 + STATUS_RANK[status];
}

export function isTerminal(status: StudyStatus): boolean {
  return TERMINAL_STATUSES.includes(status);
}

/** The pure rule the repository's conditional writes implement (used by tests and the local stack). */
export function mayTransition(
  current: { status: StudyStatus; progress: number } | undefined,
  next: { status: StudyStatus; attempt: number },
): boolean {
  if (current === undefined) return true;
  if (isTerminal(current.status)) return false;
  return progressOf(next.status, next.attempt) > current.progress;
}

/** AWS Batch job states (Batch Job State Change events), mapped onto study statuses. */
export const BATCH_JOB_STATES = [
  "SUBMITTED",
  "PENDING",
  "RUNNABLE",
  "STARTING",
  "RUNNING",
  "SUCCEEDED",
  "FAILED",
] as const;
export type BatchJobState = (typeof BATCH_JOB_STATES)[number];

export function studyStatusForBatchState(state: BatchJobState): StudyStatus {
  switch (state) {
    case "SUBMITTED":
    case "PENDING":
    case "RUNNABLE":
    case "STARTING":
      return "QUEUED";
    case "RUNNING":
      return "RUNNING";
    case "SUCCEEDED":
      return "SUCCEEDED";
    case "FAILED":
      return "FAILED";
  }
}
