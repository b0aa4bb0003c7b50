import { execFileSync } from "node:child_process";
import { mkdir, mkdtemp, rm, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { canReadInto, openFileSource } from "../../../core/input/file-source.js";
import { isIgnoredSegment, openFolderSource } from "../../../core/input/folder-source.js";
import { DEFAULT_LIMITS } from "../../../core/input/source.js";
import { bytesOf, expectRejected } from "../../helpers/input-fixtures.js";

let base: string;
let root: string;

async function put(rel: string, content: string | Uint8Array) {
  const file = path.join(root, rel);
  await mkdir(path.dirname(file), { recursive: true });
  await writeFile(file, content);
}

beforeEach(async () => {
  base = await mkdtemp(path.join(tmpdir(), "folder-source-"));
  root = path.join(base, "study");
  await mkdir(root);
});
afterEach(async () => {
  await rm(base, { recursive: true, force: true });
});

describe("openFolderSource", () => {
  it("walks nested folders into sorted POSIX paths and skips hidden files and __MACOSX", async () => {
    await put("b/2.dcm", "22");
    await put("b/10.dcm", "1010");
    await put("a/deep/er/x.dcm", "x");
    await put("top.dcm", "top");
    await put(".DS_Store", "junk");
    await put("a/.hidden.dcm", "h");
    await put(".git/config", "c");
    await put("__MACOSX/b/._2.dcm", "fork");
    const src = await openFolderSource(root, DEFAULT_LIMITS);
    expect(src.container).toBe("folder");
    expect(src.name).toBe("study");
    expect(src.entries.map((e) => e.path)).toEqual(["a/deep/er/x.dcm", "b/10.dcm", "b/2.dcm", "top.dcm"]);
    expect(src.entries.map((e) => e.size)).toEqual([1, 4, 2, 3]);
    expect(src.bytesTotal).toBe(10);
  });

  it("reads ranges, clamps to the size and counts bytes read", async () => {
    await put("s.dcm", "0123456789");
    const src = await openFolderSource(root, DEFAULT_LIMITS);
    const e = src.entries[0]!;
    expect(new TextDecoder().decode(await e.read(2, 5))).toBe("234");
    expect(new TextDecoder().decode(await e.read(8, 100))).toBe("89");
    expect(new TextDecoder().decode(await e.read())).toBe("0123456789");
    expect((await e.read(4, 4)).length).toBe(0);
    expect(src.bytesRead()).toBe(3 + 2 + 10);
  });

  it("a file that shrank after listing is TRUNCATED", async () => {
    await put("s.dcm", "0123456789");
    const src = await openFolderSource(root, DEFAULT_LIMITS);
    await put("s.dcm", "012");
    // The entry is named in `file` (reports turn it into its position), never in the message.
    const r = await expectRejected(src.entries[0]!.read(), "TRUNCATED", /^The file became shorter/);
    expect(r.file).toBe("s.dcm");
    expect(r.message).not.toContain("s.dcm");
  });

  it("reads straight into a caller's buffer, counting the bytes", async () => {
    await put("s.dcm", "0123456789");
    const src = await openFolderSource(root, DEFAULT_LIMITS);
    const e = src.entries[0]!;
    expect(canReadInto(e)).toBe(true);
    if (!canReadInto(e)) return;
    const target = new Uint8Array(8).fill(0x2e);
    await e.readInto(3, target.subarray(2, 6));
    expect(new TextDecoder().decode(target)).toBe("..3456..");
    await e.readInto(0, target.subarray(0, 0));
    expect(src.bytesRead()).toBe(4);
    expect((await expectRejected(e.readInto(7, new Uint8Array(4)), "TRUNCATED", /shorter/)).file).toBe(
      "s.dcm",
    );
    await expect(e.readInto(-1, new Uint8Array(1))).rejects.toThrow(RangeError);
  });

  it("a file that shrank after listing is TRUNCATED for readInto too", async () => {
    await put("s.dcm", "0123456789");
    const src = await openFolderSource(root, DEFAULT_LIMITS);
    await put("s.dcm", "012");
    const e = src.entries[0]!;
    if (!canReadInto(e)) throw new Error("folder entries read into buffers");
    const r = await expectRejected(
      e.readInto(0, new Uint8Array(10)),
      "TRUNCATED",
      /^The file became shorter/,
    );
    expect(r.file).toBe("s.dcm");
  });

  it("refuses a symbolic link that escapes the folder", async () => {
    await put("ok.dcm", "ok");
    await writeFile(path.join(base, "secret.txt"), "outside");
    await symlink(path.join(base, "secret.txt"), path.join(root, "evil.dcm"));
    const r = await expectRejected(openFolderSource(root, DEFAULT_LIMITS), "ARCHIVE_UNSAFE", /outside/);
    // Not named (folder and file names can be the patient's); the message says how to find links.
    expect(r.file).toBeUndefined();
    expect(r.message).not.toContain("evil");
    expect(r.message).toContain("find <folder> -type l");
    expect(r.message).not.toContain(base);
  });

  it("refuses a symlinked folder that escapes through '..'", async () => {
    await mkdir(path.join(base, "other"));
    await writeFile(path.join(base, "other", "x.dcm"), "x");
    await symlink("../other", path.join(root, "sub"));
    await expectRejected(
      openFolderSource(root, DEFAULT_LIMITS),
      "ARCHIVE_UNSAFE",
      /symbolic link .* outside/,
    );
  });

  it("follows links that stay inside, without listing anything twice or looping", async () => {
    await put("real/a.dcm", "a");
    await symlink("real/a.dcm", path.join(root, "link.dcm"));
    await symlink(".", path.join(root, "real", "loop"));
    await symlink("/nonexistent/target", path.join(root, "dangling.dcm"));
    const src = await openFolderSource(root, DEFAULT_LIMITS);
    expect(src.entries.map((e) => e.path)).toEqual(["link.dcm"]);
    expect(new TextDecoder().decode(await src.entries[0]!.read())).toBe("a");
  });

  it("skips FIFOs (reading one would block forever)", async () => {
    await put("a.dcm", "a");
    execFileSync("mkfifo", [path.join(root, "pipe.dcm")]);
    const src = await openFolderSource(root, DEFAULT_LIMITS);
    expect(src.entries.map((e) => e.path)).toEqual(["a.dcm"]);
  });

  it("rejects folders over the entry or byte limits, and empty folders", async () => {
    for (let i = 0; i < 5; i++) await put(`s${i}.dcm`, bytesOf("x".repeat(100)));
    await expectRejected(
      openFolderSource(root, { ...DEFAULT_LIMITS, maxEntries: 4 }),
      "TOO_LARGE",
      /more than 4 files/,
    );
    await expectRejected(
      openFolderSource(root, { ...DEFAULT_LIMITS, maxTotalBytes: 450 }),
      "TOO_LARGE",
      /450 bytes/,
    );
    expect(
      (await openFolderSource(root, { ...DEFAULT_LIMITS, maxEntries: 5, maxTotalBytes: 500 })).entries,
    ).toHaveLength(5);

    const empty = path.join(base, "empty");
    await mkdir(path.join(empty, "sub"), { recursive: true });
    await writeFile(path.join(empty, ".DS_Store"), "x");
    await expectRejected(openFolderSource(empty, DEFAULT_LIMITS), "EMPTY_INPUT");
  });

  it("isIgnoredSegment", () => {
    expect(isIgnoredSegment(".DS_Store")).toBe(true);
    expect(isIgnoredSegment("__MACOSX")).toBe(true);
    expect(isIgnoredSegment("IM0001")).toBe(false);
    expect(isIgnoredSegment("DICOMDIR")).toBe(false);
  });
});

describe("openFileSource", () => {
  it("reads a single file by range and straight into a buffer", async () => {
    await put("one.dcm", "abcdefgh");
    const abs = path.join(root, "one.dcm");
    const src = await openFileSource(abs, 8, DEFAULT_LIMITS);
    const e = src.entries[0]!;
    expect(new TextDecoder().decode(await e.read(1, 3))).toBe("bc");
    if (!canReadInto(e)) throw new Error("file entries read into buffers");
    const target = new Uint8Array(3);
    await e.readInto(5, target);
    expect(new TextDecoder().decode(target)).toBe("fgh");
    expect(src.bytesRead()).toBe(5);
    expect((await expectRejected(e.readInto(6, new Uint8Array(3)), "TRUNCATED", /shorter/)).file).toBe(
      "one.dcm",
    );
  });
});
