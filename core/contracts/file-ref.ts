/**
 * How every report, status record and message names one of the input's files: `#<n>`, its 1-based position
 * among the input's files in path order (every InputSource lists its entries sorted by path, by UTF-16 code
 * unit: `LC_ALL=C sort` for ASCII paths; hidden files and folders are not counted). Never the path itself:
 * PACS exports name folders, and integrators name uploaded files, after the patient.
 */
import * as z from "zod";

export const fileRef = (position: number): string => `#${position}`;

export const FileRefSchema = z
  .string()
  .regex(/^#[1-9]\d*$/)
  .describe("The input's file at this 1-based position in path order (never a path)");

/** The 1-based position a reference names, or undefined when `file` is not a reference. */
export function fileRefPosition(file: string): number | undefined {
  return FileRefSchema.safeParse(file).success ? Number(file.slice(1)) : undefined;
}
