import { createHash } from "node:crypto";
import { mkdir, mkdtemp, readdir, readFile, rm, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { ResultsManifestSchema } from "../../../core/contracts/results-manifest.js";
import { ResultsManifestSchema as LooseManifestSchema } from "../../../core/contracts/study.js";
import {
  listOutputFiles,
  parseResultsManifest,
  ResultsManifestError,
  verifyResultsManifest,
  writeResultsManifest,
} from "../../../gpu-job/job/results-manifest.js";

const sha = (b: Buffer | string) => createHash("sha256").update(b).digest("hex");

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(path.join(tmpdir(), "results-manifest-"));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function writeOutputs(): Promise<Record<string, Buffer>> {
  const files: Record<string, Buffer> = {
    "diagnosis.json": Buffer.from('{"schemaVersion":1}\n'),
    "lesions.nii.gz": Buffer.from([0x1f, 0x8b, 8, 0, 1, 2, 3]),
    "images/axial-002.png": Buffer.alloc(3000, 7),
    "images/axial-010.png": Buffer.alloc(0),
    "report.html": Buffer.from("<html></html>"),
  };
  await mkdir(path.join(dir, "images"));
  for (const [rel, bytes] of Object.entries(files)) await writeFile(path.join(dir, rel), bytes);
  return files;
}

describe("writeResultsManifest", () => {
  it("lists every output with size, sha256 and content type, sorted, and writes manifest.json", async () => {
    const files = await writeOutputs();
    const model = {
      name: "deepsc-covid",
      version: "0.1.0",
      sha256: "a".repeat(64),
      executionProvider: "cpu",
    };
    const m = await writeResultsManifest(dir, { model });
    expect(m.files.map((f) => f.path)).toEqual([
      "diagnosis.json",
      "images/axial-002.png",
      "images/axial-010.png",
      "lesions.nii.gz",
      "report.html",
    ]);
    for (const f of m.files) {
      const bytes = files[f.path]!;
      expect(f.size).toBe(bytes.length);
      expect(f.sha256).toBe(sha(bytes));
    }
    expect(m.files.find((f) => f.path === "lesions.nii.gz")?.contentType).toBe("application/gzip");
    expect(m.files.find((f) => f.path === "report.html")?.contentType).toBe("text/html; charset=utf-8");
    expect(m.model).toEqual(model);

    const onDisk = JSON.parse(await readFile(path.join(dir, "manifest.json"), "utf8"));
    expect(ResultsManifestSchema.parse(onDisk)).toEqual(m);
    // The status API's loose reader accepts what the job writes.
    expect(LooseManifestSchema.safeParse(onDisk).success).toBe(true);
    // No temp file is left behind.
    expect((await readdir(dir)).filter((n) => n.endsWith(".tmp"))).toEqual([]);
  });

  it("never lists itself, even when rewritten", async () => {
    await writeOutputs();
    await writeResultsManifest(dir);
    const again = await writeResultsManifest(dir);
    expect(again.files.some((f) => f.path === "manifest.json")).toBe(false);
    expect(again.files).toHaveLength(5);
  });

  it("ignores a temp file a crashed writer left behind", async () => {
    await writeOutputs();
    await writeFile(path.join(dir, ".manifest.json.123-0123456789ab.tmp"), "{");
    expect(await listOutputFiles(dir)).not.toContain(".manifest.json.123-0123456789ab.tmp");
  });

  it("refuses symlinks among the outputs", async () => {
    await writeOutputs();
    await symlink("/etc/hostname", path.join(dir, "leak.txt"));
    await expect(writeResultsManifest(dir)).rejects.toThrow(ResultsManifestError);
  });

  it("rejects a model reference that is not a model identity", async () => {
    await writeOutputs();
    await expect(
      writeResultsManifest(dir, { model: { name: "m", version: "1", sha256: "not-a-hash" } }),
    ).rejects.toThrow();
    await expect(readFile(path.join(dir, "manifest.json"))).rejects.toThrow();
  });
});

describe("verifyResultsManifest", () => {
  it("passes a folder that matches its manifest", async () => {
    await writeOutputs();
    await writeResultsManifest(dir);
    const v = await verifyResultsManifest(dir);
    expect(v).toMatchObject({ ok: true, problems: [] });
    expect(v.manifest?.files).toHaveLength(5);
  });

  it("names missing, changed, resized and unlisted files", async () => {
    await writeOutputs();
    await writeResultsManifest(dir);
    await rm(path.join(dir, "report.html"));
    await writeFile(path.join(dir, "diagnosis.json"), '{"schemaVersion":2}\n'); // same size, other bytes
    await writeFile(path.join(dir, "images/axial-002.png"), Buffer.alloc(10));
    await writeFile(path.join(dir, "extra.txt"), "x");
    const v = await verifyResultsManifest(dir);
    expect(v.ok).toBe(false);
    expect(v.problems).toEqual([
      "diagnosis.json does not match its sha256",
      "extra.txt is not in the manifest",
      "images/axial-002.png is 10 bytes, the manifest says 3000",
      "report.html is missing",
    ]);
  });

  it("reports a missing or malformed manifest", async () => {
    await writeOutputs();
    expect((await verifyResultsManifest(dir)).problems).toEqual(["manifest.json is missing"]);
    await writeFile(
      path.join(dir, "manifest.json"),
      '{"schemaVersion":1,"files":[{"path":"../x","sha256":"0","size":1}]}',
    );
    const v = await verifyResultsManifest(dir);
    expect(v.ok).toBe(false);
    expect(v.problems[0]).toMatch(/does not follow the results manifest schema/);
  });
});

describe("ResultsManifestSchema", () => {
  const entry = { path: "a.json", sha256: "0".repeat(64), size: 1 };
  it("rejects duplicate paths, the manifest itself and escaping paths", () => {
    expect(() => parseResultsManifest(JSON.stringify({ schemaVersion: 1, files: [entry, entry] }))).toThrow(
      /duplicate path/,
    );
    expect(() =>
      parseResultsManifest(
        JSON.stringify({ schemaVersion: 1, files: [{ ...entry, path: "manifest.json" }] }),
      ),
    ).toThrow(/cannot list itself/);
    expect(() =>
      parseResultsManifest(JSON.stringify({ schemaVersion: 1, files: [{ ...entry, path: "/etc/passwd" }] })),
    ).toThrow(/absolute/);
    expect(() => parseResultsManifest(JSON.stringify({ schemaVersion: 2, files: [] }))).toThrow();
  });
});
