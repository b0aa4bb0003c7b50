/**
 * Decoding of DICOM text values to Unicode by their Specific Character Set (0008,0005), PS3.3 C.12.1.1.2
 * and PS3.5 §6.1: single-byte repertoires with or without code extensions (ISO_IR 100 …, ISO 2022 IR 100
 * …), the ISO 2022 multi-byte sets switched by escape sequences (Japanese ISO 2022 IR 87/159 with IR 13/14,
 * Korean IR 149, Chinese IR 58), and the stand-alone UTF-8, GB18030 and GBK.
 *
 * Faithful or nothing: a value whose bytes do not fit the declared repertoires (an unknown term or escape
 * sequence, a byte no designated set holds, a broken multi-byte pair) decodes to undefined, never to
 * mojibake, so a caller can leave it empty.
 *
 * dcmjs decodes one character set per dataset (it warns about and drops code extensions) and maps ISO 2022
 * IR 159 to iso-2022-jp, which lacks JIS X 0212; dicom-parser decodes nothing. Hence this module, which
 * leaves the byte-level work per set to TextDecoder (Node's ICU: euc-jp, euc-kr, gb18030, iso-8859-x ...).
 */

/** A code element's character set. G0 sets take bytes 0x21-0x7E, G1 sets 0xA0/0xA1-0xFF. */
type G0 = "ascii" | "jisx0208" | "jisx0212";
type G1 =
  | { kind: "single"; label: string }
  | { kind: "kana" }
  | { kind: "double"; label: string }
  | undefined;

interface Term {
  g0?: G0;
  g1?: G1;
  /** The escape sequence that designates it (code extensions only), after ESC. */
  escape?: string;
}

const single = (label: string): G1 => ({ kind: "single", label });

/** ISO 8859 parts with their ISO-IR numbers and final bytes of ESC 02/13 F (PS3.3 Table C.12-3). */
const SINGLE_BYTE: [ir: number, label: string, final: string][] = [
  [100, "iso-8859-1", "A"],
  [101, "iso-8859-2", "B"],
  [109, "iso-8859-3", "C"],
  [110, "iso-8859-4", "D"],
  [144, "iso-8859-5", "L"],
  [127, "iso-8859-6", "G"],
  [126, "iso-8859-7", "F"],
  [138, "iso-8859-8", "H"],
  [148, "iso-8859-9", "M"],
  [203, "iso-8859-15", "b"],
  [166, "windows-874", "T"], // TIS 620-2533 (Thai); windows-874 holds it unchanged in 0xA0-0xFF
];

/** Terms with code extensions (ISO 2022 ...), each with its escape sequence. */
const EXTENSION_TERMS: Record<string, Term> = {
  "ISO 2022 IR 6": { g0: "ascii", escape: "(B" },
  // JIS X 0201: katakana in G1; its romaji half (ISO-IR 14) differs from ASCII only at 0x5C/0x7E and is
  // read as ASCII, as pydicom and WHATWG's shift_jis do.
  "ISO 2022 IR 13": { g1: { kind: "kana" }, escape: ")I" },
  "ISO 2022 IR 87": { g0: "jisx0208", escape: "$B" },
  "ISO 2022 IR 159": { g0: "jisx0212", escape: "$(D" },
  "ISO 2022 IR 149": { g1: { kind: "double", label: "euc-kr" }, escape: "$)C" },
  "ISO 2022 IR 58": { g1: { kind: "double", label: "gb18030" }, escape: "$)A" },
  ...Object.fromEntries(
    SINGLE_BYTE.map(([ir, label, final]) => [
      `ISO 2022 IR ${ir}`,
      { g1: single(label), escape: `-${final}` },
    ]),
  ),
};

/** Every escape sequence the decoder understands (after ESC), with the code element it designates. */
const ESCAPES = new Map<string, Term>([
  ...Object.values(EXTENSION_TERMS).map((t) => [t.escape as string, t] as [string, Term]),
  ["(J", { g0: "ascii" }], // ISO-IR 14, JIS X 0201 romaji (see above)
]);

/**
 * Terms without code extensions (single value only). No term, or ISO_IR 6, is ASCII by the standard, but
 * files that say so and carry Latin-1 names are common (a scanner that never set the attribute): their
 * upper half is read as ISO 8859-1, as it always was here, rather than the name dropped.
 */
const PLAIN_TERMS: Record<string, Term> = {
  "": { g0: "ascii", g1: single("iso-8859-1") },
  "ISO_IR 6": { g0: "ascii", g1: single("iso-8859-1") },
  "ISO_IR 13": { g0: "ascii", g1: { kind: "kana" } },
  ...Object.fromEntries(
    SINGLE_BYTE.map(([ir, label]) => [`ISO_IR ${ir}`, { g0: "ascii", g1: single(label) }]),
  ),
};

/** Stand-alone repertoires: no code extensions, the whole value decoded at once (PS3.3 Table C.12-5). */
const STAND_ALONE: Record<string, string> = { "ISO_IR 192": "utf-8", GB18030: "gb18030", GBK: "gbk" };

const ESC = 0x1b;
/** Bytes before which the initial character sets are active again (PS3.5 §6.1.2.5.3). */
const CONTROL_RESET = new Set([0x09, 0x0a, 0x0c, 0x0d, 0x5c]);
const PN_RESET = new Set([0x5e, 0x3d]); // '^', '='

/** A decoder of one element's bytes, or undefined when the Specific Character Set is not understood. */
export type TextValueDecoder = (bytes: Uint8Array, options?: { personName?: boolean }) => string | undefined;

/**
 * The decoder for the Specific Character Set's values (as written, backslash-separated or already split).
 * Undefined when a term is unknown or the combination is not allowed: then no non-ASCII value is safe.
 */
