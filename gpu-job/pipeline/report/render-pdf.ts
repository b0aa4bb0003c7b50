/**
 * report.pdf with pdf-lib and the standard 14 fonts (Helvetica; nothing to download or embed). A small
 * flowing layout: A4 pages, headings kept with what follows, wrapped paragraphs, tables that repeat their
 * header across pages, rows of figures with captions, and a footer with page numbers on every page. The
 * disclaimer opens page 1, in a red box when the model was trained on synthetic data.
 *
 * Standard fonts encode WinAnsi (cp1252) only: text is mapped to it first (winAnsi), so an unexpected
 * character becomes "?" instead of failing the report.
 */
import { PDFDocument, type PDFFont, type PDFPage, rgb, StandardFonts } from "pdf-lib";
import { embedPngImage, type PdfImage } from "./pdf-image.js";
import type { Align, Block, Figure, ReportDocument } from "./report-content.js";

const PAGE = { width: 595.28, height: 841.89 } as const;
const MARGIN = 48;
const FOOTER_SPACE = 28;
const CONTENT_WIDTH = PAGE.width - 2 * MARGIN;
const BODY = 9.5;
const SMALL = 7.5;
const LINE = 1.3;
const INK = rgb(0.13, 0.13, 0.13);
const MUTED = rgb(0.33, 0.33, 0.33);
const RULE = rgb(0.8, 0.8, 0.8);
const HEADER_FILL = rgb(0.94, 0.95, 0.97);
const ALERT = rgb(0.69, 0, 0.13);

/** Characters of cp1252 beyond Latin-1 that the standard fonts can show. */
const CP1252_EXTRA = new Set("€‚ƒ„…†‡ˆ‰Š‹ŒŽ‘’“”•–—˜™š›œžŸ");
const REPLACEMENTS: Record<string, string> = {
  "≥": ">=",
  "≤": "<=",
  "−": "-",
  "→": "->",
  "≈": "~",
  "\t": " ",
};

/** Text the standard fonts can encode: known look-alikes substituted, anything else as "?". */
export function winAnsi(s: string): string {
  let out = "";
  for (const ch of s) {
    const c = ch.codePointAt(0)!;
    if ((c >= 0x20 && c <= 0x7e) || (c >= 0xa0 && c <= 0xff) || CP1252_EXTRA.has(ch)) out += ch;
    else if (ch === "\n") out += " ";
    else out += REPLACEMENTS[ch] ?? "?";
  }
  return out;
}

interface Ctx {
  doc: PDFDocument;
  regular: PDFFont;
  bold: PDFFont;
  page: PDFPage;
  y: number;
  images: ReadonlyMap<string, PdfImage>;
}

export interface PdfOptions {
  /** Creation and modification date written into the PDF's info dictionary. */
  now: Date;
}

export async function renderPdf(
  report: ReportDocument,
  pngs: ReadonlyMap<string, Uint8Array>,
  options: PdfOptions,
): Promise<Uint8Array> {
  const doc = await PDFDocument.create();
  doc.setTitle(winAnsi(report.title));
  doc.setAuthor("DeepSC-COVID");
  doc.setCreator("deepsc-covid");
  doc.setProducer("deepsc-covid (pdf-lib)");
  doc.setCreationDate(options.now);
  doc.setModificationDate(options.now);
  const regular = await doc.embedFont(StandardFonts.Helvetica);
  const bold = await doc.embedFont(StandardFonts.HelveticaBold);
  const images = new Map<string, PdfImage>();
  for (const [file, bytes] of pngs) images.set(file, await embedPngImage(doc, bytes));

  const page = doc.addPage([PAGE.width, PAGE.height]);
  const ctx: Ctx = { doc, regular, bold, page, y: PAGE.height - MARGIN, images };
  text(ctx, report.title, { font: bold, size: 18 });
  ctx.y -= 6;
  disclaimer(ctx, report.disclaimer);
  report.blocks.forEach((b, n) => {
    block(ctx, b, report.blocks[n + 1]);
  });
  footers(ctx, report);
  return doc.save({ useObjectStreams: false });
}

function newPage(ctx: Ctx): void {
  ctx.page = ctx.doc.addPage([PAGE.width, PAGE.height]);
  ctx.y = PAGE.height - MARGIN;
}

/** Start a new page unless `height` points still fit above the footer. */
function ensure(ctx: Ctx, height: number): void {
  if (ctx.y - height < MARGIN + FOOTER_SPACE) newPage(ctx);
}

