import { existsSync, readFileSync } from "node:fs";
import path from "node:path";
import { deflateRawSync } from "node:zlib";
import { describe, expect, it } from "vitest";
import { checkPixelFormat } from "../../../core/dicom/decode-pixels.js";
import type { DicomHeader } from "../../../core/dicom/header.js";
import {
  NeedMoreBytes,
  parseDecimalString,
  parseDicomHeader,
  parseIntegerString,
  parseTimeSeconds,
} from "../../../core/dicom/parse-header.js";
import { InputRejected } from "../../../core/errors.js";
import { buildFile, concat, ctElements, ctFile, type Element, encodeElements, TS } from "./dicom-builder.js";

const CORPUS = path.resolve(import.meta.dirname, "../../../../shared/corpus");
const haveCorpus = existsSync(path.join(CORPUS, "MANIFEST.tsv"));
const corpusFile = (rel: string) => new Uint8Array(readFileSync(path.join(CORPUS, rel)));

function parse(bytes: Uint8Array, fileSize = bytes.length): DicomHeader {
  return parseDicomHeader(bytes, "test.dcm", fileSize);
}

/** The outcome of a parse: the header, NeedMoreBytes, or the rejection codes. */
function outcome(bytes: Uint8Array, fileSize = bytes.length): DicomHeader | NeedMoreBytes | string[] {
  try {
    return parse(bytes, fileSize);
  } catch (e) {
    if (e instanceof NeedMoreBytes) return e;
    if (e instanceof InputRejected) return e.reasons.map((r) => r.code);
    throw e;
  }
}

function rejectionCodes(f: () => unknown): string[] {
  try {
    f();
  } catch (e) {
    if (e instanceof InputRejected) return e.reasons.map((r) => r.code);
    throw e;
  }
  throw new Error("expected an InputRejected");
}

const SAMPLES = [0, 1, -1, 2000, -2000, 100];

