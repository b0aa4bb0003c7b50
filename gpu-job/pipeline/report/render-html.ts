/**
 * report.html: one self-contained file. The key images are embedded as data: URIs rather than linked
 * from images/, because each result file is downloaded through its own presigned URL and a relative link
 * would not resolve (nor carry a signature). Every text is HTML-escaped; no script, no external resource.
 */
import type { Block, Figure, ReportDocument } from "./report-content.js";

const escapeHtml = (s: string): string =>
  s
    .replace(/&/g, "&amp;")
    .replace(/</g, "&lt;")
    .replace(/>/g, "&gt;")
    .replace(/"/g, "&quot;")
    .replace(/'/g, "&#39;");

const STYLE = `
body{font-family:Helvetica,Arial,sans-serif;color:#222;max-width:980px;margin:24px auto;padding:0 16px;line-height:1.4}
h1{font-size:24px;margin:0 0 12px}
h2{font-size:18px;margin:28px 0 8px;border-bottom:1px solid #ccc;padding-bottom:4px}
.disclaimer{border:2px solid #b00020;background:#fdecee;color:#7a0014;padding:10px 14px;font-weight:bold;margin:12px 0}
.disclaimer.quiet{border-color:#999;background:#f4f4f4;color:#333;font-weight:normal}
table{border-collapse:collapse;margin:8px 0}
th,td{border:1px solid #ccc;padding:4px 8px;vertical-align:top}
th{background:#f0f3f6;text-align:left}
td.r{text-align:right;font-variant-numeric:tabular-nums}
table.facts th{width:300px;background:#fafafa;font-weight:normal}
p.note,.tnote{color:#555;font-size:13px}
.figures{display:flex;flex-wrap:wrap;gap:16px}
figure{margin:0;max-width:100%}
figure img{max-width:100%;height:auto;border:1px solid #ddd;display:block}
figcaption{font-size:13px;color:#444;max-width:520px}
footer{margin:32px 0 8px;font-size:12px;color:#666;border-top:1px solid #ccc;padding-top:8px}
`;

export function renderHtml(doc: ReportDocument, images: ReadonlyMap<string, Uint8Array>): string {
  const parts = [
    "<!DOCTYPE html>",
    '<html lang="en"><head><meta charset="utf-8">',
    '<meta name="viewport" content="width=device-width, initial-scale=1">',
    `<title>${escapeHtml(doc.title)}</title>`,
    `<style>${STYLE}</style></head><body>`,
    `<h1>${escapeHtml(doc.title)}</h1>`,
    `<div class="disclaimer${doc.disclaimer.prominent ? "" : " quiet"}" role="note">${escapeHtml(doc.disclaimer.text)}</div>`,
    ...doc.blocks.map((b) => block(b, images)),
    `<footer>${escapeHtml(doc.footer)}</footer>`,
    "</body></html>",
    "",
  ];
  return parts.join("\n");
}

function block(b: Block, images: ReadonlyMap<string, Uint8Array>): string {
  switch (b.kind) {
    case "heading":
      return `<h2>${escapeHtml(b.text)}</h2>`;
    case "paragraph":
      return `<p${b.tone === "note" ? ' class="note"' : ""}>${escapeHtml(b.text)}</p>`;
    case "facts":
      return `<table class="facts">${b.rows.map(([k, v]) => `<tr><th scope="row">${escapeHtml(k)}</th><td>${escapeHtml(v)}</td></tr>`).join("")}</table>`;
    case "table": {
      const head = `<tr>${b.header.map((h) => `<th scope="col">${escapeHtml(h)}</th>`).join("")}</tr>`;
      const rows = b.rows
        .map(
          (r) =>
            `<tr>${r.map((c, i) => `<td${b.align[i] === "right" ? ' class="r"' : ""}>${escapeHtml(c)}</td>`).join("")}</tr>`,
        )
        .join("");
      return `<table>${head}${rows}</table>${b.note ? `<p class="tnote">${escapeHtml(b.note)}</p>` : ""}`;
    }
    case "figures":
      return `<div class="figures">${b.figures.map((f) => figure(f, images.get(f.file))).join("")}</div>`;
  }
}

function figure(f: Figure, png: Uint8Array | undefined): string {
  if (!png) throw new Error(`internal: figure ${f.file} has no image`);
  const src = `data:image/png;base64,${Buffer.from(png.buffer, png.byteOffset, png.byteLength).toString("base64")}`;
  return `<figure><img src="${src}" width="${f.width}" height="${f.height}" alt="${escapeHtml(f.title)}"><figcaption><strong>${escapeHtml(f.title)}.</strong> ${escapeHtml(f.caption)}</figcaption></figure>`;
}
