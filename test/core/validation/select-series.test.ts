import { describe, expect, it } from "vitest";
import { isInputRejected } from "../../../core/errors.js";
import { groupSeries, selectSeries } from "../../../core/validation/select-series.js";
import { fakeHeader, fakeStack } from "../../helpers/fake-headers.js";

const rejectCode = (fn: () => unknown): string | undefined => {
  try {
    fn();
  } catch (e) {
    if (isInputRejected(e)) return e.reasons[0]!.code;
    throw e;
  }
  return undefined;
};

describe("selectSeries", () => {
  it("chooses the axial ORIGINAL/PRIMARY series with most slices and lists the runners-up", () => {
    const axial = fakeStack(40, [0, 0, 0], [0, 0, 2.5], { series: "1.1" });
    const thick = fakeStack(20, [0, 0, 0], [0, 0, 5], { series: "1.2" });
    const scout = fakeStack(1, [0, 0, 0], [0, 0, 1], {
      series: "1.3",
      imageType: ["ORIGINAL", "PRIMARY", "LOCALIZER"],
      orientation: [0, 1, 0, 0, 0, -1],
    });
    const derived = fakeStack(60, [0, 0, 0], [0, 0, 1], {
      series: "1.4",
      imageType: ["DERIVED", "SECONDARY"],
    });
    const coronal = fakeStack(80, [0, 0, 0], [0, 1, 0], { series: "1.5", orientation: [1, 0, 0, 0, 0, -1] });
    const sel = selectSeries(groupSeries([...scout, ...thick, ...axial, ...derived, ...coronal]));
    expect(sel.chosen.seriesUid).toBe("1.1");
    expect(sel.runnersUp.map((r) => r.slices)).toEqual([20, 60, 80, 1]);
    expect(sel.runnersUp.at(-1)!.notes.join()).toMatch(/LOCALIZER/);
    expect(sel.warnings.map((w) => w.code)).toContain("OTHER_SERIES_IGNORED");
    // No UID leaks into the candidates.
    expect(JSON.stringify(sel.runnersUp)).not.toMatch(/1\.1|1\.2|1\.3/);
  });

  it("rejects localizers only with NO_CT_SERIES and non-CT with NOT_CT", () => {
    const scout = fakeStack(2, [0, 0, 0], [0, 0, 1], { imageType: ["ORIGINAL", "PRIMARY", "LOCALIZER"] });
    expect(rejectCode(() => selectSeries(groupSeries(scout)))).toBe("NO_CT_SERIES");
    const mr = fakeStack(30, [0, 0, 0], [0, 0, 1], {
      modality: "MR",
      sopClassUid: "1.2.840.10008.5.1.4.1.1.4",
    });
    expect(rejectCode(() => selectSeries(groupSeries(mr)))).toBe("NOT_CT");
  });

  it("infers CT from the SOP class when Modality is missing, with a warning", () => {
    const headers = fakeStack(30, [0, 0, 0], [0, 0, 1], { modality: undefined });
    const sel = selectSeries(groupSeries(headers));
    expect(sel.warnings.map((w) => w.code)).toContain("MODALITY_INFERRED");
  });

  it("rejects two equally good series mixed in one upload", () => {
    const a = fakeStack(30, [0, 0, 0], [0, 0, 1], { series: "2.1" });
    const b = fakeStack(30, [0, 0, 0.5], [0, 0, 1], { series: "2.2" });
    expect(rejectCode(() => selectSeries(groupSeries([...a, ...b])))).toBe("INCONSISTENT_SERIES");
  });

  it("splits one series UID by matrix size and reports a CT without pixel data", () => {
    const big = fakeStack(30, [0, 0, 0], [0, 0, 1], { rows: 8, columns: 8 });
    const small = fakeStack(10, [0, 0, 0], [0, 0, 1], { rows: 4, columns: 4 });
    expect(groupSeries([...big, ...small])).toHaveLength(2);
    const headerOnly = fakeStack(30, [0, 0, 0], [0, 0, 1]).map((h) => {
      delete h.pixelData;
      return h;
    });
    expect(rejectCode(() => selectSeries(groupSeries(headerOnly)))).toBe("MISSING_PIXEL_DATA");
  });

  it("treats an enhanced multi-frame file as a stack of its frames", () => {
    const h = fakeHeader({ position: [0, 0, 0] });
    h.numberOfFrames = 3;
    h.frames = [0, 1, 2].map((k) => ({
      ...h.frames[0]!,
      position: [0, 0, k * 2] as [number, number, number],
    }));
    expect(selectSeries(groupSeries([h])).chosen.slices).toHaveLength(3);
  });
});
