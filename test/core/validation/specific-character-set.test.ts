/**
 * DICOM text decoding by Specific Character Set (core/validation/specific-character-set.ts) on the byte
 * examples of PS3.5 Annexes H (Japanese), I (Korean) and K (Chinese), and on the single-byte sets with and
 * without code extensions. Values that do not fit their declared repertoires decode to undefined.
 */
import { describe, expect, it } from "vitest";
import { textDecoderFor } from "../../../core/validation/specific-character-set.js";

const hex = (s: string) =>
  new Uint8Array(
    s
      .split(/\s+/)
      .filter(Boolean)
      .map((h) => Number.parseInt(h, 16)),
  );
const ascii = (s: string) => [...s].map((c) => c.charCodeAt(0).toString(16)).join(" ");
const pn = (charset: string, bytes: Uint8Array) => textDecoderFor(charset)?.(bytes, { personName: true });

describe("textDecoderFor", () => {
  it("decodes PS3.5 H.3.1: Japanese with ISO 2022 IR 87 in all three component groups", () => {
    const bytes = hex(
      `${ascii("Yamada^Tarou=")} 1b 24 42 3b 33 45 44 1b 28 42 5e 1b 24 42 42 40 4f 3a 1b 28 42 3d
       1b 24 42 24 64 24 5e 24 40 1b 28 42 5e 1b 24 42 24 3f 24 6d 24 26 1b 28 42`,
    );
    expect(pn("\\ISO 2022 IR 87", bytes)).toBe("Yamada^Tarou=山田^太郎=やまだ^たろう");
    // Value 1 written out as ISO 2022 IR 6 is the same thing.
    expect(pn("ISO 2022 IR 6\\ISO 2022 IR 87", bytes)).toBe("Yamada^Tarou=山田^太郎=やまだ^たろう");
  });

  it("decodes PS3.5 H.3.2: half-width katakana (ISO 2022 IR 13) with JIS X 0208", () => {
    const bytes = hex(
      `d4 cf c0 de 5e c0 db b3 3d 1b 24 42 3b 33 45 44 1b 28 4a 5e 1b 24 42 42 40 4f 3a 1b 28 4a 3d
       1b 24 42 24 64 24 5e 24 40 1b 28 4a 5e 1b 24 42 24 3f 24 6d 24 26 1b 28 4a`,
    );
    expect(pn("ISO 2022 IR 13\\ISO 2022 IR 87", bytes)).toBe("ﾔﾏﾀﾞ^ﾀﾛｳ=山田^太郎=やまだ^たろう");
  });

  it("decodes JIS X 0212 (ISO 2022 IR 159)", () => {
    const bytes = hex(`${ascii("A=")} 1b 24 28 44 30 21 1b 24 42 3b 33 1b 28 42`);
    expect(pn("\\ISO 2022 IR 87\\ISO 2022 IR 159", bytes)).toBe("A=丂山");
  });

  it("decodes PS3.5 I.2: Korean with ISO 2022 IR 149 in G1", () => {
    const bytes = hex(
      `${ascii("Hong^Gildong=")} 1b 24 29 43 fb f3 5e 1b 24 29 43 d1 ce d4 d7 3d
       1b 24 29 43 c8 ab 5e 1b 24 29 43 b1 e6 b5 bf`,
    );
    expect(pn("\\ISO 2022 IR 149", bytes)).toBe("Hong^Gildong=洪^吉洞=홍^길동");
  });

  it("decodes PS3.5 K.2: Chinese GB 2312 with ISO 2022 IR 58", () => {
    const bytes = hex(`${ascii("Zhang^XiaoDong=")} 1b 24 29 41 d5 c5 5e 1b 24 29 41 d0 a1 b6 ab 3d 20`);
    expect(pn("\\ISO 2022 IR 58", bytes)?.trim()).toBe("Zhang^XiaoDong=张^小东=");
    // The same bytes without the escape sequences are not GB 2312 in any declared set: no mojibake.
    expect(pn("\\ISO 2022 IR 58", hex(`${ascii("Zhang=")} d5 c5`))).toBeUndefined();
  });

  it("decodes the stand-alone UTF-8, GB18030 and GBK", () => {
    expect(pn("ISO_IR 192", new TextEncoder().encode("Wang^XiaoDong=王^小東="))).toBe(
      "Wang^XiaoDong=王^小東=",
    );
    expect(pn("GB18030", hex(`${ascii("Wang^XiaoDong=")} cd f5 5e d0 a1 96 7c`))).toBe(
      "Wang^XiaoDong=王^小東",
    );
    expect(pn("GBK", hex("cd f5"))).toBe("王");
    expect(pn("ISO_IR 192", hex("c3 28"))).toBeUndefined();
  });

  it("decodes single-byte sets with and without code extensions", () => {
    const muller = hex(`4d fc 6c 6c 65 72 5e 4a fc 72 67 65 6e`);
    expect(pn("ISO_IR 100", muller)).toBe("Müller^Jürgen");
    expect(pn("ISO 2022 IR 100", muller)).toBe("Müller^Jürgen");
    expect(pn("ISO_IR 101", hex("57 61 b3 ea 73 61"))).toBe("Wałęsa");
    expect(pn("ISO_IR 144", hex("bb ee da"))).toBe("Люк");
    expect(pn("ISO_IR 126", hex("c4 e9 ef"))).toBe("Διο");
    expect(pn("ISO_IR 138", hex("f9 f8 e5 EF"))).toBe("שרון");
    expect(pn("ISO_IR 148", hex("c7 61 76 75 fe"))).toBe("Çavuş");
    // Latin-1 switched in by its escape sequence after JIS X 0208 and ASCII.
    expect(pn("\\ISO 2022 IR 100\\ISO 2022 IR 87", hex(`1b 2d 41 4d fc 3d 1b 24 42 3b 33 1b 28 42`))).toBe(
      "Mü=山",
    );
  });

  it("reads Latin-1 names of files that declare no character set (or ASCII), and terms spelled loosely", () => {
    // Not conformant, but common: a scanner that never set (0008,0005) and writes "Müller".
    expect(pn("", hex("4d fc 6c 6c 65 72 5e 48 61 6e 73"))).toBe("Müller^Hans");
    expect(pn("ISO_IR 6", hex("4d fc"))).toBe("Mü");
    for (const written of ["ISO_IR_100", "iso_ir 100", "ISO-IR 100", " ISO_IR 100 "])
      expect(pn(written, hex("4d fc"))).toBe("Mü");
    expect(pn("\\ISO_2022_IR_87", hex("1b 24 42 3b 33 45 44 1b 28 42"))).toBe("山田");
    // Still nothing for a control byte of the upper half or a broken UTF-8 value.
    expect(pn("", hex("80 41"))).toBeUndefined();
    expect(pn("ISO_IR 192", hex("4d fc"))).toBeUndefined();
  });

  it("leaves undecodable values undefined rather than guessing", () => {
    // C1 controls are not ISO 8859 text (WHATWG's latin1 would read windows-1252 here).
    expect(pn("ISO_IR 100", hex("80 41"))).toBeUndefined();
    // Escape sequences need code extensions; unknown escapes and terms are not guessed.
    expect(pn("ISO_IR 100", hex("1b 24 42 3b 33 1b 28 42"))).toBeUndefined();
    expect(pn("\\ISO 2022 IR 87", hex("1b 24 51 3b 33"))).toBeUndefined();
    expect(textDecoderFor("ISO_IR 999")).toBeUndefined();
    expect(textDecoderFor("ISO_IR 192\\ISO 2022 IR 87")).toBeUndefined();
    // A broken JIS X 0208 pair, and an 8-bit byte while no G1 set is designated.
    expect(pn("\\ISO 2022 IR 87", hex("1b 24 42 3b"))).toBeUndefined();
    expect(pn("\\ISO 2022 IR 87", hex("41 e0"))).toBeUndefined();
  });

  it("resets to the initial sets at person-name delimiters only outside multi-byte G0 sets", () => {
    // '^' (0x5E) and '=' (0x3D) are ordinary JIS X 0208 bytes while JIS X 0208 is designated.
    expect(pn("\\ISO 2022 IR 87", hex("1b 24 42 24 5e 24 3d 1b 28 42 5e 41"))).toBe("まそ^A");
    // Designating katakana in G1 leaves JIS X 0208 in G0.
    expect(pn("ISO 2022 IR 13\\ISO 2022 IR 87", hex("1b 24 42 3b 33 1b 29 49 45 44 d4 1b 28 4a"))).toBe(
      "山田ﾔ",
    );
    // Korean G1 is active again only by its escape; a delimiter restores the initial (no G1).
    expect(pn("\\ISO 2022 IR 149", hex("1b 24 29 43 c8 ab 5e c8 ab"))).toBeUndefined();
  });
});
