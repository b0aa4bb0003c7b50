import { createHash } from "node:crypto";
import { mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { zipSync } from "fflate";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { isInputRejected } from "../../../core/errors.js";
import { openLocalInput } from "../../../core/input/open-local.js";
import { looksLikeArchive, openZip, unsafeEntryNameProblem } from "../../../core/input/zip-source.js";
import {
  bytesOf,
  craftZip,
  ctLikeBytes,
  expectRejected,
  MemoryRandomAccess,
} from "../../helpers/input-fixtures.js";

const CORPUS = path.resolve(import.meta.dirname, "../../../../shared/corpus");
const sha = (b: Uint8Array) => createHash("sha256").update(b).digest("hex");
const open = (bytes: Uint8Array, limits = {}) =>
  openZip(new MemoryRandomAccess(bytes), "t.zip", "zip", limits);

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), "zip-source-"));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe("openZip: well-formed archives", () => {
  it("reads a header prefix of each entry with one request per entry, deflated or stored", async () => {
    for (const level of [6, 0] as const) {
      const files = Object.fromEntries(
        Array.from({ length: 20 }, (_, i) => [`s/${i}.dcm`, ctLikeBytes(200_000, i + 1)]),
      );
      const access = new MemoryRandomAccess(zipSync(files, { level }));
      const src = await openZip(access, "s.zip", "zip");
      const opened = access.fetches.length;
      const prefixes = await Promise.all(src.entries.map((e) => e.read(0, 16 * 1024)));
      expect(access.fetches.length - opened).toBe(20);
      src.entries.forEach((e, i) => {
        expect(sha(prefixes[i]!)).toBe(sha(files[e.path]!.subarray(0, 16 * 1024)));
      });
    }
  });

  it("reads many deflated entries at once, prefixes then wholes, with only a few inflaters kept alive", async () => {
    const contents = Array.from({ length: 12 }, (_, i) => ctLikeBytes(60_000 + i * 1000, i + 1));
    const src = await open(
      zipSync(Object.fromEntries(contents.map((c, i) => [`s/${String(i).padStart(2, "0")}.dcm`, c]))),
    );
    const prefixes = await Promise.all(src.entries.map((e) => e.read(0, 4096)));
    const wholes = await Promise.all(src.entries.map((e) => e.read()));
    contents.forEach((c, i) => {
      expect(sha(prefixes[i]!)).toBe(sha(c.subarray(0, 4096)));
      expect(sha(wholes[i]!)).toBe(sha(c));
    });
  });

  it("reads a deflated entry front to back without inflating it again for every step", async () => {
    const content = ctLikeBytes(2_000_000, 3);
    const zip = zipSync({ "ct.nii": content }, { level: 6 });
    const reader = new MemoryRandomAccess(zip);
    const src = await openZip(reader, "n.zip", "zip");
    const step = 64 * 1024;
    const parts: Uint8Array[] = [];
    for (let pos = 0; pos < content.length; pos += step)
      parts.push(await src.entries[0]!.read(pos, pos + step));
    expect(Buffer.concat(parts).equals(Buffer.from(content))).toBe(true);
    // Quadratic re-inflation would fetch the compressed data ~16 times over; one pass fetches it once.
    expect(reader.bytesRead()).toBeLessThan(1.2 * zip.length);
    // A step back starts over from the entry's start and still gives the right bytes.
    expect(
      Buffer.from(await src.entries[0]!.read(10, 20)).equals(Buffer.from(content.subarray(10, 20))),
    ).toBe(true);
  });

  it("lists only files, sorted, skipping directories, __MACOSX and hidden entries", async () => {
    const zip = craftZip([
      { name: "series/", method: 0 },
      { name: "series/b.dcm", content: bytesOf("bbbb") },
      { name: "series/a.dcm", content: bytesOf("aaa"), method: 0 },
      { name: "__MACOSX/series/._a.dcm", content: bytesOf("fork") },
      { name: "series/.DS_Store", content: bytesOf("ds") },
      { name: ".hidden/x.dcm", content: bytesOf("x") },
      { name: "./top.dcm", content: bytesOf("top") },
    ]);
    const src = await open(zip);
    expect(src.container).toBe("zip");
    expect(src.name).toBe("t.zip");
    expect(src.bytesTotal).toBe(zip.length);
    expect(src.entries.map((e) => [e.path, e.size])).toEqual([
      ["series/a.dcm", 3],
      ["series/b.dcm", 4],
      ["top.dcm", 3],
    ]);
    expect(new TextDecoder().decode(await src.entries[1]!.read())).toBe("bbbb");
    await src.close();
  });

  it("reads stored and deflated entries whole and by range, clamping end to the size", async () => {
    const content = ctLikeBytes(300_000, 7);
    const zip = zipSync({ "s.dcm": [content, { level: 0 }], "d.dcm": [content, { level: 6 }] });
    const src = await open(zip);
    for (const e of src.entries) {
      expect(e.size).toBe(content.length);
      expect(sha(await e.read())).toBe(sha(content));
      expect(await e.read(1000, 5000)).toEqual(content.slice(1000, 5000));
      expect(await e.read(299_990, 400_000)).toEqual(content.slice(299_990));
      expect((await e.read(10, 10)).length).toBe(0);
      expect((await e.read(500_000)).length).toBe(0);
    }
    await src.close();
  });

  it("reads a zip64 archive (sizes and directory in zip64 records)", async () => {
    const content = ctLikeBytes(5000, 3);
    const zip = craftZip([{ name: "a.dcm", content, zip64: true }], { zip64: true });
    const src = await open(zip);
    expect(src.entries.map((e) => e.size)).toEqual([5000]);
    expect(await src.entries[0]!.read()).toEqual(content);
    await src.close();
  });

  it("reads a zip of real CT slices from the corpus byte for byte, from a local file", async () => {
    const sliceDir = path.join(CORPUS, "dicom/real/ct-3slice");
    const names = (await readdir(sliceDir)).sort();
    const files = Object.fromEntries(
      await Promise.all(
        names.map(async (n) => [`ct/${n}`, new Uint8Array(await readFile(path.join(sliceDir, n)))]),
      ),
    ) as Record<string, Uint8Array>;
    const zipPath = path.join(dir, "ct-3slice.zip");
    await writeFile(zipPath, zipSync(files));
    const src = await openLocalInput(zipPath);
    expect(src.container).toBe("zip");
    expect(src.entries.map((e) => e.path)).toEqual(names.map((n) => `ct/${n}`));
    for (const e of src.entries) expect(sha(await e.read())).toBe(sha(files[e.path]!));
    // DICOM magic after the 128-byte preamble, from a prefix read.
    expect(new TextDecoder().decode((await src.entries[0]!.read(128, 132)) as Uint8Array)).toBe("DICM");
    await src.close();
  });

  it("a prefix read of a deflated 2 MB entry inflates only a few compressed KiB", async () => {
    const content = ctLikeBytes(2 * 1024 * 1024, 11);
    const zip = zipSync({ "big.dcm": [content, { level: 6 }] });
    const zipPath = path.join(dir, "big.zip");
    await writeFile(zipPath, zip);
    const src = await openLocalInput(zipPath);
    const compressed = zip.length - 100;
    expect(compressed).toBeGreaterThan(1_000_000); // really a 2 MB entry that deflates about 2:1
    const before = src.bytesRead();
    const prefix = await src.entries[0]!.read(0, 4096);
    const cost = src.bytesRead() - before;
    expect(prefix).toEqual(content.slice(0, 4096));
    expect(cost).toBeLessThan(16 * 1024);
    expect(cost).toBeLessThan(compressed / 50);
    // A read further in costs proportionally more, and the whole entry still checks out.
    expect(await src.entries[0]!.read(100_000, 100_100)).toEqual(content.slice(100_000, 100_100));
    expect(sha(await src.entries[0]!.read())).toBe(sha(content));
    await src.close();
  });

  it("a prefix read of a stored entry is a direct range read", async () => {
    const content = ctLikeBytes(500_000, 5);
    const ra = new MemoryRandomAccess(zipSync({ "s.dcm": [content, { level: 0 }] }));
    const src = await openZip(ra, "s.zip", "zip", {});
    ra.fetches.length = 0;
    const before = src.bytesRead();
    expect(await src.entries[0]!.read(0, 16_384)).toEqual(content.slice(0, 16_384));
    expect(src.bytesRead() - before).toBeLessThanOrEqual(16_384 + 4096);
    await src.close();
    expect(ra.closed).toBe(true);
  });
});