export function textDecoderFor(
  specificCharacterSet: string | readonly string[],
): TextValueDecoder | undefined {
  // Defined Terms as written by hand-made or older files too: "ISO_IR_100", "iso_ir 100", "ISO-IR 100".
  const values = (
    typeof specificCharacterSet === "string" ? specificCharacterSet.split("\\") : [...specificCharacterSet]
  ).map(canonicalTerm);
  const first = values[0] ?? "";
  const standAlone = STAND_ALONE[first];
  if (standAlone !== undefined) {
    if (values.length > 1) return undefined;
    const decoder = new TextDecoder(standAlone, { fatal: true });
    return (bytes) => attempt(() => decoder.decode(bytes));
  }
  let initial: Term | undefined;
  let extensions = false;
  if (values.length === 1 && first in PLAIN_TERMS) {
    initial = PLAIN_TERMS[first];
  } else {
    // Code extensions: value 1 empty is ISO 2022 IR 6; every value must be a known extension term.
    extensions = true;
    if (values.some((v, i) => !(v in EXTENSION_TERMS) && !(i === 0 && v === ""))) return undefined;
    // Value 1 is the initial set: G0 is ASCII (JIS X 0201 romaji read as ASCII), and G1 its single-byte
    // or katakana half if it has one; multi-byte sets are active only after their escape sequence.
    const g1 = EXTENSION_TERMS[first]?.g1;
    initial = { g0: "ascii", g1: g1?.kind === "double" ? undefined : g1 };
  }
  if (!initial) return undefined;
  const start: { g0: G0; g1: G1 } = { g0: initial.g0 ?? "ascii", g1: initial.g1 };
  return (bytes, options) =>
    attempt(() => decodeIso2022(bytes, start, extensions, options?.personName ?? false));
}

/** A Defined Term in the standard's spelling, whatever the case and the space/underscore/hyphen in it. */
function canonicalTerm(written: string): string {
  const t = written.trim().toUpperCase();
  const ir = /^ISO[\s_-]*IR[\s_-]*(\d+)$/.exec(t);
  if (ir) return `ISO_IR ${ir[1]}`;
  const ext = /^ISO[\s_-]*2022[\s_-]*IR[\s_-]*(\d+)$/.exec(t);
  if (ext) return `ISO 2022 IR ${ext[1]}`;
  return t;
}

function attempt(decode: () => string | undefined): string | undefined {
  try {
    return decode();
  } catch {
    return undefined;
  }
}

type Decoder = { decode(bytes: Uint8Array): string };
const decoders = new Map<string, Decoder>();
function decoder(label: string): Decoder {
  let d = decoders.get(label);
  if (!d) {
    d = new TextDecoder(label, { fatal: true });
    decoders.set(label, d);
  }
  return d;
}

/**
 * Walks the bytes with the state of code elements G0 and G1: escape sequences designate sets, bytes below
 * 0x80 are read through G0, the others through G1. Throws (or returns undefined) on anything else.
 */
function decodeIso2022(
  bytes: Uint8Array,
  start: { g0: G0; g1: G1 },
  extensions: boolean,
  personName: boolean,
): string | undefined {
  let { g0, g1 } = start;
  let out = "";
  let i = 0;
  while (i < bytes.length) {
    const b = bytes[i] as number;
    if (b === ESC) {
      if (!extensions) return undefined;
      const seq = escapeAt(bytes, i + 1);
      if (!seq) return undefined;
      if (seq.term.g0) g0 = seq.term.g0;
      if (seq.term.g1) g1 = seq.term.g1;
      i += 1 + seq.length;
      continue;
    }
    if (b < 0x80) {
      if ((g0 === "jisx0208" || g0 === "jisx0212") && b >= 0x21 && b <= 0x7e) {
        const b2 = bytes[i + 1];
        if (b2 === undefined || b2 < 0x21 || b2 > 0x7e) return undefined;
        // EUC-JP holds JIS X 0208 as its two bytes + 0x80, and JIS X 0212 after the 0x8F single shift.
        const pair = [b | 0x80, b2 | 0x80];
        out += decoder("euc-jp").decode(new Uint8Array(g0 === "jisx0212" ? [0x8f, ...pair] : pair));
        i += 2;
        continue;
      }
      if (b < 0x20 && !CONTROL_RESET.has(b)) return undefined;
      if (CONTROL_RESET.has(b) || (personName && PN_RESET.has(b))) {
        // A delimiter: the initial sets are active again (the writer had to switch back before it).
        g0 = start.g0;
        g1 = start.g1;
      }
      out += String.fromCharCode(b);
      i += 1;
      continue;
    }
    if (!g1 || b < 0xa0) return undefined;
    if (g1.kind === "single") {
      out += decoder(g1.label).decode(new Uint8Array([b]));
      i += 1;
    } else if (g1.kind === "kana") {
      if (b < 0xa1 || b > 0xdf) return undefined;
      out += String.fromCharCode(0xff61 + (b - 0xa1));
      i += 1;
    } else {
      const b2 = bytes[i + 1];
      if (b < 0xa1 || b2 === undefined || b2 < 0xa1 || b2 > 0xfe) return undefined;
      out += decoder(g1.label).decode(new Uint8Array([b, b2]));
      i += 2;
    }
  }
  return out;
}

/** The escape sequence starting after an ESC at `at`, when it is one this decoder knows. */
function escapeAt(bytes: Uint8Array, at: number): { term: Term; length: number } | undefined {
  for (const length of [2, 3]) {
    const seq = String.fromCharCode(...bytes.subarray(at, at + length));
    const term = seq.length === length ? ESCAPES.get(seq) : undefined;
    if (term) return { term, length };
  }
  return undefined;
}
