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

  it("has a two-command quick start whose test command is the one .ci/run runs", () => {
    const quick = /## Quick start\n\n```sh\n([^`]+)```/.exec(readme)?.[1]?.trim().split("\n") ?? [];
    expect(quick).toHaveLength(2);
    const testCommand = quick[1]!.split("#")[0]!.trim();
    expect(readFileSync(resolve(import.meta.dirname, "../../.ci/run"), "utf8")).toContain(
      `\n${testCommand}\n`,
    );
  });
});
