/**
 * Ingestion benchmarks (issue 2), each against its named peer in the same run:
 *  1. `deepsc convert` vs `dcm2niix -z n` on a 300-slice 512x512 series, uncompressed and JPEG-lossless:
 *     median of 6 interleaved runs in alternating order, wall time and peak RSS (GNU time).
 *  2. Header-only validation of the same series through S3 range reads against s3rver on 127.0.0.1:
 *     bytes read as a share of the series, and wall time, for a manifest-listed folder and a series.zip.
 *     s3rver runs in its own process, as S3 would be remote.
 * Usage: npm run bench   (writes bench/results/ingest.json and prints a Markdown table)
 *        npx tsx bench/convert-and-validate.ts --only convert   (the convert rows alone, after `npm run build`;
 *        writes bench/results/ingest-convert.json)
 */
import { spawn, spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { PutObjectCommand } from "@aws-sdk/client-s3";
import { S3RVER_CREDENTIALS } from "../cli/local-stack/s3-server.js";
import { openObjectStoreInput } from "../core/input/object-store-source.js";
import { runPhantom } from "../core/phantom/run.js";
import { validateSource } from "../core/validation/validate.js";
import { createS3Client, S3ObjectStore } from "../lambdas/adapters/s3-object-store.js";
import { median } from "./median.js";

const ROOT = resolve(import.meta.dirname, "..");
const DATA = join(ROOT, "bench", ".data");
const RESULTS = join(ROOT, "bench", "results");
const RUNS = 5;
/** Convert runs per tool: even, so each goes first equally often (see benchConvert). */
const CONVERT_RUNS = 6;
const SLICES = 300;

interface Timed {
  seconds: number;
  maxRssMb: number;
}

/** Wall time and peak RSS of a command, from GNU time. */
function timed(cmd: string, args: string[]): Timed {
  const r = spawnSync("/usr/bin/time", ["-f", "%e %M", cmd, ...args], { encoding: "utf8" });
  if (r.status !== 0) throw new Error(`${cmd} failed: ${r.stderr}`);
  const [secs, kb] = r.stderr.trim().split("\n").pop()!.split(" ").map(Number);
  return { seconds: secs!, maxRssMb: kb! / 1024 };
}

async function series(name: string, transferSyntax: "explicit-le" | "jpeg-lossless"): Promise<string> {
  const out = join(DATA, name);
  const dir = join(out, "dicom");
  if (!existsSync(dir) || readdirSync(dir).length !== SLICES) {
    rmSync(out, { recursive: true, force: true });
    process.stderr.write(`generating ${name} (512x512x${SLICES}, ${transferSyntax}) ...\n`);
    await runPhantom({
      class: "covid",
      seed: 2026,
      size: 512,
      slices: SLICES,
      sliceThickness: 1.25,
      transferSyntax,
      out,
    });
  }
  return dir;
}

function benchConvert(dir: string) {
  const tmp = join(DATA, "out");
  const ours: Timed[] = [];
  const peer: Timed[] = [];
  const runOurs = () =>
    ours.push(
      timed(process.execPath, [
        join(ROOT, "dist/bin/deepsc.mjs"),
        "convert",
        dir,
        join(tmp, "ours.nii"),
        "--quiet",
      ]),
    );
  const runPeer = () => peer.push(timed("dcm2niix", ["-z", "n", "-b", "n", "-f", "ref", "-o", tmp, dir]));
  for (let i = 0; i < CONVERT_RUNS; i++) {
    rmSync(tmp, { recursive: true, force: true });
    mkdirSync(tmp, { recursive: true });
    // Interleaved so machine noise hits both alike, and in alternating order: the first of a pair runs
    // right after the previous pair's two 157 MB outputs were deleted (and the second right after the
    // first's write), so a fixed order would always charge those to the same tool.
    if (i % 2 === 0) {
      runOurs();
      runPeer();
    } else {
      runPeer();
      runOurs();
    }
  }
  const volumeMb = (512 * 512 * SLICES * 2) / 2 ** 20;
  return {
    deepscSeconds: median(ours.map((t) => t.seconds)),
    dcm2niixSeconds: median(peer.map((t) => t.seconds)),
    ratio: median(ours.map((t) => t.seconds)) / median(peer.map((t) => t.seconds)),
    deepscPeakRssMb: Math.max(...ours.map((t) => t.maxRssMb)),
    dcm2niixPeakRssMb: Math.max(...peer.map((t) => t.maxRssMb)),
    volumeMb,
    rssOverVolume: Math.max(...ours.map((t) => t.maxRssMb)) / volumeMb,
  };
}

/** s3rver in a child process (see s3rver-process.ts); resolves with a client bound to it and a stop(). */
async function s3rverProcess() {
  const child = spawn(
    process.execPath,
    ["--import", "tsx", join(ROOT, "bench", "s3rver-process.ts"), "ingest"],
    {
      stdio: ["ignore", "pipe", "inherit"],
    },
  );
  const endpoint = await new Promise<string>((resolveReady, rejectReady) => {
    let out = "";
    child.stdout.on("data", (d: Buffer) => {
      out += d.toString();
      const m = /READY (\S+)/.exec(out);
      if (m) resolveReady(m[1]!);
    });
    child.on("exit", (code) => rejectReady(new Error(`s3rver exited with ${code}`)));
  });
  const client = createS3Client({
    endpoint,
    region: "us-east-1",
    forcePathStyle: true,
    credentials: S3RVER_CREDENTIALS,
  });
  return {
    client,
    stop: async () => {
      client.destroy();
      child.kill("SIGTERM");
      await new Promise((r) => child.once("exit", r));
    },
  };
}

async function benchHeaderOnly(dir: string) {
  const s3 = await s3rverProcess();
  try {
    const files = readdirSync(dir).sort();
    const manifest = { schemaVersion: "1.0", files: [] as { key: string; size: number; sha256: string }[] };
    for (const f of files) {
      const body = readFileSync(join(dir, f));
      await s3.client.send(
        new PutObjectCommand({ Bucket: "ingest", Key: `incoming/t1/u1/${f}`, Body: body }),
      );
      manifest.files.push({
        key: f,
        size: body.length,
        sha256: createHash("sha256").update(body).digest("hex"),
      });
    }
    await s3.client.send(
      new PutObjectCommand({
        Bucket: "ingest",
        Key: "incoming/t1/u1/manifest.json",
        Body: JSON.stringify(manifest),
      }),
    );
    const zipPath = join(dir, "..", "series.zip");
    if (!existsSync(zipPath)) {
      const { zipSync } = await import("fflate");
      writeFileSync(
        zipPath,
        zipSync(Object.fromEntries(files.map((f) => [f, new Uint8Array(readFileSync(join(dir, f)))]))),
      );
    }
    await s3.client.send(
      new PutObjectCommand({
        Bucket: "ingest",
        Key: "incoming/t1/u2/series.zip",
        Body: readFileSync(zipPath),
      }),
    );
    const store = new S3ObjectStore(s3.client, "ingest");
    // The floor: the same number of bare 16 KiB range GETs at the same concurrency, no parsing at all.
    const floor: number[] = [];
    for (let i = 0; i < RUNS; i++) {
      const started = performance.now();
      let next = 0;
      await Promise.all(
        Array.from({ length: 16 }, async () => {
          while (next < files.length) await store.getRange(`incoming/t1/u1/${files[next++]}`, 0, 16 * 1024);
        }),
      );
      floor.push((performance.now() - started) / 1000);
    }
    const rawGetsSeconds = median(floor);
    const result: Record<
      string,
      {
        seconds: number;
        rawGetsSeconds: number;
        bytesRead: number;
        bytesTotal: number;
        share: number;
        accepted: boolean;
      }
    > = {};
    for (const [label, key] of [
      ["manifest", "incoming/t1/u1/manifest.json"],
      ["zip", "incoming/t1/u2/series.zip"],
    ] as const) {
      const times: number[] = [];
      let last: Awaited<ReturnType<typeof validateSource>>["report"] | undefined;
      for (let i = 0; i < RUNS; i++) {
        const started = performance.now();
        const source = await openObjectStoreInput(store, key);
        const { report } = await validateSource(source, { mode: "header-only", purpose: "analysis" });
        await source.close();
        times.push((performance.now() - started) / 1000);
        last = report;
      }
      const total =
        label === "zip" ? statSync(zipPath).size : files.reduce((s, f) => s + statSync(join(dir, f)).size, 0);
      result[label] = {
        seconds: median(times),
        rawGetsSeconds,
        bytesRead: last!.bytesRead,
        bytesTotal: total,
        share: last!.bytesRead / total,
        accepted: last!.accepted,
      };
    }
    return result;
  } finally {
    await s3.stop();
  }
}

/** `--only convert` (or `--only=convert`) runs the convert rows alone; anything else is a usage error. */
function onlyConvert(argv: string[]): boolean {
  const i = argv.findIndex((a) => a === "--only" || a.startsWith("--only="));
  if (i < 0) return false;
  const value = argv[i] === "--only" ? argv[i + 1] : argv[i]!.slice("--only=".length);
  if (value !== "convert") throw new Error(`--only takes "convert", got ${value ?? "nothing"}`);
  return true;
}

async function main() {
  const convertOnly = onlyConvert(process.argv.slice(2));
  mkdirSync(DATA, { recursive: true });
  mkdirSync(RESULTS, { recursive: true });
  const plain = await series("covid-300-ele", "explicit-le");
  const jpll = await series("covid-300-jpll", "jpeg-lossless");
  const results = {
    date: new Date().toISOString(),
    machine: `${process.platform} ${process.arch}, node ${process.version}, ${(await import("node:os")).cpus().length} cores`,
    convertUncompressed: benchConvert(plain),
    convertJpegLossless: benchConvert(jpll),
    headerOnly: convertOnly ? undefined : await benchHeaderOnly(plain),
  };
  writeFileSync(
    join(RESULTS, convertOnly ? "ingest-convert.json" : "ingest.json"),
    `${JSON.stringify(results, null, 2)}\n`,
  );
  const c = (x: typeof results.convertUncompressed, target: string) =>
    `${x.deepscSeconds.toFixed(2)} s | ${x.dcm2niixSeconds.toFixed(2)} s | **${x.ratio.toFixed(2)}** (target ${target}) | ${x.deepscPeakRssMb.toFixed(0)} MB = ${x.rssOverVolume.toFixed(2)} x volume (target ≤ 2.5) |`;
  const h = results.headerOnly;
  process.stdout.write(
    [
      `| benchmark (${results.machine}) | deepsc | peer | ratio | memory |`,
      "|---|---|---|---|---|",
      `| convert, 512x512x${SLICES} explicit LE vs dcm2niix -z n | ${c(results.convertUncompressed, "≤ 1.0")}`,
      `| convert, 512x512x${SLICES} JPEG lossless vs dcm2niix -z n | ${c(results.convertJpegLossless, "≤ 1.5")}`,
      ...(h
        ? [
            `| header-only validation via S3 ranges (s3rver), manifest + ${SLICES} files | ${h.manifest!.seconds.toFixed(2)} s | ${h.manifest!.rawGetsSeconds.toFixed(2)} s for ${SLICES} bare 16 KiB GETs | ${(100 * h.manifest!.share).toFixed(2)} % of bytes read (target ≤ 5 %, ≤ 1 s) | |`,
            `| header-only validation via S3 ranges (s3rver), series.zip | ${h.zip!.seconds.toFixed(2)} s | ${h.zip!.rawGetsSeconds.toFixed(2)} s for ${SLICES} bare 16 KiB GETs | ${(100 * h.zip!.share).toFixed(2)} % of bytes read (target ≤ 5 %, ≤ 1 s) | |`,
          ]
        : []),
    ].join("\n") + "\n",
  );
}

await main();
