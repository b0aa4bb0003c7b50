/**
 * Expected rejections are values (Reason in a ValidationReport). Inside the readers they travel as an
 * InputRejected error so deep code can stop early; the validation entry points catch it and turn it into a
 * report. Anything else that escapes is an internal error (exit code 1), never a rejection.
 */
import { REASON_CODES, type ReasonCode } from "./contracts/reason-codes.js";
import type { Reason } from "./contracts/validation-report.js";

export class InputRejected extends Error {
  override readonly name = "InputRejected";
  constructor(
    readonly reasons: Reason[],
    options?: { cause?: unknown },
  ) {
    super(reasons.map((r) => `${r.code}: ${r.message}`).join("; "), options);
  }
}

/** Build a Reason; the message defaults to the code's documented meaning. */
export function reason(
  code: ReasonCode,
  message?: string,
  where?: { file?: string; slice?: number },
): Reason {
  const r: Reason = { code, message: message ?? REASON_CODES[code] };
  if (where?.file !== undefined) r.file = where.file;
  if (where?.slice !== undefined) r.slice = where.slice;
  return r;
}

/** Throw a single-reason rejection. */
export function reject(
  code: ReasonCode,
  message?: string,
  where?: { file?: string; slice?: number },
  cause?: unknown,
): never {
  throw new InputRejected([reason(code, message, where)], { cause });
}

export function isInputRejected(e: unknown): e is InputRejected {
  return e instanceof InputRejected;
}
