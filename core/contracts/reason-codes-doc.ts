/** The README's reason-code tables, rendered from the single source of truth (reason-codes.ts). */
import { REASON_CODES, WARNING_CODES } from "./reason-codes.js";

export const README_MARKERS = ["<!-- reason-codes:start", "<!-- reason-codes:end -->"] as const;

export function reasonCodesMarkdown(): string {
  const table = (title: string, codes: Record<string, string>) =>
    [
      `| ${title} | meaning |`,
      "|---|---|",
      ...Object.entries(codes).map(([c, m]) => `| \`${c}\` | ${m} |`),
    ].join("\n");
  return `${table("rejection code", REASON_CODES)}\n\n${table("warning code", WARNING_CODES)}`;
}

/** Replace the block between the markers in a README text. */
export function withReasonCodes(readme: string): string {
  const start = readme.indexOf(README_MARKERS[0]);
  const startEnd = readme.indexOf("\n", start) + 1;
  const end = readme.indexOf(README_MARKERS[1]);
  if (start < 0 || end < 0) throw new Error("README lacks the reason-code markers");
  return `${readme.slice(0, startEnd)}${reasonCodesMarkdown()}\n${readme.slice(end)}`;
}
