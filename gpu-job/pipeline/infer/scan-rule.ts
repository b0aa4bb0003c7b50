/**
 * The scan-level classification rule recorded in model.json (`classification.scanRule`). Each tile sees
 * 16 slices plus the whole-scan stack and votes with its softmax; the vote is weighted by how much lesion
 * the tile itself segments, because lesion-free tiles of a pneumonia scan cannot tell COVID-19 from CAP:
 *   lesion-weighted: p_scan = sum_t w_t p_t / sum_t w_t, w_t = baseMl + V_t (mL of lesion in tile t)
 *   mean:            p_scan = mean_t p_t
 */
export interface ScanRule {
  method: "lesion-weighted" | "mean";
  baseMl: number;
}

export function softmax(logits: ArrayLike<number>): Float64Array {
  let max = -Infinity;
  for (let i = 0; i < logits.length; i++) max = Math.max(max, logits[i] as number);
  const e = Float64Array.from({ length: logits.length }, (_, i) => Math.exp((logits[i] as number) - max));
  const sum = e.reduce((a, b) => a + b, 0);
  return e.map((v) => v / sum);
}

/**
 * `votes` (one flag per tile; all true when absent) leaves tiles out of the vote: an oblique scan's tiles
 * that show its field of view cutting the lungs on a slant (voting-tiles.ts). When it leaves none, all vote.
 */
export function scanProbabilities(
  tileProbabilities: Float64Array[],
  tileLesionMl: number[],
  rule: ScanRule,
  votes?: readonly boolean[],
): Float64Array {
  if (tileProbabilities.length === 0) throw new Error("no tiles");
  if (votes !== undefined && votes.length !== tileProbabilities.length)
    throw new Error(`${votes.length} vote flags for ${tileProbabilities.length} tiles`);
  if (votes !== undefined && !votes.some(Boolean))
    return scanProbabilities(tileProbabilities, tileLesionMl, rule);
  const k = (tileProbabilities[0] as Float64Array).length;
  const out = new Float64Array(k);
  let total = 0;
  tileProbabilities.forEach((p, t) => {
    if (votes !== undefined && !votes[t]) return;
    const w = rule.method === "mean" ? 1 : rule.baseMl + (tileLesionMl[t] as number);
    total += w;
    for (let c = 0; c < k; c++) out[c] = (out[c] as number) + w * (p[c] as number);
  });
  // baseMl 0 and no lesion anywhere: every weight is 0, so fall back to the plain mean.
  if (total === 0)
    return scanProbabilities(tileProbabilities, tileLesionMl, { method: "mean", baseMl: 0 }, votes);
  return out.map((v) => v / total);
}
