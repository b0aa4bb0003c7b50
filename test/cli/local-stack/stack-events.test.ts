import { describe, expect, it } from "vitest";
import { describeForLog, objectsCreated } from "../../../cli/local-stack/stack.js";
import { ObjectNotFoundError } from "../../../core/ports/object-store.js";

const record = (eventName: string, bucket: string, key: string, eTag?: string) => ({
  eventName,
  s3: { bucket: { name: bucket }, object: { key, ...(eTag ? { eTag } : {}) } },
});

describe("objectsCreated (s3rver's events as the ingest rule sees them)", () => {
  it("keeps created objects of the ingest bucket, with their ETag, and nothing else", () => {
    const event = {
      Records: [
        record("ObjectCreated:Put", "deepsc-ingest", "incoming/local/u1/series.zip", "abc"),
        record("ObjectCreated:Copy", "deepsc-ingest", "incoming/local/u2/scan.nii.gz", "def"),
        record("ObjectRemoved:Delete", "deepsc-ingest", "incoming/local/u3/series.zip"),
        record("ObjectCreated:Put", "deepsc-results", "results/local/x/manifest.json", "ghi"),
        // A copy event without an ETag cannot name the content: skipped (the ingest needs it for the study id).
        record("ObjectCreated:Copy", "deepsc-ingest", "incoming/local/u4/series.zip"),
      ],
    };
    expect(objectsCreated(event, "deepsc-ingest")).toEqual([
      { key: "incoming/local/u1/series.zip", etag: "abc" },
      { key: "incoming/local/u2/scan.nii.gz", etag: "def" },
    ]);
    expect(objectsCreated({ something: "else" }, "deepsc-ingest")).toEqual([]);
    expect(objectsCreated(null, "deepsc-ingest")).toEqual([]);
  });
});

describe("describeForLog (what the stack's log says of a failed ingest)", () => {
  it("gives the error's name and errno code, never its message (which can quote an object key)", () => {
    const key = "incoming/local/u1/DOE_JANE_19600101/IM0001.dcm";
    expect(describeForLog(new ObjectNotFoundError(key))).toBe("ObjectNotFoundError");
    expect(
      describeForLog(Object.assign(new Error(`connect ECONNREFUSED for ${key}`), { code: "ECONNREFUSED" })),
    ).toBe("Error ECONNREFUSED");
    expect(describeForLog("boom")).toBe("string");
  });
});
