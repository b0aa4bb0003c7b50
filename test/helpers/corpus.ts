/** The shared conformance corpus (../shared/corpus beside the repository): its manifest, parsed. */
import { existsSync, readFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";

export const CORPUS = resolve(import.meta.dirname, "../../../shared/corpus");

export interface CorpusRow {
  file: string;
  sha256: string;
  source: string;
  licence: string;
  what: string;
  expect: string;
  path: string;
  exists: boolean;
}

export function corpusRows(): CorpusRow[] {
  const text = readFileSync(join(CORPUS, "MANIFEST.tsv"), "utf8");
  const [head, ...lines] = text.split("\n").filter((l) => l.trim() !== "");
  const cols = head!.split("\t");
  return lines.map((line) => {
    const cells = line.split("\t");
    const get = (name: string) => cells[cols.indexOf(name)] ?? "";
    const file = get("file");
    return {
      file,
      sha256: get("sha256"),
      source: get("source"),
      licence: get("licence"),
      what: get("what"),
      expect: get("expect"),
      path: join(CORPUS, file),
      exists: existsSync(join(CORPUS, file)),
    };
  });
}

export const corpusPath = (file: string) => join(CORPUS, file);
export const folderOf = (row: CorpusRow) => dirname(row.file);
