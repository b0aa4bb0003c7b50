/**
 * The PLEURAL_EFFUSION rule (gpu-job/pipeline/lungs/pleural-fluid.ts) on phantoms already analysed by the
 * sweeps: each phantom's CT read as the pipeline reads it, and the lung mask its analysis wrote
 * (result/lungs.nii.gz), so run bench/scan-kinds.ts and bench/patient-roll.ts first. Fluid read per side
 * against the fluid drawn (truth.json `effusion`), and the time the rule took.
 *
 * Usage: npx tsx bench/pleural-fluid.ts [--match <substring>] [cache folders...]
 *   default folders /tmp/deepsc-bench/scan-kinds and /tmp/deepsc-bench/roll.
 * Writes bench/results/pleural-fluid.json.
 */
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { loadavg } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { readNiftiFile } from "../core/nifti/read.js";
import { validatePath } from "../core/validation/validate-path.js";
import { pleuralFluid } from "../gpu-job/pipeline/lungs/pleural-fluid.js";
import { axialPixelMm } from "../gpu-job/pipeline/preprocess/orientation.js";
import { EFFUSION_WARNING_ML } from "../gpu-job/pipeline/scan-caveats.js";
import { machineInfo } from "./machine.js";
import { writeBenchResults } from "./score-analysis.js";

const { values: args, positionals } = parseArgs({
  options: { match: { type: "string", default: "" } },
  allowPositionals: true,
});
const caches =
  positionals.length > 0 ? positionals : ["/tmp/deepsc-bench/scan-kinds", "/tmp/deepsc-bench/roll"];

const loadBefore = loadavg();
const rows: Record<string, unknown>[] = [];
for (const cache of caches) {
  if (!existsSync(cache)) continue;
  for (const name of readdirSync(cache).sort()) {
    if (!name.includes(args.match)) continue;
    const dir = join(cache, name);
    const lungsPath = join(dir, "result/lungs.nii.gz");
    const input = ["dicom", "ct.nii.gz"].map((f) => join(dir, f)).find((p) => existsSync(p));
    if (!input || !existsSync(lungsPath)) continue;
    const { volume } = await validatePath(input, { mode: "full", purpose: "analysis" });
    if (!volume) continue;
    const labels = Uint8Array.from((await readNiftiFile(lungsPath)).volume.data);
    const t0 = performance.now();
    const f = pleuralFluid(volume, labels);
    const ms = performance.now() - t0;
    const truthPath = join(dir, "truth/truth.json");
    const drawn = existsSync(truthPath) ? JSON.parse(readFileSync(truthPath, "utf8")).effusion : undefined;
    const row = {
      phantom: name,
      pixelMm: Number(axialPixelMm(volume).toFixed(3)),
      measured: f !== null,
      ...(f
        ? {
            rightMl: Number(f.ml.right.toFixed(1)),
            leftMl: Number(f.ml.left.toFixed(1)),
            depthMm: { right: Number(f.depthMm.right.toFixed(1)), left: Number(f.depthMm.left.toFixed(1)) },
            axis: f.axis,
            warns: Math.max(f.ml.right, f.ml.left) >= EFFUSION_WARNING_ML,
          }
        : {}),
      drawnMl: drawn ? { right: drawn.rightMl, left: drawn.leftMl } : null,
      ms: Math.round(ms),
    };
    rows.push(row);
    console.log(
      f
        ? `${name}: right ${row.rightMl} mL, left ${row.leftMl} mL${drawn ? ` (drawn ${Math.round(drawn.rightMl)} / ${Math.round(drawn.leftMl)})` : ""}, ${row.ms} ms`
        : `${name}: not measured (${row.pixelMm} mm pixels)`,
    );
  }
}

const measured = rows.filter((r) => r.measured);
const withFluid = measured.filter((r) => r.drawnMl);
const without = measured.filter((r) => !r.drawnMl);
const most = (rs: Record<string, unknown>[]) =>
  Math.max(0, ...rs.map((r) => Math.max(r.rightMl as number, r.leftMl as number)));
const share = (r: Record<string, unknown>, side: "right" | "left") => {
  const drawn = (r.drawnMl as { right: number; left: number })[side];
  return drawn > 0 ? (r[`${side}Ml`] as number) / drawn : null;
};
const shares = withFluid.flatMap((r) => [share(r, "right"), share(r, "left")]).filter((s) => s !== null);
const summary = {
  phantoms: rows.length,
  notMeasured: rows.length - measured.length,
  withoutFluid: {
    n: without.length,
    mostMlASide: most(without),
    warned: without.filter((r) => r.warns).length,
  },
  withFluid: {
    n: withFluid.length,
    readShareOfDrawn:
      shares.length > 0 ? [Math.min(...shares), Math.max(...shares)].map((s) => Number(s.toFixed(3))) : null,
    warned: withFluid.filter((r) => r.warns).length,
  },
};
console.log(JSON.stringify(summary));
writeBenchResults("pleural-fluid.json", {
  bench: "pleural-fluid",
  date: new Date().toISOString(),
  machine: machineInfo(loadBefore, loadavg()),
  warningFromMl: EFFUSION_WARNING_ML,
  summary,
  rows,
});
