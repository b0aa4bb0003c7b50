/**
 * Deflated Explicit VR Little Endian (1.2.840.10008.1.2.1.99): everything after the File Meta Information is
 * one raw deflate stream (PS3.5 A.5). Header validation sees only a prefix of the file, so inflation must
 * work on a truncated stream and return what it could; the full decode needs the whole stream and must
 * refuse a deflate bomb instead of allocating without bound.
 */
import { Inflate } from "fflate";

/** Feed the inflater in small steps so the output cap is checked often (one step inflates to < 1.1 MB). */
const INPUT_STEP = 1024;

export interface InflateOutcome {
  data: Uint8Array;
  /** The deflate stream ended cleanly (only known when `final` was requested and the cap was not hit). */
  complete: boolean;
  /** Inflation stopped because the output reached maxOutput. */
  capped: boolean;
}

export class InflateError extends Error {
  override readonly name = "InflateError";
  constructor(
    message: string,
    /** The stream stopped before its last block (a cut file) rather than holding invalid data. */
    readonly truncated: boolean,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/**
 * Inflate a raw deflate stream into at most about maxOutput bytes.
 * `final`: the input is the whole stream; a stream that does not end cleanly throws InflateError.
 * Otherwise the input is a prefix and whatever it inflates to is returned.
 */
export function inflateRawBounded(input: Uint8Array, maxOutput: number, final: boolean): InflateOutcome {
  const chunks: Uint8Array[] = [];
  let total = 0;
  const inflater = new Inflate((chunk) => {
    chunks.push(chunk);
    total += chunk.length;
  });
  let capped = false;
  try {
    for (let pos = 0; pos < input.length; pos += INPUT_STEP) {
      inflater.push(input.subarray(pos, Math.min(input.length, pos + INPUT_STEP)), false);
      if (total >= maxOutput) {
        capped = true;
        break;
      }
    }
    if (final && !capped) inflater.push(new Uint8Array(0), true);
  } catch (e) {
    // fflate reports a cut stream as code 0 ("unexpected EOF") and bad data with other codes.
    const truncated = (e as { code?: unknown }).code === 0;
    // A prefix is expected to stop mid-stream: keep what inflated before the damage, if anything.
    if (final || total === 0)
      throw new InflateError(truncated ? "deflate stream ends early" : "corrupt deflate stream", truncated, {
        cause: e,
      });
  }
  const data = new Uint8Array(total);
  let offset = 0;
  for (const c of chunks) {
    data.set(c, offset);
    offset += c.length;
  }
  return { data, complete: final && !capped, capped };
}
