/**
 * Group parsed DICOM headers into series and choose the one to analyse. Slices group by
 * SeriesInstanceUID, orientation and matrix size (one UID can hold a localizer and an axial stack, or
 * differently sized reconstructions); acquisitions stay together so repeated positions can later be
 * resolved to the latest acquisition.
 */
import type { SeriesCandidate, Warning } from "../contracts/validation-report.js";
import type { Vec3 } from "../contracts/volume.js";
import type { DicomHeader, FrameInfo } from "../dicom/header.js";
import { isCtSopClass, isLocalizer } from "../dicom/sop-classes.js";
import { isInputRejected, reject } from "../errors.js";
import { dot } from "../geometry/affine.js";
import { hashUid } from "../privacy.js";
import {
  breakTie,
  compareRanked,
  isCtCandidate,
  orientationOfSlices,
  type RankedCandidate,
  rankCandidate,
  SAME_RECONSTRUCTION_SLICE_SHARE,
  sameReconstruction,
} from "./series-rules.js";
import { normalOf, orientationKey, type Slice, slicesOf } from "./slices.js";

export interface SeriesGroup {
  key: string;
  seriesUid: string | undefined;
  slices: Slice[];
  headers: DicomHeader[];
}

export function groupSeries(headers: DicomHeader[]): SeriesGroup[] {
  const groups: SeriesGroup[] = [];
  // Per series UID, matrix and localizer-ness, the orientations seen so far, each with its group. A localizer
  // is its own group even in the stack's plane and matrix (selection ranks a group by its first file, so
  // one scout slice among the axial ones was read into the volume).
  const byStack = new Map<string, Array<{ orientation: FrameInfo["orientation"]; group: SeriesGroup }>>();
  for (const h of headers) {
    for (const s of slicesOf(h)) {
      const uid = h.seriesInstanceUid ?? "no-series-uid";
      const localizer = isLocalizer(h.imageType);
      const stack = [uid, h.rows, h.columns, localizer].join("|");
      let seen = byStack.get(stack);
      if (!seen) {
        seen = [];
        byStack.set(stack, seen);
      }
      // Orientations are compared within a tolerance, not as rounded text: scanner jitter of 1e-4 (or 4e-8
      // across a rounding boundary) split one series in two, and the larger half was kept silently.
      let g = seen.find((o) => sameOrientation(o.orientation, s.info.orientation))?.group;
      if (!g) {
        g = {
          key: [uid, orientationKey(s.info), h.rows, h.columns, ...(localizer ? ["localizer"] : [])].join(
            "|",
          ),
          seriesUid: h.seriesInstanceUid,
          slices: [],
          headers: [],
        };
        seen.push({ orientation: s.info.orientation, group: g });
        groups.push(g);
      }
      g.slices.push(s);
      if (g.headers[g.headers.length - 1] !== h) g.headers.push(h);
    }
  }
  return groups;
}

/**
 * Direction cosines within this of each other are one orientation (about 0.06 degrees): far above scanner
 * jitter (1e-5 to 1e-4), far below any real change of plane (a localizer, another reconstruction).
 */
const ORIENTATION_TOLERANCE = 1e-3;

function sameOrientation(a: FrameInfo["orientation"], b: FrameInfo["orientation"]): boolean {
  if (!a || !b) return !a && !b;
  for (let i = 0; i < 6; i++) if (Math.abs(a[i]! - b[i]!) > ORIENTATION_TOLERANCE) return false;
  return true;
}

/**
 * Slices under the chosen series' UID, CT and not localizers, that lack an orientation, share its plane with
 * another matrix, or lie within STRAY_PLANE_DEG of its plane without sharing it, are part of the stack gone
 * wrong, not another reconstruction: ignored, they left it a slice short (at its end without a word, in its
 * middle as a SLICE_GAP that pointed at the wrong problem). Reformats in another plane under the same UID,
 * and localizers even in its plane, stay ignored.
 */
function rejectStraySlices(
  chosen: SeriesGroup,
  ranked: Array<{ group: SeriesGroup; ranked: RankedCandidate }>,
) {
  const reference = chosen.slices[0]!.info.orientation;
  for (const { group, ranked: r } of ranked) {
    if (group === chosen || group.seriesUid !== chosen.seriesUid) continue;
    if (!isCtSopClass(r.facts.sopClassUid) || isLocalizer(r.facts.imageType)) continue;
    const slice = group.slices[0]!;
    const file = { file: slice.header.file };
    if (!normalOf(slice.info))
      reject(
        "MISSING_GEOMETRY",
        `${group.slices.length} slice(s) of the series lack a valid ImageOrientationPatient; the volume's geometry cannot be known.`,
        file,
      );
    if (sameOrientation(slice.info.orientation, reference)) {
      const [a, b] = [chosen.headers[0]!, group.headers[0]!];
      reject(
        "INCONSISTENT_SERIES",
        `${group.slices.length} slice(s) of the series are ${b.columns}x${b.rows} pixels, the other ${chosen.slices.length} ${a.columns}x${a.rows}; upload the series as the scanner wrote it.`,
        file,
      );
    }
    const deg = turnDeg(reference, slice.info.orientation);
    if (deg !== undefined && deg < STRAY_PLANE_DEG)
      reject(
        "INCONSISTENT_SERIES",
        `${group.slices.length} slice(s) of the series are turned ${deg.toFixed(1)} degrees from the plane of the other ${chosen.slices.length}; upload the series as the scanner wrote it.`,
        file,
      );
  }
}

