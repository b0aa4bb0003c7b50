/** Pure domain rules of studies: ids, transitions, job names, key layout. */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { STUDY_STATUSES } from "../../../core/contracts/study.js";
import { jobNameFor, sanitiseJobName } from "../../../core/studies/job-name.js";
import * as keys from "../../../core/studies/keys.js";
import { deriveStudyId } from "../../../core/studies/study-id.js";
import { mayTransition, progressOf, studyStatusForBatchState } from "../../../core/studies/transitions.js";
import { INCOMING_PREFIX, RESULTS_PREFIX } from "../../../infra/runtime-contract.js";

describe("deriveStudyId", () => {
  const base = { tenant: "acme", uploadId: "u1", content: ["a.dcm:11", "b.dcm:22"], model: "m@1" };
  it("is deterministic, 32 hex, and insensitive to the order of content checksums", () => {
    const id = deriveStudyId(base);
    expect(id).toMatch(/^[0-9a-f]{32}$/);
    expect(deriveStudyId({ ...base, content: ["b.dcm:22", "a.dcm:11"] })).toBe(id);
  });
  it("changes with tenant, upload, content and model, and does not confuse field boundaries", () => {
    const id = deriveStudyId(base);
    for (const v of [{ tenant: "acme2" }, { uploadId: "u2" }, { content: ["a.dcm:11"] }, { model: "m@2" }])
      expect(deriveStudyId({ ...base, ...v })).not.toBe(id);
    expect(deriveStudyId({ ...base, tenant: "ab", uploadId: "c" })).not.toBe(
      deriveStudyId({ ...base, tenant: "a", uploadId: "bc" }),
    );
  });
});

describe("transitions", () => {
  it("orders (attempt, rank) so repeats and late events never win and terminal states stay", () => {
    expect(progressOf("QUEUED", 0)).toBe(2);
    expect(progressOf("QUEUED", 1)).toBeGreaterThan(progressOf("RUNNING", 0));
    const running = { status: "RUNNING" as const, progress: progressOf("RUNNING", 0) };
    expect(mayTransition(running, { status: "RUNNING", attempt: 0 })).toBe(false);
    expect(mayTransition(running, { status: "QUEUED", attempt: 0 })).toBe(false);
    expect(mayTransition(running, { status: "SUCCEEDED", attempt: 1 })).toBe(true);
    for (const s of ["REJECTED", "SUCCEEDED", "FAILED"] as const)
      for (const next of STUDY_STATUSES)
        expect(mayTransition({ status: s, progress: progressOf(s, 0) }, { status: next, attempt: 5 })).toBe(
          false,
        );
    expect(() => progressOf("QUEUED", -1)).toThrow(RangeError);
  });
  it("maps Batch states onto study statuses", () => {
    expect(
      ["SUBMITTED", "PENDING", "RUNNABLE", "STARTING"].map((s) => studyStatusForBatchState(s as "PENDING")),
    ).toEqual(["QUEUED", "QUEUED", "QUEUED", "QUEUED"]);
    expect(studyStatusForBatchState("RUNNING")).toBe("RUNNING");
    expect(studyStatusForBatchState("SUCCEEDED")).toBe("SUCCEEDED");
    expect(studyStatusForBatchState("FAILED")).toBe("FAILED");
  });
});

describe("job names", () => {
  it("keeps only [A-Za-z0-9_-], at most 128 characters, never empty", () => {
    expect(sanitiseJobName("deepsc acme/ü::study")).toBe("deepsc-acme-study");
    expect(sanitiseJobName("///")).toBe("deepsc-job");
    const long = sanitiseJobName("x".repeat(300));
    expect(long).toHaveLength(128);
    const id = "0123456789abcdef0123456789abcdef";
    const name = jobNameFor("a".repeat(32), id);
    expect(name).toMatch(/^[A-Za-z0-9_-]{1,128}$/);
    expect(name.endsWith(id)).toBe(true);
  });
});

describe("key layout", () => {
  it("parses incoming keys and recognises only series-complete signals", () => {
    expect(keys.parseIncomingKey("incoming/acme/u1/series.zip")).toEqual({
      tenant: "acme",
      uploadId: "u1",
      rest: "series.zip",
      trigger: "zip",
    });
    expect(keys.parseIncomingKey("incoming/acme/u1/ct.nii.gz")?.trigger).toBe("nifti");
    expect(keys.parseIncomingKey("incoming/acme/u1/manifest.json")?.trigger).toBe("manifest");
    expect(keys.parseIncomingKey("incoming/acme/u1/IM000001.dcm")?.trigger).toBeUndefined();
    expect(keys.parseIncomingKey("incoming/acme/u1/sub/manifest.json")?.trigger).toBeUndefined();
    expect(keys.parseIncomingKey("incoming/acme/u1/Scan.NII.GZ")?.trigger).toBe("nifti");
    // Refused by its name in validation, not ignored (the client would wait for a study that never came).
    expect(keys.parseIncomingKey("incoming/acme/u1/Manifest.json")?.trigger).toBe("manifest");
    // A zip or NIfTI inside a DICOM upload's folders is one of its files, not an upload of its own.
    expect(keys.parseIncomingKey("incoming/acme/u1/sub/dir/Series.Zip")?.trigger).toBeUndefined();
    expect(keys.parseIncomingKey("incoming/acme/u1/DICOM/old.nii.gz")?.trigger).toBeUndefined();
    for (const bad of [
      "incoming/acme/series.zip",
      "incoming/ACME/u1/a.zip",
      "incoming/acme/u 1/a.zip",
      "incoming/acme/u1/../x.zip",
      "other/acme/u1/a.zip",
    ])
      expect(keys.parseIncomingKey(bad)).toBeUndefined();
  });
  it("starts a study only on keys the ingest rule lets through (TRIGGER_KEY_SUFFIXES, any case)", () => {
    const passesRule = (key: string) =>
      keys.TRIGGER_KEY_SUFFIXES.some((s) => key.toLowerCase().endsWith(s.toLowerCase()));
    const names = [
      "series.zip",
      "A.ZIP",
      "ct.nii",
      "Scan.NII.GZ",
      "manifest.json",
      "MANIFEST.JSON",
      "IM1.dcm",
    ];
    for (const name of [...names, "x.json", "zip", "a.nii.gz.part", "scan.gz", "manifest.json.tmp", "1"]) {
      const key = `incoming/acme/u1/${name}`;
      if (keys.parseIncomingKey(key)?.trigger !== undefined) expect(passesRule(key), key).toBe(true);
    }
    fc.assert(
      fc.property(
        fc.constantFrom("manifest", "MANIFEST", "series", "a.b", "IM0001"),
        fc.constantFrom("", ".zip", ".NII", ".nii.gz", ".json", ".Json"),
        (stem, ext) => {
          const key = `incoming/acme/u1/${stem}${ext}`;
          return keys.parseIncomingKey(key)?.trigger === undefined || passesRule(key);
        },
      ),
    );
    expect(passesRule("incoming/acme/u1/IM1.dcm")).toBe(false);
  });

  it("agrees with the prefixes the infrastructure grants", () => {
    expect(keys.INCOMING_PREFIX).toBe(INCOMING_PREFIX);
    expect(keys.RESULTS_PREFIX).toBe(RESULTS_PREFIX);
    expect(keys.resultsPrefix("acme", "ab")).toBe("results/acme/ab/");
  });
});
