/**
 * How a job failure maps to an exit code and to failure.json. Three kinds of errors reach the top:
 *   - InputRejected (core/errors.ts) from stage-in or the pipeline: the input cannot be analysed — permanent;
 *   - JobFailure, raised by the job itself with a stable JobFailureReason code — permanent, with its class;
 *   - TransientStorageError, raised around S3 work when the cause looks temporary — retryable.
 * Everything else is an internal error. Messages that leave the job (failure.json, logs) are built here from
 * codes and known-safe text, never from an arbitrary error's message, which could carry a path or a value.
 */
import {
  type FAILURE_KINDS,
  type FailureReason,
  type FailureReport,
  JOB_FAILURE_REASONS,
  type JobFailureReason,
} from "../../core/contracts/results-manifest.js";
import { isInputRejected } from "../../core/errors.js";
import { EXIT_CODES } from "./exit-codes.js";

export type FailureKind = (typeof FAILURE_KINDS)[number];

const EXIT_BY_KIND: Readonly<Record<FailureKind, number>> = {
  INPUT_REJECTED: EXIT_CODES.INPUT_REJECTED,
  CONFIGURATION: EXIT_CODES.CONFIGURATION_ERROR,
  INTERNAL: EXIT_CODES.INTERNAL_ERROR,
  TRANSIENT: EXIT_CODES.TEMPORARY_FAILURE,
};

/** A permanent failure the job recognises, with a stable code and a message safe to show the tenant. */
export class JobFailure extends Error {
  override readonly name = "JobFailure";
  constructor(
    readonly kind: FailureKind,
    readonly code: JobFailureReason,
    message: string = JOB_FAILURE_REASONS[code],
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** S3 (or network) trouble that a later attempt may not meet. */
export class TransientStorageError extends Error {
  override readonly name = "TransientStorageError";
  constructor(
    readonly operation: string,
    options?: { cause?: unknown },
  ) {
    super(`transient storage failure during ${operation}`, options);
  }
}

/** Node/undici network error codes that mean "the connection, not the request, failed". */
const TRANSIENT_ERRNO = new Set([
  "ECONNRESET",
  "ECONNREFUSED",
  "ECONNABORTED",
  "ETIMEDOUT",
  "EPIPE",
  "EAI_AGAIN",
  "ENOTFOUND",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "ENETDOWN",
  "ERR_STREAM_PREMATURE_CLOSE",
  "UND_ERR_SOCKET",
  "UND_ERR_CONNECT_TIMEOUT",
]);
/** AWS SDK error names of throttling and server-side trouble. */
const TRANSIENT_NAMES = new Set([
  "TimeoutError",
  "RequestTimeout",
  "RequestTimeoutException",
  "SlowDown",
  "Throttling",
  "ThrottlingException",
  "TooManyRequestsException",
  "InternalError",
  "ServiceUnavailable",
  "ServiceUnavailableException",
  "KMSThrottlingException",
]);

/**
 * True when `e` (or anything in its cause chain) looks like a temporary S3 or network problem: the SDK's own
 * `$retryable` mark, HTTP 408/429/5xx, throttling names, or a socket-level errno. 403/404 and other 4xx are
 * not transient: they fail the same way on every attempt.
 */
export function isTransientError(e: unknown, depth = 0): boolean {
  if (typeof e !== "object" || e === null || depth > 5) return false;
  const err = e as {
    name?: unknown;
    code?: unknown;
    $retryable?: unknown;
    $metadata?: { httpStatusCode?: unknown };
    cause?: unknown;
  };
  if (err.$retryable !== undefined && err.$retryable !== null && err.$retryable !== false) return true;
  const status = err.$metadata?.httpStatusCode;
  if (typeof status === "number" && (status === 408 || status === 429 || status >= 500)) return true;
  if (typeof err.name === "string" && TRANSIENT_NAMES.has(err.name)) return true;
  if (typeof err.code === "string" && TRANSIENT_ERRNO.has(err.code)) return true;
  return isTransientError(err.cause, depth + 1);
}

/** Run S3 work; a transient failure becomes TransientStorageError, anything else passes unchanged. */
export async function storageStep<T>(operation: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (e) {
    if (!(e instanceof JobFailure) && !isInputRejected(e) && isTransientError(e))
      throw new TransientStorageError(operation, { cause: e });
    throw e;
  }
}

export type ClassifiedFailure =
  | { retryable: true; exitCode: number; codes: string[] }
  | { retryable: false; exitCode: number; report: FailureReport; codes: string[] };

/** Cap on reasons copied from an InputRejected (the schema allows 20). */
const MAX_REASONS = 20;

export function classifyFailure(e: unknown): ClassifiedFailure {
  if (e instanceof TransientStorageError)
    return { retryable: true, exitCode: EXIT_CODES.TEMPORARY_FAILURE, codes: ["TRANSIENT"] };
  let kind: FailureKind;
  let reasons: FailureReason[];
  if (isInputRejected(e)) {
    kind = "INPUT_REJECTED";
    reasons = e.reasons.slice(0, MAX_REASONS).map((r) => ({
      code: r.code,
      message: r.message.slice(0, 1000),
      ...(r.file !== undefined ? { file: r.file } : {}),
      ...(r.slice !== undefined ? { slice: r.slice } : {}),
    }));
  } else if (e instanceof JobFailure) {
    kind = e.kind;
    reasons = [{ code: e.code, message: e.message.slice(0, 1000) }];
  } else {
    kind = "INTERNAL";
    reasons = [{ code: "INTERNAL_ERROR", message: JOB_FAILURE_REASONS.INTERNAL_ERROR }];
  }
  const exitCode = EXIT_BY_KIND[kind];
  return {
    retryable: false,
    exitCode,
    report: { schemaVersion: 1, kind, exitCode, reasons },
    codes: reasons.map((r) => r.code),
  };
}