describe("parseDicomHeader: synthetic CT", () => {
  const file = ctFile({
    samples: SAMPLES,
    padding: -2000,
    extra: [
      { tag: 0x00080032, vr: "TM", str: "101530.25" },
      { tag: 0x00080070, vr: "LO", str: "ACME" },
      { tag: 0x0008103e, vr: "LO", str: "CHEST 1.0" },
      { tag: 0x00181120, vr: "DS", str: "-12.5" },
      { tag: 0x00180050, vr: "DS", str: "1.25" },
      { tag: 0x00200011, vr: "IS", str: "3" },
      { tag: 0x00200012, vr: "IS", str: "2" },
      { tag: 0x00200052, vr: "UI", str: "1.2.3.12" },
      { tag: 0x00282110, vr: "CS", str: "01" },
    ],
  });

  it("reads every header field", () => {
    const h = parse(file);
    expect(h).toMatchObject({
      file: "test.dcm",
      fileSize: file.length,
      transferSyntax: TS.explicitLE,
      hasMeta: true,
      sopClassUid: "1.2.840.10008.5.1.4.1.1.2",
      sopInstanceUid: "1.2.3.4.5.6",
      modality: "CT",
      studyInstanceUid: "1.2.3.10",
      seriesInstanceUid: "1.2.3.11",
      frameOfReferenceUid: "1.2.3.12",
      seriesNumber: 3,
      seriesDescription: "CHEST 1.0",
      acquisitionNumber: 2,
      instanceNumber: 7,
      acquisitionSeconds: 10 * 3600 + 15 * 60 + 30.25,
      imageType: ["ORIGINAL", "PRIMARY", "AXIAL"],
      manufacturer: "ACME",
      rows: 2,
      columns: 3,
      bitsAllocated: 16,
      bitsStored: 16,
      highBit: 15,
      pixelRepresentation: 1,
      samplesPerPixel: 1,
      photometric: "MONOCHROME2",
      pixelPaddingValue: -2000,
      gantryTilt: -12.5,
      lossy: true,
      numberOfFrames: 1,
    });
    expect(h.frames).toEqual([
      {
        position: [-100.5, -120.25, 33.75],
        orientation: [1, 0, 0, 0, 1, 0],
        pixelSpacing: [0.5, 0.75],
        sliceThickness: 1.25,
        rescaleSlope: 1,
        rescaleIntercept: -1024,
      },
    ]);
    expect(h.pixelData).toEqual({ offset: file.length - 12, length: 12, encapsulated: false });
  });

  it("gives the same header in every encoding", () => {
    const le = parse(ctFile({ samples: SAMPLES, padding: -2000 }));
    for (const ts of [TS.implicitLE, TS.explicitBE, TS.deflated]) {
      const h = parse(ctFile({ ts, samples: SAMPLES, padding: -2000 }));
      expect(h.transferSyntax).toBe(ts);
      const { transferSyntax: _a, fileSize: _b, pixelData: _c, ...rest } = h;
      const { transferSyntax: _d, fileSize: _e, pixelData: _f, ...expected } = le;
      expect(rest).toEqual(expected);
      expect(h.pixelData).toMatchObject({ length: 12, encapsulated: false });
    }
  });

  it("never copies patient-identifying attributes", () => {
    const secret = ctFile({
      samples: SAMPLES,
      extra: [
        { tag: 0x00080020, vr: "DA", str: "19991231" },
        { tag: 0x00080050, vr: "SH", str: "ACC-998877" },
        { tag: 0x00080080, vr: "LO", str: "St Elsewhere Hospital" },
        { tag: 0x00100010, vr: "PN", str: "Doe^Jane" },
        { tag: 0x00100020, vr: "LO", str: "PID-123456" },
        { tag: 0x00100030, vr: "DA", str: "19450101" },
      ],
    });
    const json = JSON.stringify(parse(secret));
    for (const s of ["19991231", "ACC-998877", "Elsewhere", "Doe", "Jane", "PID-123456", "19450101"])
      expect(json).not.toContain(s);
  });

  it("reads malformed numbers as absent instead of crashing", () => {
    const f = buildFile({
      ts: TS.explicitLE,
      elements: [
        ...ctElements({ frames: undefined }).filter((e) => e.tag !== 0x00200032 && e.tag !== 0x00200013),
        { tag: 0x00200013, vr: "IS", str: "1A" },
        { tag: 0x00200032, vr: "DS", str: "1\\abc\\3" },
        { tag: 0x00280008, vr: "IS", str: "1A" },
        { tag: 0x00080032, vr: "TM", str: "25:99" },
        { tag: 0x7fe00010, vr: "OW", bytes: new Uint8Array(12) },
      ],
    });
    const h = parse(f);
    expect(h.instanceNumber).toBeUndefined();
    expect(h.frames[0]?.position).toBeUndefined();
    expect(h.numberOfFrames).toBe(1);
    expect(h.acquisitionSeconds).toBeUndefined();
  });

  it("defaults missing image-pixel attributes the way the standard implies", () => {
    const f = buildFile({
      ts: TS.explicitLE,
      elements: [
        { tag: 0x00080060, vr: "CS", str: "CT" },
        { tag: 0x00280010, vr: "US", nums: [2] },
        { tag: 0x00280011, vr: "US", nums: [2] },
        { tag: 0x00280100, vr: "US", nums: [16] },
        { tag: 0x7fe00010, vr: "OW", bytes: new Uint8Array(8) },
      ],
    });
    const h = parse(f);
    expect([h.bitsStored, h.highBit, h.pixelRepresentation, h.samplesPerPixel]).toEqual([16, 15, 0, 1]);
    expect(h.frames).toEqual([{ rescaleSlope: 1, rescaleIntercept: 0 }]);
    // SOP class falls back to the meta group's MediaStorageSOPClassUID.
    expect(h.sopClassUid).toBe("1.2.840.10008.5.1.4.1.1.2");
  });
});

