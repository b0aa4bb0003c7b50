import { describe, expect, it } from "vitest";
import { mapLimit } from "../../../core/util/map-limit.js";

const tick = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe("mapLimit", () => {
  it("keeps the input order with at most `limit` calls in flight", async () => {
    let inFlight = 0;
    let most = 0;
    const out = await mapLimit([5, 1, 4, 2, 3], 2, async (v) => {
      most = Math.max(most, ++inFlight);
      await tick(v);
      inFlight--;
      return v * 10;
    });
    expect(out).toEqual([50, 10, 40, 20, 30]);
    expect(most).toBe(2);
  });

  it("on a failure starts nothing more and throws the first error only once the calls in flight settled", async () => {
    const started: number[] = [];
    let settled = 0;
    const run = mapLimit([0, 1, 2, 3, 4, 5], 2, async (v) => {
      started.push(v);
      try {
        if (v === 0) throw new Error("first");
        await tick(20);
        if (v === 1) throw new Error("second");
        return v;
      } finally {
        settled++;
      }
    });
    await expect(run).rejects.toThrow("first");
    // Item 1 was in flight when item 0 failed: it settled before the rejection; nothing after it started.
    expect(started).toEqual([0, 1]);
    expect(settled).toBe(2);
  });
});
