import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { describe, expect, it } from "vitest";
import { withReasonCodes } from "../../core/contracts/reason-codes-doc.js";

const readme = readFileSync(resolve(import.meta.dirname, "../../README.md"), "utf8");

describe("README", () => {
  it("documents every reason and warning code exactly as core/contracts/reason-codes.ts defines them", () => {
    // Run `npm run docs` after changing a code.
    expect(readme).toBe(withReasonCodes(readme));
  });

  it("has a two-command quick start whose commands .ci/run runs (the start after npm ci, then the tests)", () => {
    const quick = /## Quick start\n\n```sh\n([^`]+)```/.exec(readme)?.[1]?.trim().split("\n") ?? [];
    expect(quick).toHaveLength(2);
    const [start, test] = quick.map((line) => line.split("#")[0]!.trim());
    const ci = readFileSync(resolve(import.meta.dirname, "../../.ci/run"), "utf8");
    const lines = ci.split("\n");
    for (const part of start!.split("&&").map((c) => c.trim())) {
      const run = part === "npm ci" ? (l: string) => l.startsWith("npm ci") : (l: string) => l === part;
      expect(lines.some(run), part).toBe(true);
    }
    const install = lines.findIndex((l) => l.startsWith("npm ci"));
    expect(lines.indexOf("npm start")).toBeGreaterThan(install);
    expect(lines.indexOf(test!)).toBeGreaterThan(lines.indexOf("npm start"));
  });
});