export function wrap(s: string, font: PDFFont, size: number, width: number): string[] {
  const words = winAnsi(s).split(/ +/);
  const lines: string[] = [];
  let line = "";
  const fits = (t: string) => font.widthOfTextAtSize(t, size) <= width;
  for (let word of words) {
    // A word wider than the column is cut where it fits (long hashes, file names).
    while (!fits(word) && word.length > 1) {
      let cut = word.length - 1;
      while (cut > 1 && !fits(word.slice(0, cut))) cut--;
      if (line) lines.push(line);
      lines.push(word.slice(0, cut));
      line = "";
      word = word.slice(cut);
    }
    const candidate = line ? `${line} ${word}` : word;
    if (fits(candidate)) line = candidate;
    else {
      if (line) lines.push(line);
      line = word;
    }
  }
  if (line || lines.length === 0) lines.push(line);
  return lines;
}

function text(
  ctx: Ctx,
  s: string,
  o: { font?: PDFFont; size?: number; color?: ReturnType<typeof rgb>; width?: number; x?: number } = {},
): void {
  const font = o.font ?? ctx.regular;
  const size = o.size ?? BODY;
  for (const line of wrap(s, font, size, o.width ?? CONTENT_WIDTH)) {
    ensure(ctx, size * LINE);
    ctx.y -= size * LINE;
    ctx.page.drawText(line, { x: o.x ?? MARGIN, y: ctx.y + size * 0.25, size, font, color: o.color ?? INK });
  }
}

function disclaimer(ctx: Ctx, d: ReportDocument["disclaimer"]): void {
  const size = d.prominent ? 11 : BODY;
  const font = d.prominent ? ctx.bold : ctx.regular;
  const pad = 8;
  const lines = wrap(d.text, font, size, CONTENT_WIDTH - 2 * pad);
  const height = lines.length * size * LINE + 2 * pad;
  ensure(ctx, height + 8);
  ctx.page.drawRectangle({
    x: MARGIN,
    y: ctx.y - height,
    width: CONTENT_WIDTH,
    height,
    color: d.prominent ? ALERT : HEADER_FILL,
    borderColor: d.prominent ? ALERT : RULE,
    borderWidth: 1,
  });
  let y = ctx.y - pad;
  for (const line of lines) {
    y -= size * LINE;
    ctx.page.drawText(line, {
      x: MARGIN + pad,
      y: y + size * 0.25,
      size,
      font,
      color: d.prominent ? rgb(1, 1, 1) : INK,
    });
  }
  ctx.y -= height + 8;
}

function block(ctx: Ctx, b: Block, next: Block | undefined): void {
  switch (b.kind) {
    case "heading":
      // Keep a heading with at least a few lines of what follows, or with the whole row of figures that
      // follows it (a row never splits, so a heading above it alone would be left at the page's foot).
      ensure(ctx, next?.kind === "figures" ? 40 + figureRowHeight(ctx, next.figures) + 8 : 70);
      ctx.y -= 10;
      text(ctx, b.text, { font: ctx.bold, size: 13 });
      ctx.page.drawLine({
        start: { x: MARGIN, y: ctx.y - 2 },
        end: { x: MARGIN + CONTENT_WIDTH, y: ctx.y - 2 },
        thickness: 0.5,
        color: RULE,
      });
      ctx.y -= 6;
      return;
    case "paragraph":
      text(ctx, b.text, b.tone === "note" ? { size: 8.5, color: MUTED } : {});
      ctx.y -= 4;
      return;
    case "facts":
      table(ctx, null, b.rows, ["left", "left"], [185, CONTENT_WIDTH - 185]);
      return;
    case "table":
      table(ctx, b.header, b.rows, b.align);
      if (b.note) text(ctx, b.note, { size: SMALL, color: MUTED });
      ctx.y -= 4;
      return;
    case "figures":
      figures(ctx, b.figures);
      return;
  }
}

const CELL_PAD = 4;

