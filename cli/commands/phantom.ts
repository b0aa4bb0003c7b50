import { parseArgs } from "node:util";
import { type PhantomOptions, PhantomOptionsError } from "../../core/phantom/options.js";
import { runPhantom } from "../../core/phantom/run.js";
import { createProgress } from "../progress.js";
import { UsageError } from "../usage.js";
import { HELP } from "./help.js";

export async function phantomCommand(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: false,
    options: {
      class: { type: "string" },
      seed: { type: "string" },
      out: { type: "string" },
      format: { type: "string" },
      size: { type: "string" },
      slices: { type: "string" },
      thickness: { type: "string" },
      spacing: { type: "string" },
      "pixel-spacing": { type: "string" },
      z: { type: "string" },
      oblique: { type: "string" },
      plane: { type: "string" },
      "off-centre": { type: "string" },
      roll: { type: "string" },
      circle: { type: "boolean", default: false },
      table: { type: "boolean", default: false },
      metal: { type: "boolean", default: false },
      emphysema: { type: "string" },
      habitus: { type: "string" },
      effusion: { type: "string" },
      syntax: { type: "string" },
      rescale: { type: "string" },
      noise: { type: "string" },
      quiet: { type: "boolean", default: false },
    },
  });
  if (positionals.length > 0 || !values.out) throw new UsageError(HELP.phantom);
  // An empty value is no number (Number("") is 0): the options' checks then name the flag.
  const num = (v: string | undefined) =>
    v === undefined ? undefined : v.trim() === "" ? Number.NaN : Number(v);
  const opts: Record<string, unknown> = {
    class: values.class,
    seed: num(values.seed),
    out: values.out,
    format: values.format,
    size: num(values.size),
    slices: num(values.slices),
    sliceThickness: num(values.thickness),
    spacing: num(values.spacing),
    pixelSpacing: num(values["pixel-spacing"]),
    zDirection: values.z,
    transferSyntax: values.syntax,
    rescale: values.rescale,
    noiseSd: num(values.noise),
    patientRollDeg: num(values.roll),
    reconstructionCircle: values.circle || undefined,
    table: values.table || undefined,
    metal: values.metal || undefined,
    emphysema: num(values.emphysema),
  };
  if (values.plane !== undefined && values.oblique !== undefined)
    throw new UsageError(`--plane and --oblique exclude each other\n\n${HELP.phantom}`);
  if (values.plane !== undefined) opts.orientation = values.plane;
  if (values.oblique) {
    const [rx, ry] = values.oblique.split(",").map(Number);
    opts.orientation = { rotateXDeg: rx ?? 0, rotateYDeg: ry ?? 0 };
  }
  if (values["off-centre"]) opts.offCentreMm = values["off-centre"].split(",").map(Number);
  if (values.habitus) {
    const [widthScale, depthScale, heightScale] = values.habitus.split(",").map(Number);
    opts.habitus = { widthScale, depthScale, heightScale };
  }
  if (values.effusion) {
    const [right, left] = values.effusion.split(",").map(Number);
    opts.effusionMl = { right, left: left ?? 0 };
  }
  for (const k of Object.keys(opts)) if (opts[k] === undefined) delete opts[k];
  const progress = createProgress(!values.quiet);
  try {
    const result = await runPhantom(opts as PhantomOptions, (d, t) => progress.update("phantom", d, t));
    progress.stop();
    if (!values.quiet) process.stderr.write(`${result.summary}\n`);
    process.stdout.write(`${result.ctPath}\n`);
    return 0;
  } catch (e) {
    progress.stop();
    if (e instanceof PhantomOptionsError) throw new UsageError(`${e.message}\n\n${HELP.phantom}`);
    throw e;
  }
}
