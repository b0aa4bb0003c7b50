import { describe, expect, it } from "vitest";
import { describeReport, reasonLine } from "../../cli/describe-report.js";
import type { ValidationReport } from "../../core/contracts/validation-report.js";

describe("reasonLine", () => {
  it("names the file (#n) and the slice a reason concerns, and nothing when it concerns neither", () => {
    expect(
      reasonLine({
        code: "NON_UNIFORM_SPACING",
        message: "Slice 60 lies 13.39 mm off.",
        file: "#61",
        slice: 60,
      }),
    ).toBe("  NON_UNIFORM_SPACING: Slice 60 lies 13.39 mm off. (file #61, slice 60)");
    expect(reasonLine({ code: "TRUNCATED", message: "Short.", file: "#5" })).toBe(
      "  TRUNCATED: Short. (file #5)",
    );
    expect(reasonLine({ code: "EMPTY_INPUT", message: "Nothing." })).toBe("  EMPTY_INPUT: Nothing.");
  });
});

describe("describeReport", () => {
  it("shows the operator the path behind a file reference, from the paths held in memory only", () => {
    const report = {
      accepted: false,
      mode: "full",
      reasons: [{ code: "TRUNCATED", message: "Short.", file: "#2" }],
      warnings: [],
      bytesRead: 10,
      bytesTotal: 20,
      files: { used: 0, total: 2 },
    } as unknown as ValidationReport;
    const text = describeReport(report, "DOE^JANE", ["DOE^JANE/IM1", "DOE^JANE/IM2"]);
    expect(text).toContain("reason  TRUNCATED: Short. [file #2: DOE^JANE/IM2]");
    expect(describeReport(report, "in")).toContain("[file #2]");
  });
});