describe("parseDicomHeader: prefixes", () => {
  const file = ctFile({ samples: new Array(64).fill(0), rows: 8, columns: 8 });
  const full = parse(file);

  it("asks for more bytes from a prefix that ends before Pixel Data, and never guesses", () => {
    for (let n = 0; n < full.pixelData!.offset; n++) {
      const r = outcome(file.subarray(0, n), file.length);
      expect(r, `prefix ${n}`).toBeInstanceOf(NeedMoreBytes);
      expect((r as NeedMoreBytes).minBytes).toBeGreaterThan(n);
      expect((r as NeedMoreBytes).minBytes).toBeLessThanOrEqual(file.length);
    }
    // From the Pixel Data element header on, the prefix is enough and gives the full header.
    expect(outcome(file.subarray(0, full.pixelData!.offset), file.length)).toEqual(full);
  });

  it("calls the same short bytes TRUNCATED when they are the whole file", () => {
    const cut = file.subarray(0, full.pixelData!.offset + 10);
    expect(rejectionCodes(() => parse(cut))).toEqual(["TRUNCATED"]);
    const cutInHeader = file.subarray(0, 300);
    expect(rejectionCodes(() => parse(cutInHeader))).toEqual(["TRUNCATED"]);
  });

  it("reads a deflated dataset from a prefix as far as it inflates", () => {
    const deflated = ctFile({ ts: TS.deflated, samples: new Array(64).fill(0), rows: 8, columns: 8 });
    const whole = parse(deflated);
    expect(whole.pixelData).toMatchObject({ length: 128, encapsulated: false });
    let n = 140;
    let r = outcome(deflated.subarray(0, n), deflated.length);
    while (r instanceof NeedMoreBytes) {
      n = r.minBytes;
      r = outcome(deflated.subarray(0, n), deflated.length);
    }
    expect(r).toEqual(whole);
  });

  it.skipIf(!haveCorpus)("CT1_ELE: 512 bytes are too few, 16 KiB give the whole-file header", () => {
    const ct1 = corpusFile("dicom/syntax/CT1_ELE.dcm");
    const r = outcome(ct1.subarray(0, 512), ct1.length);
    expect(r).toBeInstanceOf(NeedMoreBytes);
    expect((r as NeedMoreBytes).minBytes).toBeGreaterThan(512);
    const h = parse(ct1.subarray(0, 16 * 1024), ct1.length);
    expect(h).toEqual(parse(ct1));
    expect(h.pixelData).toEqual({ offset: 6206, length: 524288, encapsulated: false });
  });

  it.skipIf(!haveCorpus)("every prefix of real files is NeedMoreBytes or the exact whole-file header", () => {
    for (const rel of [
      "dicom/syntax/CT1_ILE.dcm",
      "dicom/syntax/CT1_EBE.dcm",
      "dicom/syntax/CT0012_ELE.dcm",
      "dicom/syntax/OT_deflate.dcm",
      "dicom/real/siemens_neck_jpll_badseq.dcm",
    ]) {
      const bytes = corpusFile(rel);
      const full = parse(bytes);
      const end = full.pixelData!.offset + 16;
      for (let n = 0; n <= end; n += 53) {
        const r = outcome(bytes.subarray(0, n), bytes.length);
        if (r instanceof NeedMoreBytes) expect(r.minBytes, `${rel} @${n}`).toBeGreaterThan(n);
        else expect(r, `${rel} @${n}`).toEqual(full);
      }
      expect(outcome(bytes.subarray(0, end), bytes.length)).toEqual(full);
    }
  });
});

