/**
 * A slice is one frame of one DICOM file with its resolved geometry. Classic CT files carry one frame;
 * enhanced multi-frame CT carries many, each becoming a slice here so every later stage sees one model.
 */
import type { Vec3 } from "../contracts/volume.js";
import type { DicomHeader, FrameInfo } from "../dicom/header.js";

export interface Slice {
  header: DicomHeader;
  frame: number;
  info: FrameInfo;
}

export function slicesOf(header: DicomHeader): Slice[] {
  return header.frames.map((info, frame) => ({ header, frame, info }));
}

/** Slice normal (row direction x column direction), or undefined without orientation. */
export function normalOf(info: FrameInfo): Vec3 | undefined {
  const o = info.orientation;
  if (!o) return undefined;
  const n: Vec3 = [o[1] * o[5] - o[2] * o[4], o[2] * o[3] - o[0] * o[5], o[0] * o[4] - o[1] * o[3]];
  const len = Math.hypot(n[0], n[1], n[2]);
  return len > 1e-6 ? [n[0] / len, n[1] / len, n[2] / len] : undefined;
}

/** Text key of an orientation (rounded), naming a series group; groups are formed by select-series.ts sameOrientation. */
export function orientationKey(info: FrameInfo): string {
  return info.orientation ? info.orientation.map((v) => v.toFixed(3)).join(",") : "none";
}
