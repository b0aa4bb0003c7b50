/**
 * Mutated zips of a real CT series (central directory, local headers, deflate streams, length fields):
 * opening and validating each must end in a report or a documented rejection within 2 s.
 */
import { readFileSync } from "node:fs";
import fc from "fast-check";
import { zipSync } from "fflate";
import { describe, expect, it } from "vitest";
import { REASON_CODES } from "../../core/contracts/reason-codes.js";
import { isInputRejected } from "../../core/errors.js";
import { openZip, type RandomAccess } from "../../core/input/zip-source.js";
import { validateSource } from "../../core/validation/validate.js";
import { corpusPath } from "../helpers/corpus.js";
import { mutate, mutationArb } from "./mutations.js";

function memoryAccess(bytes: Uint8Array): RandomAccess {
  let read = 0;
  return {
    size: bytes.length,
    async read(start, end) {
      const out = bytes.subarray(start, Math.min(end, bytes.length));
      read += out.length;
      return out;
    },
    bytesRead: () => read,
    async close() {},
  };
}

const series = ["01.dcm", "02.dcm", "03.dcm"].map((f) => [
  `series/${f}`,
  new Uint8Array(readFileSync(corpusPath(`dicom/real/ct-3slice/${f}`))),
]);
const deflated = zipSync(Object.fromEntries(series), { level: 6 });
const stored = zipSync(Object.fromEntries(series), { level: 0 });

describe("fuzzing zip inputs", () => {
  it("ends every mutated zip in a report or documented rejection within 2 s", async () => {
    const documented = new Set(Object.keys(REASON_CODES));
    let rejected = 0;
    let accepted = 0;
    await fc.assert(
      fc.asyncProperty(
        fc.boolean(),
        mutationArb,
        fc.boolean(),
        fc.boolean(),
        async (useStored, m, tail, headerOnly) => {
          const original = useStored ? stored : deflated;
          // Half of the cases aim at the central directory at the end, half at the local headers at the start.
          const bytes = tail ? mutateTail(original, m) : mutate(original, m, 4096);
          const started = performance.now();
          try {
            const source = await openZip(memoryAccess(bytes), "series.zip", "zip");
            const { report } = await validateSource(source, {
              mode: headerOnly ? "header-only" : "full",
              purpose: "convert",
            });
            await source.close();
            for (const r of report.reasons) expect(documented.has(r.code)).toBe(true);
            if (!report.accepted) rejected++;
            else accepted++;
          } catch (e) {
            if (!isInputRejected(e)) throw e;
            for (const r of e.reasons) expect(documented.has(r.code)).toBe(true);
            rejected++;
          }
          expect(performance.now() - started).toBeLessThan(2000);
        },
      ),
      { numRuns: 600, seed: 4242 },
    );
    // Both outcomes must occur: mutations in pixel bytes survive, mutations in structure are caught.
    expect(rejected).toBeGreaterThan(100);
    expect(accepted).toBeGreaterThan(50);
  });
});

/** Mutate within the last 512 bytes (end-of-central-directory record and the central directory). */
function mutateTail(bytes: Uint8Array, m: Parameters<typeof mutate>[1]): Uint8Array {
  if (m.kind === "truncate") return mutate(bytes, m, bytes.length);
  const tailStart = Math.max(0, bytes.length - 512);
  const tail = mutate(bytes.subarray(tailStart), m, 512);
  const out = new Uint8Array(bytes);
  out.set(tail.subarray(0, 512), tailStart);
  return out;
}
