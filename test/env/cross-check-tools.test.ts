/**
 * The cross-check tools the suite relies on. Some suites skip a comparison when a tool is missing (so a
 * developer can run part of the suite), which must never hide a gap: this test fails loudly instead,
 * naming what to install (.ci/run installs all of it).
 */
import { spawnSync } from "node:child_process";
import { describe, expect, it } from "vitest";

const INSTALL =
  "apt-get install dcm2niix dcmtk dicom3tools poppler-utils python3-pydicom python3-nibabel python3-numpy (what .ci/run does)";

const present = (cmd: string, args: string[]) =>
  spawnSync(cmd, args, { stdio: "ignore" }).error === undefined;

describe("cross-check tools", () => {
  for (const [cmd, args] of [
    ["dcm2niix", ["-v"]],
    ["dcmdump", ["--version"]],
    ["dcmcjpeg", ["--version"]],
    ["dcmodify", ["--version"]],
    ["dciodvfy", ["-"]],
    // The reports' PDF checks (text, disclaimer, every page renders).
    ["pdftotext", ["-v"]],
    ["pdftoppm", ["-v"]],
  ] as const) {
    it(`${cmd} is installed`, () => {
      expect(present(cmd, [...args]), `${cmd} is missing: ${INSTALL}`).toBe(true);
    });
  }

  it("python3 has pydicom, nibabel and numpy", () => {
    const r = spawnSync("/usr/bin/python3", ["-c", "import pydicom, nibabel, numpy"], { encoding: "utf8" });
    expect(r.status, `${r.stderr}\n${INSTALL}`).toBe(0);
  });
});