describe("parseDicomHeader: what is and is not DICOM", () => {
  const dataset = concat([
    encodeElements(ctElements(), true, false),
    encodeElements([{ tag: 0x7fe00010, vr: "OW", bytes: new Uint8Array(12) }], true, false),
  ]);

  it("accepts a raw implicit little endian dataset that opens with group 0008", () => {
    const h = parse(dataset);
    expect(h).toMatchObject({
      hasMeta: false,
      transferSyntax: TS.implicitLE,
      modality: "CT",
      rows: 2,
      columns: 3,
    });
  });

  it("accepts raw explicit little and big endian datasets", () => {
    for (const ts of [TS.explicitLE, TS.explicitBE]) {
      const raw = buildFile({ ts, part10: false, elements: ctElements() });
      expect(parse(raw)).toMatchObject({ hasMeta: false, transferSyntax: ts, rows: 2, columns: 3 });
    }
  });

  it("rejects a dataset shifted by one byte, random bytes, gzip and empty files as NOT_DICOM", () => {
    expect(rejectionCodes(() => parse(concat([Uint8Array.of(0x20), dataset])))).toEqual(["NOT_DICOM"]);
    const random = Uint8Array.from({ length: 4000 }, (_, i) => (i * 7919 + 13) & 0xff);
    expect(rejectionCodes(() => parse(random))).toEqual(["NOT_DICOM"]);
    expect(
      rejectionCodes(() =>
        parse(Uint8Array.of(0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3, ...new Array(200).fill(0))),
      ),
    ).toEqual(["NOT_DICOM"]);
    expect(rejectionCodes(() => parse(new Uint8Array(0)))).toEqual(["NOT_DICOM"]);
  });

  it("reads a dataset whose VR encoding contradicts its declared little endian syntax", () => {
    const elements = [...ctElements(), { tag: 0x7fe00010, vr: "OW", bytes: new Uint8Array(12) } as Element];
    for (const [declared, explicit] of [
      [TS.explicitLE, false],
      [TS.implicitLE, true],
    ] as const) {
      const meta = buildFile({ ts: declared, elements: [] });
      const h = parse(concat([meta, encodeElements(elements, true, explicit)]));
      expect(h.transferSyntax).toBe(declared);
      expect([h.modality, h.rows, h.columns, h.pixelPaddingValue]).toEqual(["CT", 2, 3, undefined]);
      expect(h.frames[0]?.position).toEqual([-100.5, -120.25, 33.75]);
      expect(h.pixelData?.length).toBe(12);
    }
  });

  it("rejects a meta group without TransferSyntaxUID as NOT_DICOM and unknown syntaxes as unsupported", () => {
    const noTs = buildFile({ ts: TS.explicitLE, elements: ctElements(), omitTransferSyntax: true });
    expect(rejectionCodes(() => parse(noTs))).toEqual(["NOT_DICOM"]);
    // An unknown syntax's header is read (as explicit VR little endian) so its series can be ignored; its
    // pixels are refused by the decoder's header check, which validation runs on the chosen series.
    const mpeg = buildFile({ ts: "1.2.840.10008.1.2.4.100", elements: ctElements() });
    const h = parse(mpeg);
    expect([h.transferSyntax, h.modality, h.seriesInstanceUid]).toEqual([
      "1.2.840.10008.1.2.4.100",
      "CT",
      "1.2.3.11",
    ]);
    expect(rejectionCodes(() => checkPixelFormat(h))).toEqual(["UNSUPPORTED_TRANSFER_SYNTAX"]);
    // Unreadable that way, or declared as something that is not a UID: refused at once, as before.
    const garbled = concat([
      buildFile({ ts: "1.2.3.4.5", elements: [] }),
      Uint8Array.of(8, 0, 0x18, 0, 0x55, 0x49, 0xff, 0x7f, 1),
    ]);
    expect(rejectionCodes(() => parse(garbled))).toEqual(["UNSUPPORTED_TRANSFER_SYNTAX"]);
    const notUid = buildFile({ ts: "JPEG-XL", elements: ctElements() });
    expect(rejectionCodes(() => parse(notUid))).toEqual(["UNSUPPORTED_TRANSFER_SYNTAX"]);
  });

  it("rejects Pixel Data declared longer than the file as TRUNCATED", () => {
    const f = ctFile({ samples: SAMPLES });
    const short = f.subarray(0, f.length - 2);
    expect(rejectionCodes(() => parse(short))).toEqual(["TRUNCATED"]);
    // The same bytes as a prefix of a longer file are fine.
    expect(parse(short, f.length).pixelData?.length).toBe(12);
  });

  it("refuses an implausible frame count and a deflate bomb", () => {
    const many = buildFile({
      ts: TS.explicitLE,
      elements: [
        ...ctElements({ frames: 10_000_000 }),
        { tag: 0x7fe00010, vr: "OW", bytes: new Uint8Array(2) },
      ],
    });
    expect(rejectionCodes(() => parse(many))).toEqual(["TOO_LARGE"]);
    // A private OB element (0029,1010) of 70 MiB of zeros, before any Pixel Data: it deflates to about 70 KB.
    const size = 70 * 1024 * 1024;
    const big = new Uint8Array(12 + size);
    big.set([
      0x29,
      0x00,
      0x10,
      0x10,
      0x4f,
      0x42,
      0,
      0,
      size & 0xff,
      (size >> 8) & 0xff,
      (size >> 16) & 0xff,
      size >>> 24,
    ]);
    const bomb = buildFile({ ts: TS.deflated, elements: ctElements(), datasetSuffix: big });
    expect(bomb.length).toBeLessThan(200_000);
    expect(rejectionCodes(() => parse(bomb))).toEqual(["TOO_LARGE"]);
  });

  it("rejects a corrupt deflate stream", () => {
    const f = buildFile({ ts: TS.deflated, elements: ctElements() });
    const meta = f.length - deflateRawSync(encodeElements(ctElements(), true, true)).length;
    const broken = concat([f.subarray(0, meta), Uint8Array.of(0xff, 0xff, 0xff, 0xff, 0xff, 0xff)]);
    expect(rejectionCodes(() => parse(broken))).toEqual(["NOT_DICOM"]);
  });
});

