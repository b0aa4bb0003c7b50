/**
 * What the report says, once, as a renderer-neutral document: report.html and report.pdf both render this,
 * so they can never disagree. Built from diagnosis.json and the key images only — nothing here can hold a
 * patient identifier, because nothing identifying is an input.
 */
import type { Diagnosis } from "../../../core/contracts/diagnosis.js";
import type { Findings, RegionExtent } from "../../../core/contracts/findings.js";
import { compareWithReferences } from "../findings/references.js";
import { UNRELIABLE_CLASS_CODES } from "../scan-caveats.js";

export type Align = "left" | "right";

export type Block =
  | { kind: "heading"; text: string }
  | { kind: "paragraph"; text: string; tone?: "normal" | "note" }
  | { kind: "facts"; rows: [string, string][] }
  | { kind: "table"; header: string[]; rows: string[][]; align: Align[]; note?: string }
  | { kind: "figures"; figures: Figure[] };

export interface Figure {
  /** Key of the image (its path relative to the results folder, images/...). */
  file: string;
  title: string;
  caption: string;
  width: number;
  height: number;
}

export interface ReportDocument {
  title: string;
  /** Shown first and on every PDF page; `prominent` when the model was trained on synthetic data. */
  disclaimer: { text: string; prominent: boolean };
  blocks: Block[];
  footer: string;
}

export const CLASS_LABELS: Record<keyof Diagnosis["diagnosis"]["probabilities"], string> = {
  covid19: "COVID-19 pneumonia",
  cap: "Community-acquired pneumonia (CAP)",
  non_pneumonia: "Non-pneumonia",
};

const REFERENCE_LABELS = { covid19: "COVID-19", cap: "CAP" } as const;

/** Fraction 0-1 as a percentage with one decimal; null as "n/a". */
export const pct = (f: number | null | undefined): string =>
  f === null || f === undefined ? "n/a" : `${(f * 100).toFixed(1)} %`;
const num = (v: number | null | undefined, digits: number): string =>
  v === null || v === undefined ? "n/a" : v.toFixed(digits);
const ml = (v: number) => v.toFixed(1);
const yesNo = (b: boolean) => (b ? "yes" : "no");
const percentOf = (v: number | null) => (v === null ? "n/a" : `${v.toFixed(1)} %`);

export interface ReportImages {
  axial: Figure[];
  coronal?: Figure;
  chart?: Figure;
}

export function buildReportDocument(d: Diagnosis, images: ReportImages): ReportDocument {
  const f = d.findings;
  const blocks: Block[] = [
    ...resultBlocks(d),
    { kind: "heading", text: "Impression" },
    { kind: "paragraph", text: d.impression },
    ...distributionBlocks(f),
    ...countBlocks(f),
    ...attenuationBlocks(f),
    ...extentBlocks(f),
    ...peripheralBlocks(f, images.chart),
    ...imageBlocks(images),
    ...warningBlocks(d),
    ...modelBlocks(d),
  ];
  return {
    title: "DeepSC-COVID chest CT findings report",
    disclaimer: { text: d.disclaimer, prominent: d.model.synthetic },
    blocks,
    footer: `${d.model.name} ${d.model.version} - ${d.model.synthetic ? "synthetic model, not for clinical use" : "research use, to be reviewed by a radiologist"} - no patient identifiers in this report`,
  };
}

function resultBlocks(d: Diagnosis): Block[] {
  const p = d.diagnosis.probabilities;
  const predicted = d.diagnosis.predictedClass;
  const order = (Object.keys(CLASS_LABELS) as (keyof typeof p)[]).sort((a, b) => p[b] - p[a]);
  const caveats = [...new Set(d.warnings.map((w) => w.code))].filter((c) =>
    UNRELIABLE_CLASS_CODES.includes(c),
  );
  return [
    { kind: "heading", text: "Model result" },
    {
      kind: "facts",
      rows: [
        ["Predicted class", CLASS_LABELS[predicted]],
        ...(caveats.length > 0
          ? ([["Reliability", `unreliable for this scan: ${caveats.join(", ")} (see Warnings)`]] as [
              string,
              string,
            ][])
          : []),
        [
          "Scan rule",
          `${d.diagnosis.scanRule.method} over ${d.diagnosis.tiles} tile${d.diagnosis.tiles === 1 ? "" : "s"}`,
        ],
        ["Analysed", analysedInput(d.input)],
      ],
    },
    {
      kind: "table",
      header: ["Class", "Probability", ""],
      rows: order.map((c) => [CLASS_LABELS[c], pct(p[c]), c === predicted ? "predicted" : ""]),
      align: ["left", "right", "left"],
    },
  ];
}

/** What was analysed, as a reader finds it: the DICOM series number (or the NIfTI volume) and its grid. */
function analysedInput(input: Diagnosis["input"]): string {
  const [i, j, k] = input.dims;
  const mm = input.spacing.map((v) => v.toFixed(2)).join(" x ");
  const what =
    input.format === "nifti"
      ? "the NIfTI volume"
      : input.seriesNumber !== undefined
        ? `DICOM series ${input.seriesNumber}`
        : "the DICOM series (no SeriesNumber)";
  return `${what}: ${i} x ${j} x ${k} voxels of ${mm} mm`;
}

