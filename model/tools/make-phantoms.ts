/**
 * Generate a folder of NIfTI phantoms for training or validation, in one process (no CLI start-up per
 * case), in the layout model/deepsc/data.py reads: <out>/<class>-<seed>/ct.nii.gz + truth/, and
 * <out>/labels.csv. Each case's grid options are drawn from the case's seed, so a folder is reproducible
 * from its command line alone; <out>/phantoms.json records that command and every case's options.
 *
 *   npx tsx model/tools/make-phantoms.ts --out DIR --seeds 1000-1029 [--classes covid,cap,normal]
 *     [--sizes 256] [--spacings 2.5,5] [--fov 360] [--noise 5-15] [--habitus 0.85-1.15] [--effusion 0.3,1000]
 *
 * --habitus draws each case's body scales (width, depth, height; core/phantom/options.ts habitus) uniformly
 * from the range, each from the seed; the default 1 draws the one standard body. The stack grows with the
 * height scale, so the lungs still fit in it.
 * --effusion <share>,<max mL> gives that share of the cases, in every class alike (so that fluid does not
 * tell the class), pleural fluid (options.effusionMl): the right side up to max mL, and the left too in
 * half of them, each drawn from the seed; the default 0 draws none.
 * Seeds are per class: --seeds 1000-1029 makes covid-1000..1029, cap-1000..1029, normal-1000..1029. Keep
 * training and validation seed ranges disjoint.
 */
import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { parseArgs } from "node:util";
import type { PhantomOptions } from "../../core/phantom/options.js";
import { runPhantom } from "../../core/phantom/run.js";

const LABELS = { covid: "covid19", cap: "cap", normal: "non_pneumonia" } as const;
type PhantomClassName = keyof typeof LABELS;

function range(spec: string): [number, number] {
  const m = /^(\d+)(?:-(\d+))?$/.exec(spec);
  if (!m) throw new Error(`bad range ${spec}: use N or N-M`);
  const lo = Number(m[1]);
  const hi = m[2] === undefined ? lo : Number(m[2]);
  if (hi < lo) throw new Error(`bad range ${spec}`);
  return [lo, hi];
}

/** "a-b" or "a" of positive decimals (body scales). */
function scaleRange(spec: string): [number, number] {
  const [lo, hi = lo] = spec.split("-").map(Number) as [number, number?];
  if (!(lo > 0 && (hi as number) >= lo)) throw new Error(`bad range ${spec}: use A or A-B (e.g. 0.85-1.15)`);
  return [lo, hi as number];
}

function numbers(spec: string): number[] {
  const values = spec.split(",").map(Number);
  if (values.some((v) => !Number.isFinite(v) || v <= 0)) throw new Error(`bad list ${spec}`);
  return values;
}

/** A small deterministic hash of (seed, class, salt) in [0, 1): picks a case's grid without a global RNG. */
function unit(seed: number, cls: string, salt: string): number {
  let h = 2166136261;
  for (const ch of `${seed}/${cls}/${salt}`) {
    h ^= ch.charCodeAt(0);
    h = Math.imul(h, 16777619);
  }
  return (h >>> 0) / 2 ** 32;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      out: { type: "string" },
      seeds: { type: "string" },
      classes: { type: "string", default: "covid,cap,normal" },
      sizes: { type: "string", default: "256" },
      spacings: { type: "string", default: "2.5" },
      fov: { type: "string", default: "360" },
      noise: { type: "string", default: "15" },
      "z-extent": { type: "string", default: "300" },
      habitus: { type: "string", default: "1" },
      effusion: { type: "string", default: "0" },
    },
  });
  if (!values.out || !values.seeds) throw new Error("usage: --out DIR --seeds N-M [options]");
  const [lo, hi] = range(values.seeds);
  const classes = values.classes.split(",") as PhantomClassName[];
  for (const c of classes) if (!(c in LABELS)) throw new Error(`unknown class ${c}`);
  const sizes = numbers(values.sizes);
  const spacings = numbers(values.spacings);
  const fov = Number(values.fov);
  const [noiseLo, noiseHi] = range(values.noise);
  const zExtent = Number(values["z-extent"]);
  const [habitusLo, habitusHi] = scaleRange(values.habitus);
  const [effusionShare = 0, effusionMaxMl = 0] = values.effusion.split(",").map(Number);
  if (!(effusionShare >= 0 && effusionShare <= 1) || (effusionShare > 0 && !(effusionMaxMl > 0)))
    throw new Error(`bad --effusion ${values.effusion}: use <share 0..1>,<max mL>`);
  await mkdir(values.out, { recursive: true });

  const rows = ["case,label"];
  const cases: Array<Record<string, unknown>> = [];
  for (let seed = lo; seed <= hi; seed++) {
    for (const cls of classes) {
      const pick = <T>(list: T[], salt: string): T => list[Math.floor(unit(seed, cls, salt) * list.length)]!;
      const size = pick(sizes, "size");
      const spacing = pick(spacings, "spacing");
      const noiseSd = Math.round(noiseLo + (noiseHi - noiseLo) * unit(seed, cls, "noise"));
      const name = `${cls}-${seed}`;
      // The axis leads the salt: salts differing only in their last character hash to nearly equal values.
      const scale = (axis: string) =>
        Number((habitusLo + (habitusHi - habitusLo) * unit(seed, cls, `${axis}-habitus`)).toFixed(3));
      const habitus = { widthScale: scale("x"), depthScale: scale("y"), heightScale: scale("z") };
      const fluid = unit(seed, cls, "fluid-share") < effusionShare;
      const ml = (salt: string) => Math.round(effusionMaxMl * unit(seed, cls, salt));
      const effusionMl = {
        right: fluid ? ml("right-effusion") : 0,
        left: fluid && unit(seed, cls, "both-effusion") < 0.5 ? ml("left-effusion") : 0,
      };
      const options: PhantomOptions = {
        class: cls,
        seed,
        out: join(values.out, name),
        format: "nifti",
        size,
        pixelSpacing: fov / size,
        slices: Math.round((zExtent * habitus.heightScale) / spacing),
        sliceThickness: spacing,
        noiseSd,
        habitus,
        effusionMl,
      };
      const t0 = Date.now();
      const result = await runPhantom(options);
      rows.push(`${name},${LABELS[cls]}`);
      cases.push({ case: name, class: cls, seed, size, spacing, slices: options.slices, noiseSd, habitus, effusionMl });
      process.stderr.write(`${name}: ${result.summary} (${((Date.now() - t0) / 1000).toFixed(1)} s)\n`);
    }
  }
  await writeFile(join(values.out, "labels.csv"), `${rows.join("\n")}\n`);
  await writeFile(
    join(values.out, "phantoms.json"),
    `${JSON.stringify({ command: process.argv.slice(2), generator: "deepsc phantom (core/phantom/run.ts)", cases }, null, 2)}\n`,
  );
}

main().catch((e: unknown) => {
  process.stderr.write(`${e instanceof Error ? e.message : String(e)}\n`);
  process.exit(1);
});
