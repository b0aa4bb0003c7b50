/**
 * Lung segmentation speed (issue 4 budget: lung segmentation + findings + writers <= 10 s for a
 * 512 x 512 x 300 scan on this CPU): segmentLungs and pleuralDistanceMm on a 512 x 512 x 300 synthetic
 * chest CT (COVID-19 phantom, 0.70 mm pixels, 1.25 mm slices), measured once in a fresh process (a cold
 * run, as the job does it: the optimising compiler's warm-up is part of the cost).
 *
 * The phantom is rendered once into bench/.data/ (about 20 s); the measurement runs in a child process
 * under GNU time so its peak RSS is the segmentation's own (volume included), not the renderer's.
 * Usage: npx tsx bench/lungs.ts   (prints one line and writes bench/results/lungs.json)
 */
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { loadavg } from "node:os";
import { join, resolve } from "node:path";
import type { Volume } from "../core/contracts/volume.js";
import { planPhantom, renderPhantom } from "../core/phantom/generate.js";
import { phantomGrid } from "../core/phantom/grid.js";
import { resolvePhantomOptions } from "../core/phantom/options.js";
import { pleuralDistanceMm } from "../gpu-job/pipeline/lungs/pleural-distance.js";
import { segmentLungs } from "../gpu-job/pipeline/lungs/segment-lungs.js";

const ROOT = resolve(import.meta.dirname, "..");
const DATA = join(ROOT, "bench", ".data");
const RESULTS = join(ROOT, "bench", "results");
const RAW = join(DATA, "lungs-covid-512x512x300.raw");
const GEOMETRY = `${RAW}.json`;

function prepare(): void {
  if (existsSync(RAW) && existsSync(GEOMETRY)) return;
  mkdirSync(DATA, { recursive: true });
  const o = resolvePhantomOptions({
    out: DATA,
    size: 512,
    slices: 300,
    sliceThickness: 1.25,
    class: "covid",
    seed: 1,
  });
  const r = renderPhantom(planPhantom(o.class, o.seed), phantomGrid(o), {
    noiseSd: o.noiseSd,
    correlatedNoise: o.correlatedNoise,
  });
  const { data, ...geometry } = r.ct;
  writeFileSync(RAW, new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
  writeFileSync(GEOMETRY, JSON.stringify(geometry));
}

/** The child: load, segment, measure; prints one JSON line. */
function measure(): void {
  const geometry = JSON.parse(readFileSync(GEOMETRY, "utf8")) as Omit<Volume, "data">;
  const bytes = readFileSync(RAW);
  const volume: Volume = {
    ...geometry,
    data: new Int16Array(bytes.buffer, bytes.byteOffset, bytes.length / 2),
  };
  const cpu = (): number => {
    const u = process.cpuUsage();
    return (u.user + u.system) / 1e6;
  };
  const c0 = cpu();
  const t0 = performance.now();
  const lungs = segmentLungs(volume);
  const c1 = cpu();
  const t1 = performance.now();
  const depth = pleuralDistanceMm(lungs.labels, lungs.dims, lungs.spacing);
  const c2 = cpu();
  const t2 = performance.now();
  console.log(
    JSON.stringify({
      segmentWallS: (t1 - t0) / 1000,
      segmentCpuS: c1 - c0,
      pleuralWallS: (t2 - t1) / 1000,
      pleuralCpuS: c2 - c1,
      volumeMl: lungs.volumeMl,
      warnings: lungs.warnings,
      depthVoxels: depth.length,
    }),
  );
}

function main(): void {
  if (process.argv.includes("--measure")) {
    measure();
    return;
  }
  prepare();
  const load = loadavg()[0]!;
  const r = spawnSync(
    "/usr/bin/time",
    ["-f", "%M", process.execPath, "--import", "tsx", import.meta.filename, "--measure"],
    {
      encoding: "utf8",
      cwd: ROOT,
    },
  );
  if (r.status !== 0) throw new Error(`measurement failed: ${r.stderr}`);
  const result = JSON.parse(r.stdout.trim().split("\n").pop()!);
  const maxRssMb = Number(r.stderr.trim().split("\n").pop()) / 1024;
  const out = { date: new Date().toISOString(), loadAverage1m: load, maxRssMb, ...result };
  mkdirSync(RESULTS, { recursive: true });
  writeFileSync(join(RESULTS, "lungs.json"), `${JSON.stringify(out, null, 2)}\n`);
  console.log(
    `lungs 512x512x300: segmentLungs ${result.segmentWallS.toFixed(2)} s wall / ${result.segmentCpuS.toFixed(2)} s CPU, ` +
      `pleuralDistanceMm ${result.pleuralWallS.toFixed(2)} s wall / ${result.pleuralCpuS.toFixed(2)} s CPU, ` +
      `peak RSS ${maxRssMb.toFixed(0)} MB (load average ${load.toFixed(1)})`,
  );
}

main();
