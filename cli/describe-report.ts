/** Human-readable rendering of a ValidationReport for the CLI. */
import { basename } from "node:path";
import { fileRefPosition } from "../core/contracts/file-ref.js";
import type { ValidationReport } from "../core/contracts/validation-report.js";

/** A rejection reason as one indented line: code, message and the file (`#<n>`) and slice it concerns. */
export function reasonLine(r: {
  code: string;
  message: string;
  file?: string | undefined;
  slice?: number | undefined;
}): string {
  const where = [
    ...(r.file !== undefined ? [`file ${r.file}`] : []),
    ...(r.slice !== undefined ? [`slice ${r.slice}`] : []),
  ];
  return `  ${r.code}: ${r.message}${where.length > 0 ? ` (${where.join(", ")})` : ""}`;
}

/**
 * One line per reason/warning, for people (the JSON report is for machines). `inputPaths` (the outcome's,
 * in memory) turns a report's `#<n>` file references back into paths for the operator's own terminal; the
 * report itself never names a path.
 */
export function describeReport(
  report: ValidationReport,
  input: string,
  inputPaths: readonly string[] = [],
): string {
  const where = (file: string | undefined) => {
    if (file === undefined) return "";
    const n = fileRefPosition(file);
    const path = n !== undefined ? inputPaths[n - 1] : undefined;
    return ` [file ${file}${path !== undefined ? `: ${path}` : ""}]`;
  };
  const lines: string[] = [];
  lines.push(`${basename(input)}: ${report.accepted ? "ACCEPTED" : "REJECTED"} (${report.mode} validation)`);
  for (const r of report.reasons)
    lines.push(
      `  reason  ${r.code}: ${r.message}${where(r.file)}${r.slice !== undefined ? ` (slice ${r.slice})` : ""}`,
    );
  for (const w of report.warnings) lines.push(`  warning ${w.code}: ${w.message}${where(w.file)}`);
  const s = report.series;
  if (s) {
    const fmt = (v: readonly number[] | undefined, d = 3) =>
      v ? v.map((x) => x.toFixed(d)).join(" x ") : "?";
    lines.push(
      `  series  ${s.format} in a ${s.container}${s.modality ? `, ${s.modality}` : ""}${s.manufacturer ? `, ${s.manufacturer}` : ""}`,
    );
    lines.push(
      `  grid    ${s.dims?.join(" x ") ?? "?"} voxels, spacing ${fmt(s.spacing)} mm, ${s.orientation ?? "?"}${s.zDirection ? `, z ${s.zDirection} in file order` : ""}`,
    );
    if (s.origin) lines.push(`  origin  ${fmt(s.origin, 2)} mm (LPS)`);
    if (s.huRange) lines.push(`  HU      ${s.huRange[0]} .. ${s.huRange[1]}`);
    if (s.transferSyntaxes.length) lines.push(`  syntax  ${s.transferSyntaxes.join(", ")}`);
    if (s.chosenBecause.length) lines.push(`  chosen  ${s.chosenBecause.join("; ")}`);
    for (const r of s.runnersUp)
      lines.push(`  other   ${r.slices} slices, ${r.orientation}, ${r.notes.join("; ")}`);
  }
  lines.push(
    `  read    ${report.bytesRead} of ${report.bytesTotal} bytes, ${report.files.used}/${report.files.total} files used`,
  );
  return lines.join("\n");
}
