/**
 * What a log may say about an unexpected error: never its message, which may quote input-derived text (an
 * object key whose folders an export named after the patient) or scratch paths. Shared by the job, the
 * ingest Lambda and the local stack.
 */

/** The "at …" lines of an error's stack, trimmed: function names and our own source paths, no message. */
export function stackFrames(e: unknown, max: number): string[] {
  return ((e as Error | undefined)?.stack ?? "")
    .split("\n")
    .filter((l) => l.trimStart().startsWith("at "))
    .slice(0, max)
    .map((l) => l.trim());
}

/** An error's class, errno-style code, HTTP status and stack frames, and its cause's, as log fields. */
export function describeErrorForLog(e: unknown): Record<string, unknown> {
  if (!(e instanceof Error)) return { errorType: typeof e };
  const out: Record<string, unknown> = { errorName: e.name };
  const code = (e as { code?: unknown }).code;
  if (typeof code === "string") out.errorCode = code;
  const status = (e as { $metadata?: { httpStatusCode?: unknown } }).$metadata?.httpStatusCode;
  if (typeof status === "number") out.httpStatus = status;
  const frames = stackFrames(e, 8);
  if (frames.length > 0) out.stack = frames;
  if (e.cause !== undefined) out.cause = describeErrorForLog(e.cause);
  return out;
}
