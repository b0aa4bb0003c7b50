/**
 * The studies table port. Every mutating method is a single conditional write that reports whether it
 * applied, so callers can tell "someone else already did this" (a duplicate or stale event, not an error)
 * from transport failures (thrown).
 */
import type { StudyReason, StudyRecord, StudyStatus } from "../contracts/study.js";

export interface NewStudyClaim {
  studyId: string;
  tenant: string;
  uploadId: string;
  inputKey: string;
  modelUri: string;
  claimToken: string;
  /** Epoch ms until which this claimant alone may validate and submit. */
  leaseUntil: number;
  now: string;
}

export type ClaimResult = { claimed: true } | { claimed: false; existing: StudyRecord };

export interface StudyPage {
  items: StudyRecord[];
  /** Opaque continuation (the adapter's encoding); undefined on the last page. */
  cursor?: string;
}

export interface StudyRepository {
  /** Create the study as VALIDATING if no item with this studyId exists. */
  claim(claim: NewStudyClaim): Promise<ClaimResult>;
  /**
   * Take over an unfinished claim: applies only while the item is VALIDATING, not submitted, and still
   * carries `expectedToken` (so two concurrent takeovers cannot both win).
   */
  takeOver(
    studyId: string,
    expectedToken: string,
    newToken: string,
    leaseUntil: number,
    now: string,
  ): Promise<boolean>;
  /** End a lease early (its holder failed): a retry may take over at once. Only the holder's token applies. */
  releaseLease(studyId: string, token: string, now: string): Promise<boolean>;
  /** VALIDATING -> REJECTED, by the lease holder. */
  reject(
    studyId: string,
    token: string,
    detail: { reasons: StudyReason[]; bytesRead: number; bytesTotal: number },
    now: string,
  ): Promise<boolean>;
  /**
   * Record a submitted job (always, by the lease holder: `submitted = true` is what stops any further
   * SubmitJob) and move to QUEUED unless a Batch event already moved the study further.
   */
  recordSubmission(
    studyId: string,
    token: string,
    job: { jobId: string; jobName: string; bytesRead: number; bytesTotal: number },
    now: string,
  ): Promise<boolean>;
  /** A job-side transition, applied only if it outranks the stored (attempt, rank) and the status is not terminal. */
  advance(
    studyId: string,
    next: { status: StudyStatus; attempt: number; reasons?: StudyReason[]; jobId?: string },
    now: string,
  ): Promise<boolean>;
  get(studyId: string): Promise<StudyRecord | undefined>;
  /** A tenant's studies, newest first. `cursor` comes from a previous page of the same query. */
  listByTenant(
    tenant: string,
    opts: { status?: StudyStatus; limit: number; cursor?: string },
  ): Promise<StudyPage>;
}

/** A cursor that does not decode, or belongs to another tenant or query. */
export class InvalidCursorError extends Error {
  override readonly name = "InvalidCursorError";
}
