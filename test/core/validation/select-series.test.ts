import { describe, expect, it } from "vitest";
import type { DicomHeader } from "../../../core/dicom/header.js";
import { isInputRejected } from "../../../core/errors.js";
import { groupSeries, selectSeries } from "../../../core/validation/select-series.js";
import { fakeHeader, fakeStack } from "../../helpers/fake-headers.js";

const rejection = (fn: () => unknown) => {
  try {
    fn();
  } catch (e) {
    if (isInputRejected(e)) return e.reasons[0];
    throw e;
  }
  return undefined;
};
const rejectCode = (fn: () => unknown): string | undefined => rejection(fn)?.code;

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

  it("rejects two equally good series that nothing in their headers tells apart", () => {
    const a = fakeStack(30, [0, 0, 0], [0, 0, 1], { series: "2.1" });
    const b = fakeStack(30, [0, 0, 0.5], [0, 0, 1], { series: "2.2" });
    expect(rejectCode(() => selectSeries(groupSeries([...a, ...b])))).toBe("INCONSISTENT_SERIES");
    const numbered = (series: string) => fakeStack(30, [0, 0, 0], [0, 0, 1], { series, seriesNumber: 3 });
    expect(rejectCode(() => selectSeries(groupSeries([...numbered("2.1"), ...numbered("2.2")])))).toBe(
      "INCONSISTENT_SERIES",
    );
  });

  // A CT study routinely holds the same axial stack twice: lung and soft-tissue (mediastinal) kernels.
  const twin = (series: string, o: Parameters<typeof fakeStack>[3] = {}) =>
    fakeStack(30, [0, 0, 0], [0, 0, 1], { series, study: "9.1", ...o });

  it("breaks a tie between reconstructions: the lung kernel, then thinner slices, then the lower number", () => {
    for (const [lung, other] of [
      [{ kernel: "LUNG" }, { kernel: "STANDARD" }],
      [
        { kernel: "FC51", seriesDescription: "Lung 1.0" },
        { kernel: "FC13", seriesDescription: "Mediastinum 1.0" },
      ],
    ] as const) {
      for (const order of [0, 1]) {
        const stacks = [
          twin("3.1", { ...other, seriesNumber: 2 }),
          twin("3.2", { ...lung, seriesNumber: 3 }),
        ];
        if (order) stacks.reverse();
        const sel = selectSeries(groupSeries(stacks.flat()));
        expect(sel.chosen.seriesUid).toBe("3.2");
        expect(sel.chosenBecause.at(-1)).toMatch(
          /equally ranked series \(30 slices\) as a lung reconstruction/,
        );
        expect(sel.runnersUp).toHaveLength(1);
        // The warning the report shows names the series a PACS knows it by, and why.
        expect(sel.warnings.find((w) => w.code === "OTHER_SERIES_IGNORED")?.message).toBe(
          "The input held 2 series; series 3 (30 slices) was chosen, preferred to an equally ranked series (30 slices) as a lung reconstruction (its kernel or description says LUNG), and 1 ignored.",
        );
      }
    }
    const thin = selectSeries(
      groupSeries([...twin("4.1", { thickness: 1.25, seriesNumber: 5 }), ...twin("4.2", { thickness: 1 })]),
    );
    expect(thin.chosen.seriesUid).toBe("4.2");
    expect(thin.chosenBecause.at(-1)).toMatch(/thinner slices/);
    const first = selectSeries(
      groupSeries([...twin("5.1", { seriesNumber: 7 }), ...twin("5.2", { seriesNumber: 4 })]),
    );
    expect(first.chosen.seriesUid).toBe("5.2");
    expect(first.chosenBecause.at(-1)).toMatch(/lower SeriesNumber/);
  });

  it("lets more slices win over a lung kernel: tie-breaks only order series the rules left level", () => {
    const thinSoft = fakeStack(60, [0, 0, 0], [0, 0, 1], { series: "6.1", study: "9.1", kernel: "STANDARD" });
    const thickLung = fakeStack(12, [0, 0, 0], [0, 0, 5], { series: "6.2", study: "9.1", kernel: "LUNG" });
    const sel = selectSeries(groupSeries([...thickLung, ...thinSoft]));
    expect(sel.chosen.seriesUid).toBe("6.1");
    expect(sel.chosenBecause.join()).not.toMatch(/equally ranked/);
  });

  /** One axial reconstruction of study 9.1: `n` slices 1 mm apart with its kernel (and series number). */
  const stack = (n: number, series: string, kernel: string, seriesNumber?: number) =>
    fakeStack(n, [0, 0, 0], [0, 0, 1], {
      series,
      study: "9.1",
      kernel,
      ...(seriesNumber !== undefined ? { seriesNumber } : {}),
    });
  /** The series chosen from `stacks` given in each of `orders`, which must all be `expected`. */
  const expectChosenInEveryOrder = (stacks: DicomHeader[][], orders: number[][], expected: string) => {
    for (const order of orders)
      expect(
        selectSeries(groupSeries(order.flatMap((i) => stacks[i]!))).chosen.seriesUid,
        String(order),
      ).toBe(expected);
  };

  it("takes two reconstructions a slice or two apart (within 5 %, same thickness) as level: the lung kernel wins", () => {
    const close = selectSeries(
      groupSeries([...stack(60, "6.3", "STANDARD", 2), ...stack(58, "6.4", "LUNG", 3)]),
    );
    expect(close.chosen.seriesUid).toBe("6.4");
    expect(close.chosenBecause.at(-1)).toBe(
      "preferred to a level series with 60 slices (within 5 %, the same thickness) as a lung reconstruction (its kernel or description says LUNG)",
    );
    expect(close.warnings.find((w) => w.code === "OTHER_SERIES_IGNORED")?.message).toContain(
      "series 3 (58 slices) was chosen, preferred to a level series with 60 slices",
    );
    // Further apart, more slices still win.
    const apart = selectSeries(
      groupSeries([...stack(60, "6.5", "STANDARD", 2), ...stack(54, "6.6", "LUNG", 3)]),
    );
    expect(apart.chosen.seriesUid).toBe("6.5");
    // Whatever the input order: 100 STANDARD, 96 and 97 LUNG (the lung series compared with the first only).
    const three = [
      stack(100, "5.1", "STANDARD", 1),
      stack(96, "5.2", "LUNG", 3),
      stack(97, "5.3", "LUNG", 2),
    ];
    expectChosenInEveryOrder(
      three,
      [
        [0, 1, 2],
        [0, 2, 1],
        [1, 0, 2],
        [1, 2, 0],
        [2, 0, 1],
        [2, 1, 0],
      ],
      "5.3",
    );
    // Level but indistinguishable (no kernel, no number): more slices win, as before, and nothing is rejected.
    const plain = selectSeries(
      groupSeries([...stack(99, "5.4", "STANDARD"), ...stack(100, "5.5", "STANDARD")]),
    );
    expect(plain.chosen.seriesUid).toBe("5.5");
  });

  it("moves nothing when the favourite has an indistinguishable twin or a stack that would be refused", () => {
    // Two lung series the tie-breaks cannot tell apart: the first by slice count stays, as before.
    const twins = [
      stack(100, "5.6", "STANDARD", 1),
      stack(99, "5.7", "LUNG", 2),
      stack(99, "5.8", "LUNG", 2),
    ];
    expectChosenInEveryOrder(
      twins,
      [
        [0, 1, 2],
        [2, 1, 0],
        [1, 2, 0],
      ],
      "5.6",
    );
    // The lung series holds a stray slice of another matrix: choosing it would refuse the input.
    const stray = fakeHeader({
      series: "5.10",
      study: "9.1",
      instance: 500,
      position: [0, 0, 50],
      rows: 8,
      columns: 8,
    });
    const sel = selectSeries(
      groupSeries([...stack(100, "5.9", "STANDARD", 1), ...stack(99, "5.10", "LUNG", 2), stray]),
    );
    expect(sel.chosen.seriesUid).toBe("5.9");
  });

  it("says the rules, not slice count, chose a series when the runner-up met fewer of them", () => {
    const original = fakeStack(40, [0, 0, 0], [0, 0, 1], { series: "6.7", study: "9.1", seriesNumber: 2 });
    const derived = fakeStack(60, [0, 0, 0], [0, 0, 1], {
      series: "6.8",
      study: "9.1",
      imageType: ["DERIVED", "SECONDARY"],
    });
    const sel = selectSeries(groupSeries([...derived, ...original]));
    expect(sel.chosen.seriesUid).toBe("6.7");
    expect(sel.warnings.find((w) => w.code === "OTHER_SERIES_IGNORED")?.message).toContain(
      "series 2 (40 slices) was chosen, ranked first by the selection rules",
    );
  });

  it("rejects CT series of different studies (an export that mixes studies) even when one ranks higher", () => {
    const a = fakeStack(30, [0, 0, 0], [0, 0, 1], { series: "7.1", study: "9.1" });
    const b = fakeStack(20, [0, 0, 0], [0, 0, 1], { series: "7.2", study: "9.2" });
    expect(rejectCode(() => selectSeries(groupSeries([...a, ...b])))).toBe("INCONSISTENT_SERIES");
    // A localizer of another study is not a candidate; it does not block the choice.
    const scout = fakeStack(1, [0, 0, 0], [0, 0, 1], {
      series: "7.3",
      study: "9.2",
      imageType: ["ORIGINAL", "PRIMARY", "LOCALIZER"],
    });
    expect(selectSeries(groupSeries([...a, ...scout])).chosen.seriesUid).toBe("7.1");
  });

  it("never puts a SeriesDescription (free text) into what the report carries", () => {
    const sel = selectSeries(
      groupSeries([
        ...twin("8.1", { seriesDescription: "CHEST for J DOE", kernel: "LUNG" }),
        ...twin("8.2", { seriesDescription: "CHEST for J DOE" }),
      ]),
    );
    // What the report carries of a selection (the chosen group's headers stay in memory).
    const reported = JSON.stringify([sel.chosenBecause, sel.runnersUp, sel.warnings]);
    expect(reported).toMatch(/lung reconstruction/);
    expect(reported).not.toMatch(/DOE/);
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

  it("keeps one series whole when its orientations jitter across a rounding boundary, and splits real changes of plane", () => {
    // 48 slices whose row cosines alternate 0.00049998 / 0.00050002 (4e-8 apart, either side of 5e-4).
    const headers = fakeStack(48, [0, 0, 0], [0, 0, 2.5], { series: "1.9" }).map((h, k) => {
      const e = k % 2 ? 0.00050002 : 0.00049998;
      const c = Math.sqrt(1 - e * e);
      const orientation: [number, number, number, number, number, number] = [c, e, 0, -e, c, 0];
      return { ...h, frames: h.frames.map((f) => ({ ...f, orientation })) };
    });
    const groups = groupSeries(headers);
    expect(groups).toHaveLength(1);
    expect(selectSeries(groups).chosen.slices).toHaveLength(48);
    // A localizer under the same series UID, another plane entirely, is still its own group.
    const scout = fakeStack(1, [0, 0, 0], [0, 0, 1], { series: "1.9", orientation: [0, 1, 0, 0, 0, -1] });
    expect(groupSeries([...headers, ...scout])).toHaveLength(2);
  });

  it("rejects a series one of whose slices has another matrix (INCONSISTENT_SERIES), rather than drop it", () => {
    const headers = fakeStack(24, [0, 0, 0], [0, 0, 2.5], { series: "1.7" });
    const last = fakeHeader({ series: "1.7", instance: 25, position: [0, 0, 60], rows: 8 });
    expect(rejectCode(() => selectSeries(groupSeries([...headers, last])))).toBe("INCONSISTENT_SERIES");
    // A localizer under the series' UID is another plane: ignored, as before.
    const scout = fakeStack(1, [0, 0, 0], [0, 0, 1], {
      series: "1.7",
      imageType: ["ORIGINAL", "PRIMARY", "LOCALIZER"],
      orientation: [0, 1, 0, 0, 0, -1],
      rows: 8,
    });
    expect(selectSeries(groupSeries([...headers, ...scout])).chosen.slices).toHaveLength(24);
  });

  it("rejects a slice of the series without an orientation, or turned a little from its plane, rather than drop it", () => {
    const headers = fakeStack(24, [0, 0, 0], [0, 0, 2.5], { series: "1.6" });
    const bare = fakeHeader({ series: "1.6", instance: 25, position: [0, 0, 60] });
    delete bare.frames[0]!.orientation;
    const err = rejection(() => selectSeries(groupSeries([...headers, bare])));
    expect(err?.code).toBe("MISSING_GEOMETRY");
    expect(err?.file).toBe(bare.file);
    // One degree about z: a stray of the stack, not another reconstruction.
    const c = Math.cos(Math.PI / 180);
    const e = Math.sin(Math.PI / 180);
    const turned = fakeHeader({
      series: "1.6",
      instance: 25,
      position: [0, 0, 60],
      orientation: [c, e, 0, -e, c, 0],
    });
    expect(rejection(() => selectSeries(groupSeries([...headers, turned])))?.code).toBe(
      "INCONSISTENT_SERIES",
    );
    // A reformat in another plane under the same UID is still ignored.
    const coronal = fakeStack(10, [0, 0, 0], [0, 1, 0], { series: "1.6", orientation: [1, 0, 0, 0, 0, -1] });
    expect(selectSeries(groupSeries([...headers, ...coronal])).chosen.slices).toHaveLength(24);
    // Another series' slices are not this one's business.
    const other = fakeHeader({
      series: "2.6",
      instance: 1,
      position: [0, 0, 0],
      orientation: [c, e, 0, -e, c, 0],
    });
    expect(selectSeries(groupSeries([...headers, other])).chosen.slices).toHaveLength(24);
  });

  it("keeps slices that differ in bit depth or signedness: each is decoded by its own header", () => {
    // Real series do this (BitsStored/HighBit set from each slice's own maximum, a slice unsigned with its
    // own intercept); a relabelled slice whose data does not fit its header is refused by its Pixel Data's
    // length when decoded (decode-pixels.ts).
    for (const change of [
      { bitsAllocated: 8, bitsStored: 8, highBit: 7 },
      { bitsStored: 12, highBit: 11 },
      { pixelRepresentation: 0 as const },
    ]) {
      const headers = fakeStack(24, [0, 0, 0], [0, 0, 2.5], { series: "1.9" });
      Object.assign(headers[12]!, change);
      expect(selectSeries(groupSeries(headers)).chosen.slices).toHaveLength(24);
    }
  });

  it("keeps a localizer slice out of the stack even in the stack's plane and matrix", () => {
    const headers = fakeStack(24, [0, 0, 0], [0, 0, 2.5], { series: "1.8" });
    const scout = fakeHeader({
      series: "1.8",
      instance: 99,
      position: [0, 0, 100],
      imageType: ["ORIGINAL", "PRIMARY", "LOCALIZER"],
    });
    const sel = selectSeries(groupSeries([scout, ...headers]));
    expect(sel.chosen.slices).toHaveLength(24);
    expect(sel.chosen.headers).not.toContain(scout);
  });
});
