import { describe, expect, it } from "vitest";
import { hashUid, pseudonymiseFiles, redactUids } from "../../core/privacy.js";

describe("hashUid", () => {
  it("is a salted, stable 16-hex-digit hash, and 'none' for a missing UID", () => {
    const uid = "1.2.826.0.1.3680043.8.498.1";
    expect(hashUid(uid, "a")).toMatch(/^[0-9a-f]{16}$/);
    expect(hashUid(uid, "a")).toBe(hashUid(uid, "a"));
    expect(hashUid(uid, "a")).not.toBe(hashUid(uid, "b"));
    expect(hashUid(undefined, "a")).toBe("none");
  });
});

describe("redactUids", () => {
  const salt = "test-salt";
  const instance = "1.2.826.0.1.3680043.8.498.12345678901234";

  it("replaces instance UIDs in file names and messages by their salted hash", () => {
    const hashed = `uid-${hashUid(instance, salt).slice(0, 12)}`;
    expect(redactUids(`series/${instance}.dcm`, salt)).toBe(`series/${hashed}.dcm`);
    expect(redactUids(`Zip entry "${instance}/IM1" is cut short.`, salt)).toBe(
      `Zip entry "${hashed}/IM1" is cut short.`,
    );
    // UUID-derived UIDs have three components but are long.
    const uuidUid = "2.25.329800735698586629295641978511506172918";
    expect(redactUids(uuidUid, salt)).toMatch(/^uid-[0-9a-f]{12}$/);
    expect(redactUids(`${instance} and ${instance}`, salt)).toBe(`${hashed} and ${hashed}`);
    // DCMTK's storescp names files <modality>.<SOPInstanceUID>.
    expect(redactUids(`in/CT.${instance}`, salt)).toBe(`in/CT.${hashed}`);
  });

  it("keeps standard UIDs, plain numbers and ordinary names readable", () => {
    for (const text of [
      "Transfer syntax 1.2.840.10008.1.2.4.201 is not one this pipeline decodes.",
      "IM0001.dcm",
      "DICOM/PA000000/ST000000/SE000000/IM000012",
      "spacing 1.25 mm, version 1.2.3, 0.5.2",
    ])
      expect(redactUids(text, salt)).toBe(text);
  });
});

describe("pseudonymiseFiles", () => {
  const paths = ["DOE^JANE/1.2.3.4.5.dcm", "DOE^JANE/IM1.dcm", "DOE^JANE/IM2.dcm"];

  it("turns a listed path into its 1-based position and keeps everything else", () => {
    const out = pseudonymiseFiles(
      [
        { code: "A", message: "m", file: "DOE^JANE/IM2.dcm", slice: 3 },
        { code: "B", message: "n" },
      ],
      paths,
    );
    expect(out).toEqual([
      { code: "A", message: "m", file: "#3", slice: 3 },
      { code: "B", message: "n" },
    ]);
  });

  it("keeps a reference and drops a path it does not list rather than report it", () => {
    const out = pseudonymiseFiles(
      [
        { message: "a", file: "#2" },
        { message: "b", file: "SMITH/other.dcm" },
        { message: "c", file: "#0" },
      ],
      paths,
    );
    expect(out).toEqual([{ message: "a", file: "#2" }, { message: "b" }, { message: "c" }]);
  });
});
