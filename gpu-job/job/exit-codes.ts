/**
 * The gpu-job container's exit codes — the one place they are defined. AWS Batch decides from them whether
 * an attempt is retried: infra/constructs/gpu-batch.ts imports RETRYABLE_EXIT_CODES into the job
 * definition's `evaluateOnExit` (retry those, host/Spot termination and a failed image pull; EXIT on
 * everything else). This module imports nothing, so the CDK app can use it without pulling in the job's
 * dependencies.
 *
 * | code | meaning                                                                      | Batch     | failure.json |
 * |------|------------------------------------------------------------------------------|-----------|--------------|
 * | 0    | results published (or already complete from an earlier attempt)              | —         | removed      |
 * | 1    | internal error: a bug or an unexpected condition; the log has the details     | no retry  | INTERNAL     |
 * | 2    | the input cannot be analysed: rejected by validation, gone, or changed       | no retry  | INPUT_REJECTED |
 * | 75   | transient (EX_TEMPFAIL): S3/network errors, throttling; a rerun may succeed   | RETRY     | — (on the last attempt: TRANSIENT, STORAGE_UNAVAILABLE) |
 * | 78   | configuration (EX_CONFIG): bad job parameters/environment, model checksum    | no retry  | CONFIGURATION (when the results folder is known) |
 * | 143  | stopped by SIGTERM (Spot reclaim, job timeout, cancel); Batch's status reason decides | host loss: RETRY | — |
 */
export const EXIT_CODES = {
  SUCCESS: 0,
  INTERNAL_ERROR: 1,
  INPUT_REJECTED: 2,
  /** sysexits.h EX_TEMPFAIL. */
  TEMPORARY_FAILURE: 75,
  /** sysexits.h EX_CONFIG. */
  CONFIGURATION_ERROR: 78,
  /** 128 + SIGTERM, what a shell reports for a process the signal ended. */
  TERMINATED: 143,
} as const;
export type ExitCode = (typeof EXIT_CODES)[keyof typeof EXIT_CODES];

/**
 * Exit codes Batch retries. Only transient failures: a rejected input or a wrong model fails the same way
 * every time, and SIGTERM is left to Batch's own reason (a Spot reclaim is retried as host termination, a
 * timeout or a cancel is not).
 */
export const RETRYABLE_EXIT_CODES: readonly number[] = [EXIT_CODES.TEMPORARY_FAILURE];

/** Attempts a job gets in all (the job definition's retryAttempts by default, and the local stack's). */
export const JOB_ATTEMPTS = 3;