describe("openZip: unsafe or broken archives are rejected before anything is inflated", () => {
  it("a 1 KB zip whose entry declares 10 GB is TOO_LARGE at open", async () => {
    const zip = craftZip(
      [{ name: "bomb.dcm", content: new Uint8Array(500), declaredSize: 10e9, zip64: true }],
      {
        zip64: true,
      },
    );
    expect(zip.length).toBeLessThan(1024);
    await expectRejected(open(zip), "TOO_LARGE", /uncompressed/);
  });

  it("the same lie under a generous size limit is a zip bomb by ratio (ARCHIVE_UNSAFE)", async () => {
    const zip = craftZip(
      [{ name: "bomb.dcm", content: new Uint8Array(500), declaredSize: 10e9, zip64: true }],
      {
        zip64: true,
      },
    );
    const r = await expectRejected(open(zip, { maxUncompressedBytes: 1e12 }), "ARCHIVE_UNSAFE", /zip bomb/);
    // Named by its line in the directory, never by its name (names can be the patient's).
    expect(r.message).toMatch(/^Zip entry 1 \(line 1 of `unzip -Z1`\)/);
    expect(r.message).not.toContain("bomb.dcm");
    expect(r.file).toBeUndefined();
  });

  it("a real deflate bomb (20 MB of zeros in ~20 KB) is ARCHIVE_UNSAFE", async () => {
    const zip = zipSync({ "zeros.dcm": new Uint8Array(20 * 1024 * 1024) });
    expect(zip.length).toBeLessThan(100_000);
    await expectRejected(open(zip), "ARCHIVE_UNSAFE", /ratio/);
  });

  it("many small highly compressed entries trip the whole-archive ratio", async () => {
    const zeros = new Uint8Array(512 * 1024);
    const files: Record<string, Uint8Array> = {};
    for (let i = 0; i < 64; i++) files[`s${i}.dcm`] = zeros;
    await expectRejected(open(zipSync(files)), "ARCHIVE_UNSAFE", /^The zip expands/);
  });

  it("small text-like entries with high ratios are fine", async () => {
    const src = await open(zipSync({ "a.txt": new Uint8Array(100_000).fill(32) }));
    expect(src.entries.length).toBe(1);
  });

  it.each([
    ["../../etc/passwd", /path traversal/, "passwd"],
    ["/abs.dcm", /absolute/, "abs.dcm"],
    ["C:/Windows/evil.dcm", /drive letter/, "evil.dcm"],
    ["..\\..\\evil.dcm", /path traversal/, "evil.dcm"],
    ["a/../../b.dcm", /path traversal/, "b.dcm"],
  ])(
    "entry name %s is ARCHIVE_UNSAFE and named by its directory line, not its name",
    async (name, why, telltale) => {
      const zip = craftZip([
        { name: "ok.dcm", content: bytesOf("ok") },
        { name, content: bytesOf("x") },
      ]);
      const r = await expectRejected(open(zip), "ARCHIVE_UNSAFE", why);
      expect(r.message).toContain("Zip entry 2 (line 2 of `unzip -Z1`)");
      expect(r.message).not.toContain(telltale);
      expect(r.file).toBeUndefined();
    },
  );

  it.each(["inner.zip", "series/volume.nii.gz", "a.tar", "b.7z", "c.rar"])(
    "nested archive %s is ARCHIVE_UNSAFE",
    async (name) => {
      await expectRejected(open(craftZip([{ name, content: bytesOf("data") }])), "ARCHIVE_UNSAFE", /archive/);
    },
  );

  it("a nested archive hidden behind a .dcm name is caught by its magic on read", async () => {
    const inner = zipSync({ "x.dcm": bytesOf("x") });
    const src = await open(craftZip([{ name: "a.dcm", content: inner }]));
    await expectRejected(src.entries[0]!.read(0, 64), "ARCHIVE_UNSAFE", /itself an archive/);
  });

  it("an empty zip and a zip of only folders/hidden files are EMPTY_INPUT", async () => {
    await expectRejected(open(zipSync({})), "EMPTY_INPUT");
    await expectRejected(
      open(
        craftZip([
          { name: "d/", method: 0 },
          { name: "__MACOSX/._x", content: bytesOf("x") },
        ]),
      ),
      "EMPTY_INPUT",
    );
  });

  it("inflated data larger than declared is ARCHIVE_UNSAFE on read, and inflation stops early", async () => {
    const content = ctLikeBytes(200_000, 1);
    const src = await open(craftZip([{ name: "lie.dcm", content, declaredSize: 10_000 }]));
    expect(src.entries[0]!.size).toBe(10_000);
    // A prefix within the declared size is what the entry claims to be.
    expect(await src.entries[0]!.read(0, 100)).toEqual(content.slice(0, 100));
    await expectRejected(src.entries[0]!.read(), "ARCHIVE_UNSAFE", /more than its declared 10000/);
  });

  it("inflated data smaller than declared is ARCHIVE_UNSAFE on read", async () => {
    const content = ctLikeBytes(10_000, 2);
    const src = await open(craftZip([{ name: "short.dcm", content, declaredSize: 20_000 }]));
    await expectRejected(src.entries[0]!.read(), "ARCHIVE_UNSAFE", /10000 bytes but declares 20000/);
  });

  it("a stored entry whose sizes disagree is ARCHIVE_UNSAFE at open", async () => {
    const zip = craftZip([{ name: "s.dcm", content: bytesOf("abcd"), method: 0, declaredSize: 8 }]);
    await expectRejected(open(zip), "ARCHIVE_UNSAFE", /size mismatch/);
  });

  it("a CRC mismatch is ARCHIVE_UNSAFE once the entry is inflated to its end, by any reads", async () => {
    const big = await open(craftZip([{ name: "c.dcm", content: ctLikeBytes(400_000, 9), crc: 0x12345678 }]));
    expect((await big.entries[0]!.read(0, 100)).length).toBe(100);
    await expectRejected(big.entries[0]!.read(), "ARCHIVE_UNSAFE", /CRC-32/);
    // Walking it forward in steps reaches the same verdict at the last step.
    const stepped = await open(
      craftZip([{ name: "c.dcm", content: ctLikeBytes(400_000, 9), crc: 0x12345678 }]),
    );
    for (let pos = 0; pos < 300_000; pos += 100_000)
      expect((await stepped.entries[0]!.read(pos, pos + 100_000)).length).toBe(100_000);
    await expectRejected(stepped.entries[0]!.read(300_000, 400_000), "ARCHIVE_UNSAFE", /CRC-32/);
    // A small entry's first read already inflates all of it, so it is refused at once.
    const small = await open(craftZip([{ name: "c.dcm", content: ctLikeBytes(4000, 9), crc: 0x12345678 }]));
    await expectRejected(small.entries[0]!.read(0, 100), "ARCHIVE_UNSAFE", /CRC-32/);
  });

  it("corrupt deflate data is ARCHIVE_UNSAFE on read", async () => {
    const data = new Uint8Array(2000).fill(0xff);
    const src = await open(craftZip([{ name: "bad.dcm", content: new Uint8Array(3000), data }]));
    await expectRejected(src.entries[0]!.read(), "ARCHIVE_UNSAFE", /corrupt deflate/);
  });

  it("a zip cut in the middle is TRUNCATED", async () => {
    const zip = zipSync({ "a.dcm": ctLikeBytes(50_000, 4), "b.dcm": ctLikeBytes(50_000, 5) });
    await expectRejected(open(zip.slice(0, Math.floor(zip.length / 2))), "TRUNCATED", /truncated/);
  });

  it("a corrupt central directory is ARCHIVE_UNSAFE", async () => {
    const zip = zipSync({ "a.dcm": ctLikeBytes(5000, 4) });
    const cd = zip.length - 22 - 46 - 5; // fflate writes no extra fields for this entry
    expect([...zip.slice(cd, cd + 4)]).toEqual([0x50, 0x4b, 0x01, 0x02]);
    const broken = zip.slice();
    broken[cd] = 0;
    await expectRejected(open(broken), "ARCHIVE_UNSAFE", /central directory/);
  });

  describe("the end record must agree with the central directory it points at", () => {
    const entries = Array.from({ length: 12 }, (_, i) => ({
      name: `s/${String(i).padStart(2, "0")}.dcm`,
      content: ctLikeBytes(3000, i + 1),
    }));
    // 12 records of 46 bytes plus a 8-byte name, no extra fields (no zip64 extra either).
    const recordBytes = 46 + 8;

    it.each([false, true])(
      "a count that hides entries is ARCHIVE_UNSAFE, not fewer slices (zip64 %s)",
      async (zip64) => {
        // The reviewer's case: the end record says 6 of 12; yauzl used to list 6 files and drop the rest.
        const zip = craftZip(entries, { zip64, declaredCount: 6 });
        await expectRejected(open(zip), "ARCHIVE_UNSAFE", /corrupt central directory.*6 records fill/);
        // The same zip, truthful, opens with every entry.
        expect((await open(craftZip(entries, { zip64 }))).entries).toHaveLength(12);
      },
    );

    it("a count too large for the directory's size is ARCHIVE_UNSAFE before a record is read", async () => {
      const access = new MemoryRandomAccess(craftZip(entries, { declaredCount: 20 }));
      await expectRejected(
        openZip(access, "t.zip", "zip"),
        "ARCHIVE_UNSAFE",
        /20 entries are declared, more than its 648 bytes/,
      );
      const zip64 = craftZip(entries, { zip64: true, declaredCount: 1000 });
      await expectRejected(open(zip64), "ARCHIVE_UNSAFE", /1000 entries are declared/);
    });

    it.each([false, true])(
      "a size or offset that does not end at the end record is ARCHIVE_UNSAFE (zip64 %s)",
      async (zip64) => {
        const small = craftZip(entries, { zip64, declaredDirectorySize: 6 * recordBytes });
        await expectRejected(
          open(small),
          "ARCHIVE_UNSAFE",
          /corrupt central directory: it is declared at bytes/,
        );
        // Count, size and offset all describing the last 6 records: the first 6 would be hidden.
        const good = craftZip(entries, { zip64 });
        const cdStart = good.length - (zip64 ? 56 + 20 + 22 : 22) - 12 * recordBytes;
        const lastSix = craftZip(entries, {
          zip64,
          declaredCount: 6,
          declaredDirectorySize: 6 * recordBytes,
          declaredDirectoryOffset: cdStart + 6 * recordBytes,
        });
        expect((await open(lastSix)).entries).toHaveLength(6); // consistent end records: nothing to tell
        const shifted = craftZip(entries, { zip64, declaredCount: 6, declaredDirectoryOffset: cdStart });
        await expectRejected(open(shifted), "ARCHIVE_UNSAFE", /corrupt central directory/);
      },
    );

    it("the check reads no byte before the central directory (range reads stay on the tail)", async () => {
      const files = Object.fromEntries(
        Array.from({ length: 120 }, (_, i) => [`s/${i}.dcm`, ctLikeBytes(20_000, i + 1)]),
      );
      const zip = zipSync(files, { level: 0 });
      const cdStart = Buffer.from(zip).lastIndexOf(Buffer.from([0x50, 0x4b, 0x05, 0x06]));
      const cdOffset = new DataView(zip.buffer, zip.byteOffset).getUint32(cdStart + 16, true);
      const access = new MemoryRandomAccess(zip);
      const src = await openZip(access, "s.zip", "zip");
      expect(src.entries).toHaveLength(120);
      expect(access.fetches.every(([from]) => from >= Math.min(cdOffset, zip.length - 65_577))).toBe(true);
      expect(access.bytesRead()).toBeLessThan(2 * 65_577 + 64 * 1024);
      await src.close();
    });
  });

  it("a file that is not a zip at all is UNSUPPORTED_FORMAT", async () => {
    await expectRejected(
      open(bytesOf("just some text, certainly not a zip archive")),
      "UNSUPPORTED_FORMAT",
      /not a zip/,
    );
  });

  it("encrypted entries and unknown compression methods are UNSUPPORTED_FORMAT", async () => {
    await expectRejected(
      // Traditional encryption prefixes the data with a 12-byte header, so stored sizes differ by 12.
      open(
        craftZip([
          { name: "e.dcm", content: bytesOf("secret"), method: 0, data: new Uint8Array(18), flags: 0x801 },
        ]),
      ),
      "UNSUPPORTED_FORMAT",
      /encrypted/,
    );
    await expectRejected(
      open(craftZip([{ name: "b.dcm", content: bytesOf("x"), method: 12, data: bytesOf("BZh9") }])),
      "UNSUPPORTED_FORMAT",
      /method 12/,
    );
  });

  it("symbolic link entries are ARCHIVE_UNSAFE", async () => {
    const zip = craftZip([
      {
        name: "link.dcm",
        content: bytesOf("/etc/passwd"),
        method: 0,
        externalAttributes: (0o120777 << 16) >>> 0,
      },
    ]);
    await expectRejected(open(zip), "ARCHIVE_UNSAFE", /symbolic link/);
  });

  it("duplicate names and overlapping entries are ARCHIVE_UNSAFE", async () => {
    await expectRejected(
      open(
        craftZip([
          { name: "a.dcm", content: bytesOf("1") },
          { name: "a.dcm", content: bytesOf("2") },
        ]),
      ),
      "ARCHIVE_UNSAFE",
      /^Zip entry 2 \(line 2 of `unzip -Z1`\) repeats the path of an earlier entry/,
    );
    await expectRejected(
      open(
        craftZip([
          { name: "a.dcm", content: ctLikeBytes(1000, 1) },
          { name: "b.dcm", aliasOf: 0 },
        ]),
      ),
      "ARCHIVE_UNSAFE",
      /^Zip entry \d \(line \d of `unzip -Z1`\) overlaps/,
    );
  });

  it("enforces entry count, stored size and uncompressed size limits", async () => {
    const zip = zipSync({
      "a.dcm": ctLikeBytes(4000, 1),
      "b.dcm": ctLikeBytes(4000, 2),
      "c.dcm": ctLikeBytes(4000, 3),
    });
    await expectRejected(open(zip, { maxEntries: 2 }), "TOO_LARGE", /3 entries/);
    await expectRejected(open(zip, { maxTotalBytes: 1000 }), "TOO_LARGE");
    await expectRejected(open(zip, { maxUncompressedBytes: 10_000 }), "TOO_LARGE", /uncompressed/);
    expect((await open(zip, { maxEntries: 3, maxUncompressedBytes: 12_000 })).entries.length).toBe(3);
  });

  it("storage failures surface as themselves, not as rejections, and the reader is closed", async () => {
    const failing = new MemoryRandomAccess(zipSync({ "a.dcm": bytesOf("a") }), new Error("network down"));
    const error = await openZip(failing, "t.zip", "zip", {}).catch((e: unknown) => e);
    expect(isInputRejected(error)).toBe(false);
    expect((error as Error).message).toBe("network down");
    expect(failing.closed).toBe(true);

    const ra = new MemoryRandomAccess(craftZip([{ name: "../x", content: bytesOf("x") }]));
    await expectRejected(openZip(ra, "t.zip", "zip", {}), "ARCHIVE_UNSAFE");
    expect(ra.closed).toBe(true);
  });
});