describe("parseDicomHeader: enhanced multi-frame CT", () => {
  const group = (tag: number, inner: Element[]): Element => ({ tag, vr: "SQ", items: [inner] });
  const perFrame = (z: number, intercept?: string): Element[] => [
    group(0x00209113, [{ tag: 0x00200032, vr: "DS", str: `-10\\-20\\${z}` }]),
    ...(intercept
      ? [
          group(0x00289145, [
            { tag: 0x00281052, vr: "DS", str: intercept },
            { tag: 0x00281053, vr: "DS", str: "2" },
          ]),
        ]
      : []),
  ];
  const elements: Element[] = [
    { tag: 0x00080016, vr: "UI", str: "1.2.840.10008.5.1.4.1.1.2.1" },
    { tag: 0x00080060, vr: "CS", str: "CT" },
    { tag: 0x00280008, vr: "IS", str: "3" },
    { tag: 0x00280010, vr: "US", nums: [2] },
    { tag: 0x00280011, vr: "US", nums: [2] },
    { tag: 0x00280100, vr: "US", nums: [16] },
    { tag: 0x00280101, vr: "US", nums: [12] },
    { tag: 0x00280103, vr: "US", nums: [0] },
    { tag: 0x00280004, vr: "CS", str: "MONOCHROME2" },
    {
      tag: 0x52009229,
      vr: "SQ",
      items: [
        [
          group(0x00209116, [{ tag: 0x00200037, vr: "DS", str: "1\\0\\0\\0\\0\\-1" }]),
          group(0x00289110, [
            { tag: 0x00280030, vr: "DS", str: "0.7\\0.8" },
            { tag: 0x00180050, vr: "DS", str: "2" },
          ]),
          group(0x00289145, [
            { tag: 0x00281052, vr: "DS", str: "-1024" },
            { tag: 0x00281053, vr: "DS", str: "1" },
          ]),
        ],
      ],
    },
    {
      tag: 0x52009230,
      vr: "SQ",
      undefinedLength: true,
      items: [perFrame(5), perFrame(7.5, "-1000"), perFrame(10)],
    },
    { tag: 0x7fe00010, vr: "OW", bytes: new Uint8Array(24) },
  ];

  it("resolves shared and per-frame functional groups into one FrameInfo per frame", () => {
    for (const ts of [TS.explicitLE, TS.implicitLE]) {
      const h = parse(buildFile({ ts, elements }));
      const common = { orientation: [1, 0, 0, 0, 0, -1], pixelSpacing: [0.7, 0.8], sliceThickness: 2 };
      expect(h.numberOfFrames).toBe(3);
      expect(h.frames).toEqual([
        { ...common, position: [-10, -20, 5], rescaleSlope: 1, rescaleIntercept: -1024 },
        { ...common, position: [-10, -20, 7.5], rescaleSlope: 2, rescaleIntercept: -1000 },
        { ...common, position: [-10, -20, 10], rescaleSlope: 1, rescaleIntercept: -1024 },
      ]);
    }
  });

  it("gives frames of a multi-frame object without functional groups no invented positions", () => {
    const h = parse(ctFile({ samples: new Array(12).fill(0), frames: 2 }));
    expect(h.frames).toHaveLength(2);
    expect(h.frames[0]?.position).toEqual([-100.5, -120.25, 33.75]);
    expect(h.frames[1]?.position).toBeUndefined();
    expect(h.frames[1]?.orientation).toEqual([1, 0, 0, 0, 1, 0]);
  });

  it.skipIf(!haveCorpus)("CT0012 (enhanced CT): the values pydicom reads from its functional groups", () => {
    const h = parse(corpusFile("dicom/syntax/CT0012_ELE.dcm"));
    expect(h.sopClassUid).toBe("1.2.840.10008.5.1.4.1.1.2.1");
    const common = {
      orientation: [-1, 0, 0, 0, 1, 0],
      pixelSpacing: [0.388672, 0.388672],
      sliceThickness: 10,
      rescaleSlope: 1,
      rescaleIntercept: -1024,
    };
    expect(h.frames).toEqual([
      { ...common, position: [99.5, -301.5, -159] },
      { ...common, position: [99.5, -301.5, -149] },
    ]);
  });
});

