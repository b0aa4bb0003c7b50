/**
 * Every row of ../shared/corpus/MANIFEST.tsv gets its expected outcome through the real pipeline entry point
 * (validatePath, as `deepsc validate` / `convert` run it). The test reads the manifest, so new rows are covered
 * without code changes; an expectation phrase this file does not understand fails loudly rather than passing.
 * Decoder-level pixel checks live in test/core/dicom/corpus-decode.test.ts and NIfTI affine checks against
 * nibabel in test/core/nifti/corpus-nifti.test.ts; here each row's outcome is checked end to end.
 */
import { execFileSync } from "node:child_process";
import { copyFileSync, mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { basename, dirname, join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { REASON_CODES } from "../../core/contracts/reason-codes.js";
import type { Volume } from "../../core/contracts/volume.js";
import type { ValidationOutcome } from "../../core/validation/validate.js";
import { validatePath } from "../../core/validation/validate-path.js";
import { checkHuPlausible } from "../../core/volume/hu-check.js";
import { type CorpusRow, corpusPath, corpusRows } from "../helpers/corpus.js";

const rows = corpusRows();
const scratch = mkdtempSync(join(tmpdir(), "deepsc-corpus-"));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

/** A subject is what a row's expectation talks about: one file, or a folder of files forming a series. */
interface Subject {
  label: string;
  path: string;
}

const stripExt = (f: string) => basename(f).replace(/\.dcm$/, "");

function membersOf(row: CorpusRow): CorpusRow[] {
  const partner = /^series\(with ([^)]+)\)/.exec(row.expect)?.[1];
  const head = stripExt(row.file);
  return rows.filter(
    (r) =>
      dirname(r.file) === dirname(row.file) &&
      (r === row || r.expect === `see ${head}` || stripExt(r.file) === partner),
  );
}

/** Files named by a row: itself, or the series it heads ("see NAME" rows and "series(with X)" partners). */
function subjectOf(row: CorpusRow, clause: string): Subject {
  if (/^alone:/.test(clause) || !/^series/.test(row.expect)) return { label: row.file, path: row.path };
  const members = membersOf(row);
  return { label: members.map((m) => m.file).join("+"), path: copyInto(members.map((m) => m.path)) };
}

let copies = 0;
function copyInto(paths: string[]): string {
  const dir = join(scratch, `set-${copies++}`);
  mkdirSync(dir, { recursive: true });
  for (const p of paths) copyFileSync(p, join(dir, basename(p)));
  return dir;
}

const cache = new Map<string, Promise<ValidationOutcome>>();
function run(subject: Subject, purpose: "analysis" | "convert"): Promise<ValidationOutcome> {
  const key = `${purpose}:${subject.path}`;
  if (!cache.has(key)) cache.set(key, validatePath(subject.path, { mode: "full", purpose }));
  return cache.get(key)!;
}

function refRowFor(row: CorpusRow, name: string): CorpusRow {
  const folder = dirname(row.file);
  const target = rows.find((r) => dirname(r.file) === folder && stripExt(r.file) === name);
  if (target) return target;
  // "decode=CT1" names the group's reference: the CT1_* row whose expect is decode=ref.
  const ref = rows.find(
    (r) =>
      dirname(r.file) === folder &&
      stripExt(r.file).startsWith(`${name}_`) &&
      r.expect.startsWith("decode=ref"),
  );
  if (!ref) throw new Error(`manifest names ${name}, which has no row`);
  return ref;
}

function maxAbsDiff(a: Volume, b: Volume): { max: number; mean: number } {
  expect(a.dims).toEqual(b.dims);
  let max = 0;
  let sum = 0;
  for (let i = 0; i < a.data.length; i++) {
    const d = Math.abs(a.data[i]! - b.data[i]!);
    sum += d;
    if (d > max) max = d;
  }
  return { max, mean: sum / a.data.length };
}

/** Independent check with nibabel: does the file hold more than one 3-D volume? */
function isMultiVolumeNifti(path: string): boolean {
  if (!/\.nii(\.gz)?$/.test(path)) return false;
  const shape = execFileSync(
    "/usr/bin/python3",
    ["-c", "import sys, nibabel; print(list(nibabel.load(sys.argv[1]).shape))", path],
    { encoding: "utf8" },
  );
  const dims = JSON.parse(shape) as number[];
  return dims.slice(3).some((d) => d > 1);
}

const codesOf = (o: ValidationOutcome) => o.report.reasons.map((r) => r.code);
const REJECT = /^(?:analysis |as input |alone: )?reject:([A-Z_|]+)/;

/** Checks one clause of the expect column. */
async function checkClause(row: CorpusRow, clause: string): Promise<void> {
  const subject = subjectOf(row, clause);
  const c = clause
    .replace(/([A-Z_]+) or ([A-Z_]+)/g, "$1|$2")
    .replace(/^series(\(with [^)]+\))?:?\s*/, "")
    .replace(/^alone:\s*/, "");
  const rejectMatch = REJECT.exec(c);
  if (rejectMatch) {
    const allowed = rejectMatch[1]!.split("|");
    const codes = codesOf(await run(subject, "analysis"));
    expect(
      codes.some((code) => allowed.includes(code)),
      `${subject.label}: got ${codes.join(",") || "accepted"}`,
    ).toBe(true);
    for (const also of /\(also ([A-Z_]+)\)/.exec(c)?.slice(1) ?? []) expect(codes).toContain(also);
    return;
  }
  if (/^reject \((any code|too small)\)/.test(c)) {
    const o = await run(subject, "analysis");
    expect(o.report.accepted, `${subject.label} should be rejected`).toBe(false);
    for (const code of codesOf(o)) expect(Object.keys(REASON_CODES)).toContain(code);
    return;
  }
  const convertMatch = /^convert ok(?: \((\d+) slices, ([\d.]+) mm\))?/.exec(c);
  if (convertMatch || /^read ok/.test(c) || /^decode/.test(c)) {
    const o = await run(subject, "convert");
    if (/^read ok/.test(c) && !o.report.accepted && isMultiVolumeNifti(subject.path)) {
      // "read ok" for a NIfTI holding several volumes: the header reads (its affine is checked against
      // nibabel in corpus-nifti.test.ts) and the pipeline refuses it as NOT_A_VOLUME, as the issue demands.
      expect(codesOf(o)).toEqual(["NOT_A_VOLUME"]);
      return;
    }
    expect(o.report.accepted, `${subject.label}: ${JSON.stringify(o.report.reasons)}`).toBe(true);
    expect(o.volume).toBeDefined();
    const v = o.volume!;
    if (convertMatch?.[1]) expect(v.dims[2]).toBe(Number(convertMatch[1]));
    if (convertMatch?.[2]) expect(v.spacing[2]).toBeCloseTo(Number(convertMatch[2]), 3);
    if (/fallback geometry/.test(c))
      expect(o.report.warnings.map((w) => w.code)).toContain("FALLBACK_GEOMETRY");
    const m = /^decode([=~])(\S+)(?: (lossy|maxdiff<=(\d+)))?/.exec(c);
    if (m && m[2] !== "ref") {
      const ref = await run({ label: m[2]!, path: refRowFor(row, m[2]!).path }, "convert");
      const diff = maxAbsDiff(v, ref.volume!);
      if (m[1] === "=") expect(diff.max, `${row.file} vs ${m[2]}`).toBe(0);
      else if (m[4]) expect(diff.max).toBeLessThanOrEqual(Number(m[4]));
      // Lossy JPEG / JPEG 2000 at diagnostic quality stays within a few HU on average.
      else expect(diff.mean, `${row.file}: mean |diff| ${diff.mean}, max ${diff.max}`).toBeLessThan(25);
    }
    if (/HU plausible/.test(c)) expect(checkHuPlausible(v).ok).toBe(true);
    return;
  }
  if (/^sorted by position/.test(c)) {
    const o = await run(subject, "convert");
    const depths = o.stack!.slices.map((x) => x.info.position![2]);
    expect(depths).toEqual([...depths].sort((a, b) => a - b));
    expect(o.volume!.origin[2]).toBe(Math.min(...depths));
    return;
  }
  if (/^HU plausible/.test(c)) {
    const o = await run(subject, "convert");
    expect(o.volume && checkHuPlausible(o.volume).ok).toBe(true);
    return;
  }
  if (/^(parse ok|no crash)/.test(c)) {
    await run(subject, "analysis"); // resolves with a report (accepted or not) instead of throwing
    return;
  }
  if (/^GANTRY_TILT reported/.test(c)) {
    const o = await run(subject, "analysis");
    const all = [...codesOf(o), ...o.report.warnings.map((w) => w.code)];
    expect(all).toContain("GANTRY_TILT");
    return;
  }
  if (/^ignored inside a folder/.test(c)) {
    // Put the file beside a series that converts on its own: the outcome must not change.
    const series = rows.find((r) => r.file !== row.file && /^series: convert ok/.test(r.expect))!;
    const peers = membersOf(series).map((r) => r.path);
    const alone = await run({ label: series.file, path: copyInto(peers) }, "convert");
    const mixed = await run(
      { label: `${series.file}+${row.file}`, path: copyInto([...peers, row.path]) },
      "convert",
    );
    expect(mixed.report.accepted).toBe(alone.report.accepted);
    expect(mixed.report.series?.dims).toEqual(alone.report.series?.dims);
    expect(mixed.report.warnings.map((w) => w.code)).toContain("FILES_IGNORED");
    return;
  }
  if (
    /^(reference|see |end-to-end smoke|affine exactly as nibabel|oblique affine preserved|sform preferred)/.test(
      c,
    )
  ) {
    return; // SEG references are checked by the SEG writer's tests; NIfTI affines against nibabel in corpus-nifti.
  }
  throw new Error(`Unrecognised expectation clause in MANIFEST.tsv for ${row.file}: "${clause}"`);
}

function clausesOf(expect: string): string[] {
  const prefix = /^(series(?:\(with [^)]+\))?:?)\s*/.exec(expect)?.[1] ?? "";
  return expect
    .slice(prefix.length)
    .split(/;\s*|,\s+(?=(?:no crash|sorted by|reject|HU plausible|read ok|convert ok))/)
    .map((c) => c.trim())
    .filter((c) => c !== "")
    .map((c) => (prefix && !/^(alone|analysis|as input)/.test(c) ? `${prefix} ${c}` : c));
}

describe("conformance corpus (MANIFEST.tsv)", () => {
  const present = rows.filter((r) => r.exists);
  it("has rows and files", () => {
    expect(present.length).toBeGreaterThan(60);
  });
  it("has the file of every row", () => {
    expect(rows.filter((r) => !r.exists).map((r) => r.file)).toEqual([]);
  });
  for (const row of present) {
    for (const clause of clausesOf(row.expect)) {
      it(`${row.file}: ${clause}`, async () => {
        await checkClause(row, clause);
      });
    }
  }
});