/** The header fields that say how a file's pixels are laid out; slices of one series must agree on them. */
type RankedGroup = { group: SeriesGroup; ranked: RankedCandidate };

/**
 * Among the series level with the first (as eligible, as many rules met, another series, within a slice or
 * two of its count at the same thickness: sameReconstruction), the one the tie-breaks prefer goes first.
 * Compared with the first only, so the choice does not depend on the input's order. Conservative: nothing
 * moves when the first ties another series exactly (judged after, as before), when the favourite is not the
 * only one of its kind (another level series the tie-breaks cannot tell from it), or when its stack would be
 * refused; so it never rejects what the order by slice count accepted. Returns why, when it moved one.
 */
function preferLevelReconstruction(ranked: RankedGroup[]): string | undefined {
  const first = ranked[0]!;
  const contender = (r: RankedGroup) =>
    r.ranked.eligible && r.ranked.score === first.ranked.score && r.group.seriesUid !== first.group.seriesUid;
  const second = ranked[1];
  if (second && contender(second) && second.group.slices.length === first.group.slices.length)
    return undefined;
  const level = ranked
    .slice(1)
    .filter((r) => contender(r) && sameReconstruction(first.ranked.facts, r.ranked.facts));
  let winner = first;
  let rule: string | undefined;
  for (const r of level) {
    const tie = breakTie(winner.ranked.facts, r.ranked.facts);
    if (tie !== undefined && tie.order > 0) {
      winner = r;
      rule = tie.rule.describe;
    }
  }
  if (winner === first) return undefined;
  if (level.some((r) => r !== winner && breakTie(winner.ranked.facts, r.ranked.facts) === undefined))
    return undefined;
  try {
    rejectStraySlices(winner.group, ranked);
  } catch (e) {
    if (isInputRejected(e)) return undefined;
    throw e;
  }
  ranked.splice(ranked.indexOf(winner), 1);
  ranked.unshift(winner);
  return `preferred to a level series with ${first.group.slices.length} slices (within ${SAME_RECONSTRUCTION_SLICE_SHARE * 100} %, the same thickness) as ${rule}`;
}

/** The larger angle between two orientations' row directions and column directions, degrees. */
function turnDeg(a: FrameInfo["orientation"], b: FrameInfo["orientation"]): number | undefined {
  if (!a || !b) return undefined;
  const angle = (u: number[], v: number[]) => {
    const c = dot(u as Vec3, v as Vec3) / (Math.hypot(...u) * Math.hypot(...v));
    return (Math.acos(Math.max(-1, Math.min(1, c))) * 180) / Math.PI;
  };
  return Math.max(angle(a.slice(0, 3), b.slice(0, 3)), angle(a.slice(3, 6), b.slice(3, 6)));
}

/** Slices of one series turned less than this from its plane are strays of the stack (rejectStraySlices). */
const STRAY_PLANE_DEG = 20;

export interface Selection {
  chosen: SeriesGroup;
  chosenBecause: string[];
  runnersUp: SeriesCandidate[];
  warnings: Warning[];
}

function candidateOf(
  group: SeriesGroup,
  ranked: RankedCandidate,
  uidSalt: string | undefined,
): SeriesCandidate {
  const h = group.headers[0]!;
  const c: SeriesCandidate = {
    seriesKey: hashUid(group.key, uidSalt),
    slices: group.slices.length,
    imageType: h.imageType,
    orientation: ranked.facts.orientation,
    score: ranked.eligible ? ranked.score : -1,
    notes: ranked.eligible ? ranked.passed : ranked.failed.map((f) => `fails: ${f}`),
  };
  if (h.modality !== undefined) c.modality = h.modality;
  if (h.seriesNumber !== undefined) c.seriesNumber = h.seriesNumber;
  return c;
}

/**
 * Rank every group with SERIES_RULES (then SERIES_TIE_BREAKS) and return the winner, or reject:
 * no CT at all → NOT_CT; CT but only localizers / no image → NO_CT_SERIES; qualifying CT series from more
 * than one study (an export that mixes studies, possibly patients) → INCONSISTENT_SERIES; two series tied
 * at the top that no tie-break tells apart → INCONSISTENT_SERIES (we will not guess which one was meant).
 * `uidSalt`: salt of the hashed series keys (default: DEEPSC_UID_SALT or the local default, core/privacy.ts).
 */