function table(
  ctx: Ctx,
  header: string[] | null,
  rows: string[][],
  align: Align[],
  fixedWidths?: number[],
): void {
  const cols = Math.max(header?.length ?? 0, ...rows.map((r) => r.length));
  const widths = fixedWidths ?? columnWidths(ctx, header, rows, cols);
  const lineH = BODY * LINE;
  const draw = (cells: string[], font: PDFFont, fill: boolean) => {
    const wrapped = cells.map((c, i) => wrap(c, font, BODY, widths[i]! - 2 * CELL_PAD));
    const height = Math.max(...wrapped.map((w) => w.length)) * lineH + 2 * CELL_PAD;
    return { wrapped, height, font, fill };
  };
  const head = header ? draw(header, ctx.bold, true) : null;
  const emit = (row: ReturnType<typeof draw>) => {
    let x = MARGIN;
    const top = ctx.y;
    if (row.fill)
      ctx.page.drawRectangle({
        x,
        y: top - row.height,
        width: sum(widths),
        height: row.height,
        color: HEADER_FILL,
      });
    row.wrapped.forEach((lines, i) => {
      const w = widths[i]!;
      lines.forEach((line, l) => {
        const tw = row.font.widthOfTextAtSize(line, BODY);
        const tx = align[i] === "right" && !row.fill ? x + w - CELL_PAD - tw : x + CELL_PAD;
        ctx.page.drawText(line, {
          x: tx,
          y: top - CELL_PAD - (l + 1) * lineH + BODY * 0.3,
          size: BODY,
          font: row.font,
          color: INK,
        });
      });
      x += w;
    });
    ctx.page.drawLine({
      start: { x: MARGIN, y: top - row.height },
      end: { x: MARGIN + sum(widths), y: top - row.height },
      thickness: 0.5,
      color: RULE,
    });
    ctx.y -= row.height;
  };
  const first = rows[0] ? draw(rows[0], ctx.regular, false) : null;
  ensure(ctx, (head?.height ?? 0) + (first?.height ?? 0));
  if (head) emit(head);
  for (const r of rows) {
    const row = draw(r, ctx.regular, false);
    if (ctx.y - row.height < MARGIN + FOOTER_SPACE) {
      newPage(ctx);
      if (head) emit(head);
    }
    emit(row);
  }
  ctx.y -= 6;
}

const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0);

/** Natural widths (longest cell per column), shrunk proportionally to the page when too wide. */
function columnWidths(ctx: Ctx, header: string[] | null, rows: string[][], cols: number): number[] {
  const widths = Array.from({ length: cols }, (_, i) => {
    const cells = rows.map((r) => ctx.regular.widthOfTextAtSize(winAnsi(r[i] ?? ""), BODY));
    const h = header ? ctx.bold.widthOfTextAtSize(winAnsi(header[i] ?? ""), BODY) : 0;
    return Math.max(h, ...cells, 8) + 2 * CELL_PAD + 6;
  });
  const total = sum(widths);
  return total <= CONTENT_WIDTH ? widths : widths.map((w) => (w * CONTENT_WIDTH) / total);
}

/** Display width of a figure on the page: axial images three across, the others narrower than the page. */
function figureWidth(f: Figure, count: number): number {
  if (count > 1) return (CONTENT_WIDTH - (count - 1) * 12) / count;
  return Math.min(CONTENT_WIDTH, f.width >= f.height * 1.4 ? 430 : 300);
}

function figureLayout(ctx: Ctx, list: Figure[]) {
  const layout = list.map((f) => {
    const w = figureWidth(f, list.length);
    const h = (w * f.height) / f.width;
    const caption = wrap(`${f.title}. ${f.caption}`, ctx.regular, SMALL, w);
    return { f, w, h, caption };
  });
  const height = Math.max(...layout.map((l) => l.h + 4 + l.caption.length * SMALL * LINE));
  return { layout, height };
}

const figureRowHeight = (ctx: Ctx, list: Figure[]): number => figureLayout(ctx, list).height;

function figures(ctx: Ctx, list: Figure[]): void {
  const gap = 12;
  const { layout, height } = figureLayout(ctx, list);
  ensure(ctx, height + 8);
  let x = MARGIN;
  for (const l of layout) {
    const image = ctx.images.get(l.f.file);
    if (!image) throw new Error(`internal: figure ${l.f.file} has no image`);
    image.draw(ctx.page, x, ctx.y - l.h, l.w, l.h);
    let y = ctx.y - l.h - 4;
    for (const line of l.caption) {
      y -= SMALL * LINE;
      ctx.page.drawText(line, { x, y: y + SMALL * 0.25, size: SMALL, font: ctx.regular, color: MUTED });
    }
    x += l.w + gap;
  }
  ctx.y -= height + 10;
}

function footers(ctx: Ctx, report: ReportDocument): void {
  const pages = ctx.doc.getPages();
  pages.forEach((page, n) => {
    const label = `Page ${n + 1} of ${pages.length}`;
    const footer = wrap(report.footer, ctx.regular, SMALL, CONTENT_WIDTH - 70)[0] ?? "";
    page.drawLine({
      start: { x: MARGIN, y: MARGIN + 12 },
      end: { x: PAGE.width - MARGIN, y: MARGIN + 12 },
      thickness: 0.5,
      color: RULE,
    });
    page.drawText(footer, {
      x: MARGIN,
      y: MARGIN,
      size: SMALL,
      font: ctx.regular,
      color: report.disclaimer.prominent ? ALERT : MUTED,
    });
    const w = ctx.regular.widthOfTextAtSize(label, SMALL);
    page.drawText(label, {
      x: PAGE.width - MARGIN - w,
      y: MARGIN,
      size: SMALL,
      font: ctx.regular,
      color: MUTED,
    });
  });
}
