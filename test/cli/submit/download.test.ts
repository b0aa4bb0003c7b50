import { createHash } from "node:crypto";
import { existsSync } from "node:fs";
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DownloadError, downloadResults } from "../../../cli/submit/download.js";

const FILES: Record<string, string> = {
  "/diagnosis.json": '{"a":1}',
  "/images/axial-1.png": "png",
  "/manifest.json": "{}",
};
let server: Server;
let base: string;
let work: string;
const order: string[] = [];

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), "deepsc-download-"));
  server = createServer((req, res) => {
    const body = FILES[req.url ?? ""];
    order.push(req.url ?? "");
    if (body === undefined) {
      res.writeHead(403).end("expired");
      return;
    }
    res.writeHead(200).end(body);
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  server.close();
  await rm(work, { recursive: true, force: true });
});

const sha = (s: string) => createHash("sha256").update(s).digest("hex");
const file = (path: string, body = FILES[`/${path}`] ?? "") => ({
  path,
  sha256: sha(body),
  url: `${base}/${path}`,
  expiresAt: new Date().toISOString(),
});

describe("downloadResults", () => {
  it("writes every file checked against its sha256, manifest.json last", async () => {
    order.length = 0;
    const out = join(work, "ok");
    const written = await downloadResults(
      [file("manifest.json"), file("diagnosis.json"), file("images/axial-1.png")],
      out,
    );
    expect(written.at(-1)).toBe(join(out, "manifest.json"));
    expect(order.at(-1)).toBe("/manifest.json");
    expect(await readFile(join(out, "images", "axial-1.png"), "utf8")).toBe("png");
  });

  it("clears an earlier download (its manifest and the files it lists) and leaves other files alone", async () => {
    const out = join(work, "reused");
    await downloadResults([file("images/axial-1.png"), file("manifest.json")], out);
    await mkdir(out, { recursive: true });
    await writeFile(join(out, "notes.txt"), "mine");
    // The earlier manifest listed images/axial-1.png; this study has none.
    const earlier = JSON.stringify({
      schemaVersion: "1.0",
      files: [{ path: "images/axial-1.png", sha256: "x" }],
    });
    await writeFile(join(out, "manifest.json"), earlier);
    await downloadResults([file("diagnosis.json"), file("manifest.json")], out);
    expect(existsSync(join(out, "images", "axial-1.png"))).toBe(false);
    expect(await readFile(join(out, "notes.txt"), "utf8")).toBe("mine");
    expect(await readFile(join(out, "diagnosis.json"), "utf8")).toBe('{"a":1}');
  });

  it("refuses a file whose bytes do not match, leaving no part of it, and a path that leaves the folder", async () => {
    const out = join(work, "bad");
    await expect(downloadResults([{ ...file("diagnosis.json"), sha256: sha("other") }], out)).rejects.toThrow(
      /arrived with sha256/,
    );
    expect(await readdir(out)).toEqual([]);
    await expect(downloadResults([file("../escape.json")], out)).rejects.toThrow(DownloadError);
    await expect(downloadResults([file("gone.json", "x")], out)).rejects.toThrow(/403.*expired/);
  });
});
