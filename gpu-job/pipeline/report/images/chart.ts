/**
 * Chart of finding 4: the scan's share of lesion volume within 7/14/21/28/35 mm of the pleura against the
 * COVID-19 and CAP reference curves (DESIGN.md §4), drawn into a raster. Every curve starts at (0 mm, 0):
 * no volume lies within zero depth. Without lesions the scan curve is absent and the chart says so. The
 * legend lies below the plot: any corner of the plot may hold a curve (a COVID-like scan's runs through
 * the upper left, where the legend once hid it).
 */
import { REFERENCE_PERIPHERAL_CURVES, SHELL_DEPTHS_MM } from "../../../../core/contracts/findings.js";
import { drawText, GLYPH_HEIGHT, textWidth } from "./font.js";
import { createRaster, drawLine, fillDisc, type LineStyle, type Raster, type Rgb } from "./raster.js";

export const CHART_SIZE = { width: 720, height: 490 } as const;
export const SCAN_COLOUR: Rgb = [31, 119, 180];
export const COVID_COLOUR: Rgb = [214, 39, 40];
export const CAP_COLOUR: Rgb = [44, 160, 44];
const AXIS: Rgb = [40, 40, 40];
const GRID: Rgb = [225, 225, 225];
const LEGEND_MARGIN = 10;

/** Scan shares per shell depth (SHELL_DEPTHS_MM order); null entries (no lesions) are not drawn. */
export function renderPeripheralChart(scanShares: readonly (number | null)[]): Raster {
  const { width, height } = CHART_SIZE;
  const r = createRaster(width, height, [255, 255, 255]);
  const plot = { x0: 90, y0: 50, x1: 690, y1: 370 };
  const maxMm = SHELL_DEPTHS_MM[SHELL_DEPTHS_MM.length - 1]!;
  const px = (mm: number) => plot.x0 + ((plot.x1 - plot.x0) * mm) / maxMm;
  const py = (share: number) => plot.y1 - (plot.y1 - plot.y0) * share;
  const s = 2;
  const gh = GLYPH_HEIGHT * s;

  const title = "PERIPHERAL DISTRIBUTION OF LESION VOLUME";
  drawText(r, title, (width - textWidth(title, s)) / 2, 14, AXIS, s);

  for (let t = 0; t <= 5; t++) {
    const share = t / 5;
    drawLine(r, plot.x0, py(share), plot.x1, py(share), GRID);
    const label = share.toFixed(1);
    drawText(r, label, plot.x0 - 10 - textWidth(label, s), py(share) - gh / 2, AXIS, s);
  }
  for (const mm of [0, ...SHELL_DEPTHS_MM]) {
    drawLine(r, px(mm), plot.y0, px(mm), plot.y1, GRID);
    const label = String(mm);
    drawText(r, label, px(mm) - textWidth(label, s) / 2, plot.y1 + 10, AXIS, s);
  }
  drawLine(r, plot.x0, plot.y0, plot.x0, plot.y1, AXIS, { width: 2 });
  drawLine(r, plot.x0, plot.y1, plot.x1, plot.y1, AXIS, { width: 2 });
  const xTitle = "DEPTH UNDER THE PLEURA (MM)";
  drawText(r, xTitle, (plot.x0 + plot.x1 - textWidth(xTitle, s)) / 2, plot.y1 + 36, AXIS, s);
  drawText(r, "SHARE", 8, plot.y0 - gh - 8, AXIS, s);

  const curve = (shares: readonly (number | null)[], c: Rgb, style: LineStyle, marker: number) => {
    const pts: [number, number][] = [[px(0), py(0)]];
    shares.forEach((v, t) => {
      if (v !== null && v !== undefined) pts.push([px(SHELL_DEPTHS_MM[t]!), py(v)]);
    });
    for (let t = 1; t < pts.length; t++)
      drawLine(r, pts[t - 1]![0], pts[t - 1]![1], pts[t]![0], pts[t]![1], c, style);
    for (const [x, y] of pts.slice(1)) fillDisc(r, x, y, marker, c);
  };
  curve(REFERENCE_PERIPHERAL_CURVES.cap, CAP_COLOUR, { width: 2, dash: [10, 6] }, 3);
  curve(REFERENCE_PERIPHERAL_CURVES.covid19, COVID_COLOUR, { width: 2, dash: [10, 6] }, 3);
  const hasScan = scanShares.some((v) => v !== null);
  if (hasScan) curve(scanShares, SCAN_COLOUR, { width: 4 }, 5);

  // Legend below the axis title, outside the plot: entries left to right, centred, wrapped to a second
  // row when they do not fit in one.
  const entries: [string, Rgb, LineStyle | undefined][] = [
    hasScan ? ["THIS SCAN", SCAN_COLOUR, { width: 4 }] : ["THIS SCAN: NO LESIONS", SCAN_COLOUR, undefined],
    ["COVID-19 REFERENCE", COVID_COLOUR, { width: 2, dash: [10, 6] }],
    ["CAP REFERENCE", CAP_COLOUR, { width: 2, dash: [10, 6] }],
  ];
  const swatch = 40;
  const gap = 30;
  const entryWidth = ([label, , style]: (typeof entries)[number]) =>
    (style ? swatch + 12 : 0) + textWidth(label, s);
  const rows: (typeof entries)[] = [[]];
  let used = 0;
  for (const e of entries) {
    const w = entryWidth(e);
    const row = rows[rows.length - 1]!;
    if (row.length > 0 && used + gap + w > width - 2 * LEGEND_MARGIN) {
      rows.push([e]);
      used = w;
    } else {
      used += (row.length > 0 ? gap : 0) + w;
      row.push(e);
    }
  }
  let ly = plot.y1 + 36 + gh + 18;
  for (const row of rows) {
    const total = row.reduce((t, e, n) => t + entryWidth(e) + (n > 0 ? gap : 0), 0);
    let lx = (width - total) / 2;
    for (const e of row) {
      const [label, c, style] = e;
      if (style) drawLine(r, lx, ly + gh / 2, lx + swatch, ly + gh / 2, c, style);
      drawText(r, label, lx + (style ? swatch + 12 : 0), ly, AXIS, s);
      lx += entryWidth(e) + gap;
    }
    ly += gh + 12;
  }
  return r;
}