function distributionBlocks(f: Findings): Block[] {
  const dist = f.distribution;
  return [
    { kind: "heading", text: "Distribution" },
    {
      kind: "facts",
      rows: [
        [
          "Bilateral involvement",
          `${yesNo(dist.bilateral)} (yes when each lung holds at least ${f.method.bilateralMinMl} mL of lesion)`,
        ],
        ["Lower-zone share of lesion volume", pct(dist.lowerZoneShare)],
        [
          "Lower-zone predominance",
          `${yesNo(dist.lowerZonePredominant)} (yes when the lower zones hold more than ${pct(f.method.lowerZonePredominanceShare)} of the lesion volume)`,
        ],
      ],
    },
  ];
}

function countBlocks(f: Findings): Block[] {
  const l = f.lesions;
  const blocks: Block[] = [
    { kind: "heading", text: "Finding 1 - Lesion count" },
    {
      kind: "facts",
      rows: [
        ["Lesions", `${l.count} (right lung ${l.right}, left lung ${l.left})`],
        [
          "Definition",
          `3D connected components (${f.method.connectivity}-connected) of at least ${f.method.minLesionVolumeMl} mL`,
        ],
        ["Ignored as noise", `${l.ignoredSmall.count} component(s), ${ml(l.ignoredSmall.volumeMl)} mL`],
        ["Lesion volume outside the lungs", `${ml(l.outsideLungsMl)} mL`],
        ["Reference", compareWithReferences(f).lesionCount.text],
      ],
    },
  ];
  if (l.listed.length > 0) {
    const shown = l.listed.slice(0, MAX_LESION_ROWS);
    const more = l.listed.length - shown.length + l.notListed;
    blocks.push({
      kind: "table",
      header: ["#", "Volume (mL)", "Lung", "Zone", "Mean HU", "GGO", "Consolidation", "Depth (mm)"],
      rows: shown.map((x) => [
        String(x.rank),
        ml(x.volumeMl),
        x.side,
        x.zone ?? "n/a",
        num(x.meanHu, 0),
        pct(x.ggoFraction),
        pct(x.consolidationFraction),
        num(x.meanPleuralDistanceMm, 1),
      ]),
      align: ["right", "right", "left", "left", "right", "right", "right", "right"],
      note: `Largest lesions first. Depth: mean distance under the pleural surface.${more > 0 ? ` ${more} smaller lesion(s) not shown.` : ""}`,
    });
  }
  return blocks;
}

/** Lesions listed individually in the report (diagnosis.json lists up to maxListedLesions). */
export const MAX_LESION_ROWS = 10;

function attenuationBlocks(f: Findings): Block[] {
  const a = f.attenuation;
  const m = f.method;
  return [
    { kind: "heading", text: "Finding 2 - Attenuation" },
    {
      kind: "facts",
      rows: [
        ["Mean lesion attenuation", a.meanHu === null ? "n/a" : `${a.meanHu.toFixed(0)} HU`],
        ["Histogram peak", a.histogram.peakHu === null ? "n/a" : `${a.histogram.peakHu.toFixed(0)} HU`],
        [`Ground glass (${m.ggoMinHu} to ${m.consolidationMinHu} HU)`, pct(a.ggoFraction)],
        [`Consolidation (${m.consolidationMinHu} HU and above)`, pct(a.consolidationFraction)],
        [`Aerated (below ${m.ggoMinHu} HU)`, pct(a.belowGgoFraction)],
        ["Reference", compareWithReferences(f).attenuation.text],
      ],
    },
  ];
}

function extentRow(name: string, r: RegionExtent): string[] {
  return [name, ml(r.lesionVolumeMl), ml(r.lungVolumeMl), percentOf(r.percentOfLung)];
}

function extentBlocks(f: Findings): Block[] {
  const e = f.extent;
  const rows = [extentRow("Both lungs", e)];
  for (const side of ["right", "left"] as const) {
    const lung = e[side];
    const name = side === "right" ? "Right" : "Left";
    rows.push(extentRow(`${name} lung`, lung));
    for (const zone of ["upper", "middle", "lower"] as const)
      rows.push(extentRow(`${name} ${zone} zone`, lung.zones[zone]));
  }
  const s = e.severity;
  return [
    { kind: "heading", text: "Finding 3 - Extent" },
    {
      kind: "table",
      header: ["Region", "Lesion (mL)", "Lung (mL)", "% of lung"],
      rows,
      align: ["left", "right", "right", "right"],
      note: "Zones are thirds of each lung's own craniocaudal height.",
    },
    { kind: "facts", rows: [["Reference", compareWithReferences(f).extent.text]] },
    {
      kind: "table",
      header: ["Lobe", "Zones", "% of lobe", "Score (0-5)"],
      rows: s.lobes.map((l) => [
        l.lobe,
        `${l.side} ${l.zones.join(" + ")}`,
        percentOf(l.percentOfLobe),
        String(l.score),
      ]),
      align: ["left", "left", "right", "right"],
      note: `CT severity score ${s.score} of ${s.maxScore}. Lobes approximated by lung zones; per lobe 0 none, 1 under 5 %, 2 5-25 %, 3 25-50 %, 4 50-75 %, 5 over 75 %.`,
    },
  ];
}