describe("helpers", () => {
  it("unsafeEntryNameProblem accepts plain relative names only", () => {
    expect(unsafeEntryNameProblem("a/b/c.dcm")).toBeUndefined();
    expect(unsafeEntryNameProblem("a/..b/c.dcm")).toBeUndefined();
    expect(unsafeEntryNameProblem("a/../c")).toMatch(/traversal/);
    expect(unsafeEntryNameProblem("/x")).toMatch(/absolute/);
    expect(unsafeEntryNameProblem("c:x")).toMatch(/drive/);
    expect(unsafeEntryNameProblem("a\0b")).toMatch(/NUL/);
  });

  it("looksLikeArchive recognises archive magic and not DICOM", () => {
    expect(looksLikeArchive(zipSync({ a: bytesOf("a") }))).toBe(true);
    expect(looksLikeArchive(Uint8Array.from([0x1f, 0x8b, 8, 0]))).toBe(true);
    expect(looksLikeArchive(Uint8Array.from([0x42, 0x5a, 0x68, 0x39]))).toBe(true);
    const dicom = new Uint8Array(300);
    dicom.set(bytesOf("DICM"), 128);
    expect(looksLikeArchive(dicom)).toBe(false);
    const tar = new Uint8Array(512);
    tar.set(bytesOf("ustar"), 257);
    expect(looksLikeArchive(tar)).toBe(true);
  });
});