export function selectSeries(groups: SeriesGroup[], uidSalt?: string): Selection {
  if (groups.length === 0) reject("EMPTY_INPUT", "No DICOM image was found in the input.");
  const ranked = groups.map((g) => {
    const h = g.headers[0]!;
    return {
      group: g,
      ranked: rankCandidate({
        modality: h.modality,
        sopClassUid: h.sopClassUid,
        imageType: h.imageType,
        slices: g.slices,
        orientation: orientationOfSlices(g.slices),
        hasPixelData: g.headers.every((x) => x.pixelData !== undefined),
        seriesNumber: h.seriesNumber,
        seriesDescription: h.seriesDescription,
        convolutionKernel: h.convolutionKernel,
        sliceThickness: g.slices[0]?.info.sliceThickness,
      }),
    };
  });
  // Rules, then tie-breaks, then the group key: the same input always gives the same order.
  ranked.sort(
    (a, b) =>
      compareRanked(a.ranked, b.ranked) ||
      (breakTie(a.ranked.facts, b.ranked.facts)?.order ?? 0) ||
      (a.group.key < b.group.key ? -1 : a.group.key > b.group.key ? 1 : 0),
  );
  let best = ranked[0]!;
  if (!best.ranked.eligible) {
    const anyCt = ranked.some(
      (r) => r.ranked.facts.modality === "CT" || isCtSopClass(r.ranked.facts.sopClassUid),
    );
    if (!anyCt) {
      const modalities = [...new Set(ranked.map((r) => r.ranked.facts.modality ?? "none"))].join(", ");
      reject(
        "NOT_CT",
        `No CT image in the input (modality ${modalities}); DeepSC-COVID analyses chest CT only.`,
      );
    }
    const ctWithoutPixels = ranked.find(
      (r) =>
        isCtCandidate(r.ranked.facts) &&
        !r.ranked.facts.hasPixelData &&
        !isLocalizer(r.ranked.facts.imageType),
    );
    if (ctWithoutPixels)
      reject(
        "MISSING_PIXEL_DATA",
        "The CT series has no Pixel Data; upload the image files, not only their headers.",
        { file: ctWithoutPixels.group.headers[0]!.file },
      );
    reject(
      "NO_CT_SERIES",
      `No CT series qualifies: ${best.ranked.failed.join(", ")}. Upload the axial CT series, not only scouts or derived objects.`,
    );
  }
  const studies = new Set(
    ranked
      .filter((r) => r.ranked.eligible)
      .flatMap((r) => r.group.headers.map((x) => x.studyInstanceUid))
      .filter((uid) => uid !== undefined),
  );
  if (studies.size > 1)
    reject(
      "INCONSISTENT_SERIES",
      `The input holds CT series of ${studies.size} different studies; upload the series of one study at a time.`,
    );
  let tieBrokenBy = preferLevelReconstruction(ranked);
  if (tieBrokenBy !== undefined) best = ranked[0]!;
  rejectStraySlices(best.group, ranked);
  const second = ranked[1];
  if (
    second?.ranked.eligible &&
    second.group.seriesUid !== best.group.seriesUid &&
    compareRanked(best.ranked, second.ranked) === 0
  ) {
    const tie = breakTie(best.ranked.facts, second.ranked.facts);
    if (!tie)
      reject(
        "INCONSISTENT_SERIES",
        `Two CT series qualify equally (${best.group.slices.length} and ${second.group.slices.length} slices) and neither kernel, slice thickness nor series number tells them apart; upload one series per study.`,
      );
    tieBrokenBy = `preferred to an equally ranked series (${second.group.slices.length} slices) as ${tie.rule.describe}`;
  }
  const warnings: Warning[] = [];
  const h = best.group.headers[0]!;
  if (ranked.length > 1) {
    // Stacks, not series: a series splits by orientation and acquisition (a two-view topogram is two).
    const seriesCount = new Set(ranked.map((r) => r.group.seriesUid)).size;
    const held =
      seriesCount === ranked.length
        ? `${ranked.length} series`
        : `${ranked.length} image stacks (${seriesCount} series, split by orientation and acquisition)`;
    const which = h.seriesNumber !== undefined ? `series ${h.seriesNumber}` : "the best CT series";
    const runnerUp = ranked[1]!.ranked;
    const why =
      tieBrokenBy ??
      (runnerUp.eligible && runnerUp.score === best.ranked.score
        ? `ranked first by slice count (${best.group.slices.length})`
        : "ranked first by the selection rules");
    warnings.push({
      code: "OTHER_SERIES_IGNORED",
      message: `The input held ${held}; ${which} (${best.group.slices.length} slices) was chosen, ${why}, and ${ranked.length - 1} ignored.`,
    });
  }
  if (h.modality === undefined) {
    warnings.push({
      code: "MODALITY_INFERRED",
      message: "The Modality tag is missing; the CT Image Storage SOP class was taken to mean CT.",
    });
  }
  return {
    chosen: best.group,
    chosenBecause: best.ranked.passed.concat(
      ranked.length > 1
        ? `ranked first of ${ranked.length} series by these rules, then by slice count (${best.group.slices.length})`
        : `the only series (${best.group.slices.length} slices)`,
      tieBrokenBy ?? [],
    ),
    runnersUp: ranked.slice(1, 6).map((r) => candidateOf(r.group, r.ranked, uidSalt)),
    warnings,
  };
}
