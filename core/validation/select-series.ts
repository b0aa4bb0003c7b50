/**
 * Group parsed DICOM headers into series and choose the one to analyse. Slices group by
 * SeriesInstanceUID, orientation and matrix size (one UID can hold a localizer and an axial stack, or
 * differently sized reconstructions); acquisitions stay together so repeated positions can later be
 * resolved to the latest acquisition.
 */
import type { SeriesCandidate, Warning } from "../contracts/validation-report.js";
import type { DicomHeader } from "../dicom/header.js";
import { isCtSopClass, isLocalizer } from "../dicom/sop-classes.js";
import { reject } from "../errors.js";
import { hashUid } from "../privacy.js";
import {
  compareRanked,
  isCtCandidate,
  orientationOfSlices,
  type RankedCandidate,
  rankCandidate,
} from "./series-rules.js";
import { orientationKey, type Slice, slicesOf } from "./slices.js";

export interface SeriesGroup {
  key: string;
  seriesUid: string | undefined;
  slices: Slice[];
  headers: DicomHeader[];
}

export function groupSeries(headers: DicomHeader[]): SeriesGroup[] {
  const groups = new Map<string, SeriesGroup>();
  for (const h of headers) {
    for (const s of slicesOf(h)) {
      const key = [h.seriesInstanceUid ?? "no-series-uid", orientationKey(s.info), h.rows, h.columns].join(
        "|",
      );
      let g = groups.get(key);
      if (!g) {
        g = { key, seriesUid: h.seriesInstanceUid, slices: [], headers: [] };
        groups.set(key, g);
      }
      g.slices.push(s);
      if (g.headers[g.headers.length - 1] !== h) g.headers.push(h);
    }
  }
  return [...groups.values()];
}

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
  if (h.seriesDescription !== undefined) c.description = h.seriesDescription;
  return c;
}

/**
 * Rank every group with SERIES_RULES and return the winner, or reject:
 * no CT at all → NOT_CT; CT but only localizers / no image → NO_CT_SERIES; two different series tied at
 * the top → INCONSISTENT_SERIES (we will not guess which reconstruction the sender meant).
 */
/** `uidSalt`: salt of the hashed series keys (default: DEEPSC_UID_SALT or the local default, core/privacy.ts). */
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
      }),
    };
  });
  ranked.sort((a, b) => compareRanked(a.ranked, b.ranked));
  const best = ranked[0]!;
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
  const second = ranked[1];
  if (
    second?.ranked.eligible &&
    second.group.seriesUid !== best.group.seriesUid &&
    compareRanked(best.ranked, second.ranked) === 0
  ) {
    reject(
      "INCONSISTENT_SERIES",
      `Two CT series qualify equally (${best.group.slices.length} slices each); upload one series per study.`,
    );
  }
  const warnings: Warning[] = [];
  if (ranked.length > 1) {
    warnings.push({
      code: "OTHER_SERIES_IGNORED",
      message: `The input held ${ranked.length} series; the best CT series (${best.group.slices.length} slices) was chosen and ${ranked.length - 1} ignored.`,
    });
  }
  const h = best.group.headers[0]!;
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
    ),
    runnersUp: ranked.slice(1, 6).map((r) => candidateOf(r.group, r.ranked, uidSalt)),
    warnings,
  };
}
