/**
 * Mutated DICOM and NIfTI inputs (truncation, bit flips, overwritten length fields) must each end in a
 * ValidationReport (accepted or rejected with documented codes) within 2 s: never an unhandled exception,
 * hang or runaway allocation. 2,000+ cases across this file and zip-fuzz.test.ts run in CI.
 */
import { readFileSync } from "node:fs";
import { gunzipSync } from "node:zlib";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { REASON_CODES } from "../../core/contracts/reason-codes.js";
import { ValidationReportSchema } from "../../core/contracts/validation-report.js";
import { validateSource } from "../../core/validation/validate.js";
import { corpusPath } from "../helpers/corpus.js";
import { memorySource } from "../helpers/memory-source.js";
import { mutate, mutationArb } from "./mutations.js";

const CASE_BUDGET_MS = 2000;
const documented = new Set(Object.keys(REASON_CODES));

async function outcomeWithin(files: Record<string, Uint8Array>, mode: "full" | "header-only") {
  const started = performance.now();
  const { report } = await validateSource(memorySource(files), { mode, purpose: "convert" });
  const elapsed = performance.now() - started;
  ValidationReportSchema.parse(report);
  for (const r of report.reasons) expect(documented.has(r.code)).toBe(true);
  expect(elapsed).toBeLessThan(CASE_BUDGET_MS);
  return report;
}

const seeds = {
  dicom: [
    "dicom/syntax/CT1_ELE.dcm",
    "dicom/syntax/CT1_EBE.dcm",
    "dicom/syntax/CT1_RLE.dcm",
    "dicom/syntax/CT1_JPLL.dcm",
    "dicom/syntax/CT1_JLSL.dcm",
    "dicom/syntax/CT1_J2KR.dcm",
    "dicom/syntax/CT0012_ELE.dcm",
    "dicom/real/ct-3slice/01.dcm",
  ],
  nifti: ["nifti/ct_abdomen_3mm.nii.gz", "nifti/standard_tiny.nii.gz", "nifti/anatomical_be.nii"],
};

describe("fuzzing the validation pipeline", () => {
  for (const [format, files] of Object.entries(seeds)) {
    it(`ends every mutated ${format} input in a report within ${CASE_BUDGET_MS} ms`, async () => {
      const originals = files.map((f) => {
        const bytes = new Uint8Array(readFileSync(corpusPath(f)));
        // Mutate the uncompressed NIfTI too, not only the gzip stream (where most flips just break the CRC).
        return f.endsWith(".gz") ? [bytes, new Uint8Array(gunzipSync(bytes))] : [bytes];
      });
      const pool = originals.flat();
      let rejected = 0;
      await fc.assert(
        fc.asyncProperty(
          fc.nat({ max: pool.length - 1 }),
          mutationArb,
          fc.boolean(),
          async (i, m, headerOnly) => {
            const input = mutate(pool[i]!, m, format === "nifti" ? 352 : 2048);
            const report = await outcomeWithin(
              { [format === "nifti" ? "x.nii" : "x.dcm"]: input },
              headerOnly ? "header-only" : "full",
            );
            if (!report.accepted) rejected++;
          },
        ),
        { numRuns: format === "dicom" ? 900 : 600, seed: 20261126 },
      );
      // The mutations must actually exercise the rejection paths, not only survive.
      expect(rejected).toBeGreaterThan(100);
    });
  }
});
