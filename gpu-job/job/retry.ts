/**
 * Retries of one streamed transfer. The AWS SDK retries requests itself, but not those whose body is a
 * stream (it cannot rewind one), and a stream can also break after the response started. Both are common
 * on a long job: an idle keep-alive connection closed by the server is reused and reset. The job can
 * restart such a transfer from the file or the object, so it does, a few times, before giving up with the
 * transient error (exit 75: Batch retries the whole attempt).
 */
import { setTimeout as sleep } from "node:timers/promises";
import { isTransientError } from "./failure.js";

export interface RetryOptions {
  /** Tries in all, the first included. @default 4 */
  attempts?: number;
  /** Delay before the second try; doubled each time, with jitter. @default 200 ms */
  baseDelayMs?: number;
}

export async function withTransferRetries<T>(fn: () => Promise<T>, options: RetryOptions = {}): Promise<T> {
  const attempts = options.attempts ?? 4;
  const base = options.baseDelayMs ?? 200;
  for (let i = 1; ; i++) {
    try {
      return await fn();
    } catch (e) {
      if (i >= attempts || !isTransientError(e)) throw e;
      await sleep(base * 2 ** (i - 1) * (0.5 + Math.random()));
    }
  }
}
