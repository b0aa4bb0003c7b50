/**
 * One-off speed measurement of computeFindings on a 512x512x300 scan (not a test: run it by hand,
 * `npx tsx test/gpu-job/pipeline/findings/speed.script.ts [covid|cap] [seed]`).
 *
 * A COVID-19 phantom rendered at 128x128x75 (2.81 mm x 4 mm) is upsampled by nearest neighbour to
 * 512x512x300 (0.70 mm x 1 mm), so lungs and lesions fill the grid as in a real chest CT; zones and
 * pleural distances come from the lung stage on the upsampled grid. Prints wall and CPU time of each
 * stage (CPU time is the fairer number on a shared machine) and the resident memory.
 */
import type { Geometry, Volume } from "../../../../core/contracts/volume.js";
import { planPhantom, renderPhantom } from "../../../../core/phantom/generate.js";
import { phantomGrid } from "../../../../core/phantom/grid.js";
import { computeFindings } from "../../../../gpu-job/pipeline/findings/compute-findings.js";
import { pleuralDistanceMm } from "../../../../gpu-job/pipeline/lungs/pleural-distance.js";
import { assignZones } from "../../../../gpu-job/pipeline/lungs/zones.js";

const cls = (process.argv[2] ?? "covid") as "covid" | "cap";
const seed = Number(process.argv[3] ?? 2);
const F = 4;
const small = phantomGrid({
  size: 128,
  slices: 75,
  sliceThickness: 4,
  zDirection: "ascending",
  orientation: "axial",
} as Parameters<typeof phantomGrid>[0]);
const r = renderPhantom(planPhantom(cls, seed), small, { noiseSd: 15, correlatedNoise: true });

const [sx, sy, sz] = small.dims;
const dims: Geometry["dims"] = [sx * F, sy * F, sz * F];
const geometry: Geometry = {
  dims,
  spacing: [small.spacing[0] / F, small.spacing[1] / F, small.spacing[2] / F],
  origin: small.origin,
  direction: small.direction,
};
const n = dims[0] * dims[1] * dims[2];
const hu = new Int16Array(n);
const lesions = new Uint8Array(n);
const labels = new Uint8Array(n);
let idx = 0;
for (let k = 0; k < dims[2]; k++) {
  for (let j = 0; j < dims[1]; j++) {
    const row = sx * (Math.floor(j / F) + sy * Math.floor(k / F));
    for (let i = 0; i < dims[0]; i++, idx++) {
      const src = row + Math.floor(i / F);
      hu[idx] = r.ct.data[src]!;
      lesions[idx] = r.lesions.data[src]! > 0 ? 1 : 0;
      labels[idx] = r.lungs.data[src]!;
    }
  }
}
const volume: Volume = { ...geometry, data: hu };

function timed<T>(name: string, f: () => T): T {
  const wall = performance.now();
  const cpu = process.cpuUsage();
  const out = f();
  const used = process.cpuUsage(cpu);
  console.log(
    `${name.padEnd(22)} wall ${(performance.now() - wall).toFixed(0).padStart(6)} ms   cpu ${((used.user + used.system) / 1000).toFixed(0).padStart(6)} ms`,
  );
  return out;
}

const zones = timed("assignZones", () => assignZones(labels, geometry));
const distance = timed("pleuralDistanceMm", () => pleuralDistanceMm(labels, dims, geometry.spacing));
let lungVoxels = 0;
let lesionVoxels = 0;
for (let v = 0; v < n; v++) {
  if (labels[v]) lungVoxels++;
  if (lesions[v] && labels[v]) lesionVoxels++;
}
console.log(
  `grid ${dims.join("x")}: lungs ${((100 * lungVoxels) / n).toFixed(1)} % of voxels, ` +
    `lesions ${((100 * lesionVoxels) / lungVoxels).toFixed(1)} % of lung`,
);
for (let run = 1; run <= 3; run++) {
  const f = timed(`computeFindings #${run}`, () =>
    computeFindings({
      hu: volume,
      lesions,
      lungs: {
        dims,
        spacing: geometry.spacing,
        labels,
        zones,
        volumeMl: { right: 0, left: 0 },
        warnings: [],
        cutInPlane: false,
      },
      pleuralDistanceMm: distance,
    }),
  );
  if (run === 3) {
    console.log(
      `lesions ${f.lesions.count}, ${f.extent.lesionVolumeMl} mL, severity ${f.extent.severity.score}`,
    );
  }
}
console.log(`rss ${(process.memoryUsage().rss / 2 ** 20).toFixed(0)} MiB`);