function peripheralBlocks(f: Findings, chart: Figure | undefined): Block[] {
  const p = f.peripheral;
  const closer =
    p.closerTo === null
      ? "neither (no lesions, or a tie)"
      : `the ${REFERENCE_LABELS[p.closerTo]} reference curve`;
  const blocks: Block[] = [
    { kind: "heading", text: "Finding 4 - Peripheral distribution" },
    {
      kind: "table",
      header: ["Depth under pleura", "This scan", "COVID-19 reference", "CAP reference"],
      rows: p.shells.map((s) => [
        `${s.depthMm} mm`,
        pct(s.share),
        pct(s.covid19Reference),
        pct(s.capReference),
      ]),
      align: ["left", "right", "right", "right"],
      note: "Share of lesion volume within each depth under the pleural surface.",
    },
    {
      kind: "facts",
      rows: [
        ["RMS distance to COVID-19 curve", num(p.rmsDistance.covid19, 3)],
        ["RMS distance to CAP curve", num(p.rmsDistance.cap, 3)],
        ["Closer to", closer],
        [
          "Mean lesion depth under the pleura",
          p.meanPleuralDistanceMm === null ? "n/a" : `${p.meanPleuralDistanceMm.toFixed(1)} mm`,
        ],
      ],
    },
  ];
  if (chart) blocks.push({ kind: "figures", figures: [chart] });
  return blocks;
}

function imageBlocks(images: ReportImages): Block[] {
  const blocks: Block[] = [{ kind: "heading", text: "Key images" }];
  if (images.axial.length > 0) blocks.push({ kind: "figures", figures: images.axial });
  if (images.coronal) blocks.push({ kind: "figures", figures: [images.coronal] });
  blocks.push({
    kind: "paragraph",
    tone: "note",
    text: "Radiological convention: the patient's right is on the image's left; anterior (axial) or superior (coronal) is up.",
  });
  return blocks;
}

function modelBlocks(d: Diagnosis): Block[] {
  const m = d.model;
  const t = d.timings;
  const i = d.input;
  const seconds = (ms: number) => `${(ms / 1000).toFixed(2)} s`;
  return [
    { kind: "heading", text: "Model and run" },
    {
      kind: "facts",
      rows: [
        ["Model", `${m.name} ${m.version}${m.variant ? ` (${m.variant})` : ""}`],
        ["Model sha256", m.sha256],
        [
          "Execution provider",
          `${m.executionProvider}${m.executionProviderNote ? ` - ${m.executionProviderNote}` : ""}`,
        ],
        ["Trained on synthetic data", yesNo(m.synthetic)],
        ["Not for clinical use", yesNo(m.notForClinicalUse)],
        ...(m.intendedUse ? ([["Intended use", m.intendedUse]] as [string, string][]) : []),
        ["Result schema", `diagnosis v${d.schemaVersion}, findings v${d.findings.version}`],
        [
          "Input",
          `${i.format} (${i.container}), ${i.dims.join(" x ")} voxels of ${i.spacing.map((s) => s.toFixed(3)).join(" x ")} mm`,
        ],
      ],
    },
    {
      kind: "table",
      header: ["Stage", "Time"],
      rows: [
        ["Read and validate", seconds(t.readMs)],
        ["Lung segmentation", seconds(t.lungsMs)],
        ["Preprocessing", seconds(t.preprocessMs)],
        ["Inference", seconds(t.inferenceMs)],
        ["Postprocessing", seconds(t.postprocessMs)],
        ["Findings", seconds(t.findingsMs)],
        ["Writing masks", seconds(t.writeMs)],
        ["Total (before this report)", seconds(t.totalMs)],
      ],
      align: ["left", "right"],
    },
  ];
}

/** Warnings of one code shown in a report before the rest are counted (diagnosis.json lists them all). */
const MAX_WARNINGS_PER_CODE = 3;

function warningBlocks(d: Diagnosis): Block[] {
  const perCode = new Map<string, number>();
  for (const w of d.warnings) perCode.set(w.code, (perCode.get(w.code) ?? 0) + 1);
  const shown = new Map<string, number>();
  const lines: string[] = [];
  for (const w of d.warnings) {
    const n = (shown.get(w.code) ?? 0) + 1;
    shown.set(w.code, n);
    if (n <= MAX_WARNINGS_PER_CODE) lines.push(`${w.code}: ${w.message}`);
    else if (n === MAX_WARNINGS_PER_CODE + 1)
      lines.push(
        `${w.code}: ${(perCode.get(w.code) as number) - MAX_WARNINGS_PER_CODE} more warning(s) of this kind, in diagnosis.json.`,
      );
  }
  lines.push(...d.findings.warnings);
  if (lines.length === 0) return [];
  return [
    { kind: "heading", text: "Warnings" },
    ...lines.map((text): Block => ({ kind: "paragraph", text: `- ${text}`, tone: "note" })),
  ];
}