describe("value parsers", () => {
  it("parses DS, IS and TM strictly", () => {
    expect(parseDecimalString(" -1.5e2 ")).toBe(-150);
    expect(parseDecimalString("+.5")).toBe(0.5);
    for (const bad of ["", "abc", "1A", "0x10", "1.2.3", "NaN", "Infinity"])
      expect(parseDecimalString(bad)).toBeUndefined();
    expect(parseIntegerString(" 42 ")).toBe(42);
    expect(parseIntegerString("-7")).toBe(-7);
    for (const bad of ["1A", "1.5", "", "99999999999999999999"])
      expect(parseIntegerString(bad)).toBeUndefined();
    expect(parseTimeSeconds("101530.25")).toBeCloseTo(36930.25, 6);
    expect(parseTimeSeconds("10:15:30")).toBe(36930);
    expect(parseTimeSeconds("1015")).toBe(36900);
    expect(parseTimeSeconds("07")).toBe(25200);
    for (const bad of ["25", "1060", "abc", "", "10:1"]) expect(parseTimeSeconds(bad)).toBeUndefined();
  });
});

describe.skipIf(!haveCorpus)("parseDicomHeader: corpus edge cases", () => {
  const codes = (rel: string) => rejectionCodes(() => parse(corpusFile(rel)));

  it("rejects what cannot be read with the documented codes", () => {
    expect(codes("dicom/bad/meta_missing_tsyntax.dcm")).toEqual(["NOT_DICOM"]);
    expect(codes("dicom/bad/no_meta_shifted.dcm")).toEqual(["NOT_DICOM"]);
    expect(codes("dicom/bad/zipMR.gz")).toEqual(["NOT_DICOM"]);
    expect(codes("dicom/bad/rtplan_truncated.dcm")).toEqual(["TRUNCATED"]);
    expect(codes("dicom/bad/MR_truncated.dcm")).toEqual(["TRUNCATED"]);
  });

  it("reads raw datasets without meta in both byte orders", () => {
    const le = parse(corpusFile("dicom/bad/ExplVR_LitEndNoMeta.dcm"));
    const be = parse(corpusFile("dicom/bad/ExplVR_BigEndNoMeta.dcm"));
    expect(le).toMatchObject({ hasMeta: false, transferSyntax: TS.explicitLE, modality: "RTPLAN" });
    expect(be).toMatchObject({ hasMeta: false, transferSyntax: TS.explicitBE, modality: "RTPLAN" });
    expect(be.sopClassUid).toBe(le.sopClassUid);
  });

  it("survives the bad-VR and odd-structure files", () => {
    expect(parse(corpusFile("dicom/bad/badVR_rtdose.dcm")).modality).toBe("RTDOSE");
    expect(parse(corpusFile("dicom/bad/UN_sequence.dcm")).pixelData).toBeUndefined();
    expect(parse(corpusFile("dicom/bad/no_meta_group_length.dcm")).modality).toBeUndefined();
    expect(parse(corpusFile("dicom/syntax/OT_deflate.dcm"))).toMatchObject({
      modality: "OT",
      rows: 512,
      bitsAllocated: 8,
    });
  });
});
