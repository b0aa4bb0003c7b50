/**
 * segmentLungs on phantoms with known lungs (axial, descending, oblique, cut by the field of view, with
 * consolidation), on touching synthetic lungs, and on failure inputs. Real CT is in
 * segment-lungs-real.test.ts.
 */
import { describe, expect, it } from "vitest";
import type { Geometry, Vec3, Volume } from "../../../../core/contracts/volume.js";
import { voxelToLps } from "../../../../core/geometry/affine.js";
import { AIRWAY } from "../../../../core/phantom/anatomy.js";
import type { RenderedPhantom } from "../../../../core/phantom/generate.js";
import { outOfViewMask } from "../../../../gpu-job/pipeline/lungs/field-of-view.js";
import { floodFromBorder } from "../../../../gpu-job/pipeline/lungs/plane-flood.js";
import { segmentLungs } from "../../../../gpu-job/pipeline/lungs/segment-lungs.js";
import { LUNG_LABEL, LUNG_ZONE } from "../../../../gpu-job/pipeline/lungs/types.js";
import { VoxelQueue } from "../../../../gpu-job/pipeline/lungs/voxel-queue.js";
import { assignZones } from "../../../../gpu-job/pipeline/lungs/zones.js";
import { dice, type GridOptions, renderSmall, SMALL_GRID } from "./phantom-fixture.js";

const { right: RIGHT, left: LEFT } = LUNG_LABEL;

function count(labels: Uint8Array, value: number): number {
  let n = 0;
  for (const v of labels) if (v === value) n++;
  return n;
}

/** Mean LPS x of the voxels with a label. */
function meanX(g: Geometry, labels: Uint8Array, value: number): number {
  const a = voxelToLps(g);
  const [nx, ny, nz] = g.dims;
  let sum = 0;
  let n = 0;
  for (let k = 0, v = 0; k < nz; k++)
    for (let j = 0; j < ny; j++)
      for (let i = 0; i < nx; i++, v++) {
        if (labels[v] !== value) continue;
        sum += a[0]! * i + a[1]! * j + a[2]! * k + a[3]!;
        n++;
      }
  return sum / n;
}

/**
 * Lung-labelled voxels whose centre lies in the trachea or in the mediastinal part of a main bronchus
 * (lumen radius less one mm, so partial-volume edges are not counted), from the phantom's anatomy.
 */
function airwayVoxelsLabelled(g: Geometry, labels: Uint8Array): { inside: number; labelled: number } {
  const a = voxelToLps(g);
  const [nx, ny, nz] = g.dims;
  const segs: Array<[Vec3, Vec3, number]> = [
    [AIRWAY.tracheaTop, AIRWAY.carina, AIRWAY.tracheaRadius - 1],
    [AIRWAY.carina, AIRWAY.rightHilum, AIRWAY.rightMainRadius - 1],
    [AIRWAY.carina, AIRWAY.leftHilum, AIRWAY.leftMainRadius - 1],
  ];
  let inside = 0;
  let labelled = 0;
  for (let k = 0, v = 0; k < nz; k++)
    for (let j = 0; j < ny; j++)
      for (let i = 0; i < nx; i++, v++) {
        const p: Vec3 = [
          a[0]! * i + a[1]! * j + a[2]! * k + a[3]!,
          a[4]! * i + a[5]! * j + a[6]! * k + a[7]!,
          a[8]! * i + a[9]! * j + a[10]! * k + a[11]!,
        ];
        // The mediastinum: the phantom's lungs keep out of |x| < 26 mm there.
        if (Math.abs(p[0]) > 20) continue;
        const inAirway = segs.some(([s, e, r]) => segmentDistance(p, s, e) < r);
        if (!inAirway) continue;
        inside++;
        if (labels[v]) labelled++;
      }
  return { inside, labelled };
}

function segmentDistance(p: Vec3, a: Vec3, b: Vec3): number {
  const ab = [b[0] - a[0], b[1] - a[1], b[2] - a[2]];
  const ap = [p[0] - a[0], p[1] - a[1], p[2] - a[2]];
  const len2 = ab[0]! ** 2 + ab[1]! ** 2 + ab[2]! ** 2;
  const t = Math.max(0, Math.min(1, (ap[0]! * ab[0]! + ap[1]! * ab[1]! + ap[2]! * ab[2]!) / len2));
  return Math.hypot(ap[0]! - t * ab[0]!, ap[1]! - t * ab[1]!, ap[2]! - t * ab[2]!);
}

function checkAgainstTruth(r: RenderedPhantom, name: string): void {
  const s = segmentLungs(r.ct);
  const truth = r.lungs.data;
  const dRight = dice(s.labels, truth, RIGHT);
  const dLeft = dice(s.labels, truth, LEFT);
  // Measured (128 x 128 x 76, 2.8 x 2.8 x 5 mm): about 0.997 right and 0.996 left on every variant.
  expect(dRight, `${name} right Dice`).toBeGreaterThan(0.98);
  expect(dLeft, `${name} left Dice`).toBeGreaterThan(0.98);
  // Right lung at lower LPS x.
  expect(meanX(r.ct, s.labels, RIGHT)).toBeLessThan(-40);
  expect(meanX(r.ct, s.labels, LEFT)).toBeGreaterThan(40);
  const voxelMl = (r.ct.spacing[0] * r.ct.spacing[1] * r.ct.spacing[2]) / 1000;
  expect(s.volumeMl.right).toBeCloseTo(count(s.labels, RIGHT) * voxelMl, 6);
  expect(Math.abs(s.volumeMl.right / (count(truth, RIGHT) * voxelMl) - 1)).toBeLessThan(0.02);
  expect(Math.abs(s.volumeMl.left / (count(truth, LEFT) * voxelMl) - 1)).toBeLessThan(0.02);
  const air = airwayVoxelsLabelled(r.ct, s.labels);
  expect(air.inside).toBeGreaterThan(100);
  expect(air.labelled).toBe(0);
  // Zones on our lungs agree with zones on the truth lungs where both are lung.
  const truthZones = assignZones(truth, r.lungs);
  let same = 0;
  let both = 0;
  for (let v = 0; v < truth.length; v++) {
    if (!truth[v] || !s.labels[v]) continue;
    both++;
    if (truthZones[v] === s.zones[v]) same++;
  }
  expect(same / both).toBeGreaterThan(0.98);
  expect(s.zones.every((z, v) => (z === LUNG_ZONE.none) === (s.labels[v] === 0))).toBe(true);
  expect(s.warnings).toEqual([]);
  expect(s.dims).toEqual(r.ct.dims);
  expect(s.spacing).toEqual(r.ct.spacing);
}

describe("segmentLungs on phantoms", () => {
  const variants: Array<[string, GridOptions]> = [
    ["axial", SMALL_GRID],
    ["descending", { ...SMALL_GRID, zDirection: "descending" }],
    ["oblique", { ...SMALL_GRID, orientation: { rotateXDeg: 15, rotateYDeg: -10 } }],
    // Slices at 45 degrees, and at 60 (nearer coronal than axial: segmented in LPS order, axial-order.ts).
    // Both left the trachea in the lungs before (no airway search on "non-axial" slices).
    ["tilted 45 degrees", { ...SMALL_GRID, orientation: { rotateXDeg: 45, rotateYDeg: 0 } }],
    ["tilted 60 degrees", { ...SMALL_GRID, orientation: { rotateXDeg: 60, rotateYDeg: 0 } }],
  ];
  for (const [name, grid] of variants) {
    it(`finds both lungs, sides and zones, without the trachea (${name})`, () => {
      checkAgainstTruth(renderSmall("covid", 5, grid), name);
    });
  }

  it("keeps the mediastinum out of the other lung, and the fluid out of its own, when fluid on one side turns the lungs' axis", () => {
    // 1200 mL on the right turns the lungs' principal axis about 10 degrees on an upright patient; walking
    // along it, the envelope fill let 18.6 mL of heart and mediastinum into the left lung here (1.8 mL now).
    const r = renderSmall("normal", 9107, {
      size: 256,
      slices: 120,
      sliceThickness: 2.5,
      effusionMl: { right: 1200 },
    });
    const s = segmentLungs(r.ct);
    const voxelMl = (r.ct.spacing[0] * r.ct.spacing[1] * r.ct.spacing[2]) / 1000;
    let leftExtra = 0;
    let rightExtra = 0;
    for (let v = 0; v < s.labels.length; v++) {
      if (s.labels[v] === LUNG_LABEL.left && r.lungs.data[v] !== LUNG_LABEL.left) leftExtra++;
      if (s.labels[v] === LUNG_LABEL.right && r.lungs.data[v] !== LUNG_LABEL.right) rightExtra++;
    }
    expect(leftExtra * voxelMl).toBeLessThan(5);
    // And the fluid stays out of the right lung: 4.1 mL of partial volume at its edges (43 mL while the
    // phantom drew bronchi through the fluid, each taken for lung with fluid round it; generator 1.1.1).
    expect(rightExtra * voxelMl).toBeLessThan(8);
  });

  it("keeps the trachea only when the airway exclusion cannot find it (control)", () => {
    const r = renderSmall("normal", 2);
    // A trachea cross-section can never be both at least and at most 1 mm^2: no seed.
    const s = segmentLungs(r.ct, { tracheaMinAreaMm2: 1, tracheaMaxAreaMm2: 1 });
    expect(s.warnings.some((w) => w.startsWith("No trachea found"))).toBe(true);
    expect(airwayVoxelsLabelled(r.ct, s.labels).labelled).toBeGreaterThan(50);
  });

  it("restores consolidation against the pleura by the closing, and by the envelope fill", () => {
    const r = renderSmall("cap", 5);
    const coverage = (labels: Uint8Array): number => {
      let all = 0;
      let inLung = 0;
      for (let v = 0; v < labels.length; v++) {
        if (!r.lesions.data[v]) continue;
        all++;
        if (labels[v]) inLung++;
      }
      return inLung / all;
    };
    const closed = coverage(segmentLungs(r.ct, { envelopeMaxGapMm: 0 }).labels);
    const enveloped = coverage(segmentLungs(r.ct, { closingRadiusMm: 0 }).labels);
    const open = coverage(segmentLungs(r.ct, { closingRadiusMm: 0, envelopeMaxGapMm: 0 }).labels);
    // Measured: 1.000 with either the 10 mm closing or the envelope fill alone (and with both), 0.77 with
    // neither (the consolidated core is +50 HU).
    expect(closed).toBeGreaterThan(0.97);
    expect(enveloped).toBeGreaterThan(0.97);
    expect(open).toBeLessThan(0.9);
  });

  it("warns about lungs cut by the field of view and still excludes the trachea", () => {
    // 40 slices of 5 mm centred at z = -25: from -122.5 to 72.5 mm; the apices (115) and the lowest
    // recesses are outside.
    const r = renderSmall("normal", 4, { size: 128, slices: 40, sliceThickness: 5 });
    const s = segmentLungs(r.ct);
    expect(dice(s.labels, r.lungs.data, RIGHT)).toBeGreaterThan(0.98);
    expect(dice(s.labels, r.lungs.data, LEFT)).toBeGreaterThan(0.98);
    for (const side of ["right", "left"])
      expect(s.warnings).toContain(
        `The ${side} lung reaches the top of the field of view: its volume and zones cover only the part scanned.`,
      );
    expect(airwayVoxelsLabelled(r.ct, s.labels).labelled).toBe(0);
  });

  for (const reconstructionCircle of [false, true])
    it(`finds lungs that a ${reconstructionCircle ? "round" : "square"} 250 mm field of view cuts at both sides`, () => {
      // 250 mm across: the body (340 mm wide) and both lungs (about 295 mm) run off the image's sides, or
      // into the padding outside a round reconstruction's disc. The padding reaches the cut lungs: taken for
      // outside air, it took them along (lung Dice 0.14 before field-of-view.ts).
      const r = renderSmall("cap", 4, {
        size: 100,
        pixelSpacing: 2.5,
        slices: 76,
        sliceThickness: 5,
        reconstructionCircle,
      });
      const s = segmentLungs(r.ct);
      expect(dice(s.labels, r.lungs.data, RIGHT)).toBeGreaterThan(0.97);
      expect(dice(s.labels, r.lungs.data, LEFT)).toBeGreaterThan(0.97);
      for (const side of ["right", "left"])
        expect(s.warnings).toContain(`The ${side} lung reaches the in-plane edge of the field of view.`);
      expect(airwayVoxelsLabelled(r.ct, s.labels).labelled).toBe(0);
      expect(s.cutInPlane).toBe(true);
    });
});

/**
 * The same voxels as a coronal stack (i left-right, j head to feet, k front to back) or a sagittal one
 * (i front to back, j head to feet, k right to left), with the geometry that says so; `at(i, j, k)` is the
 * reordered index of axial voxel (i, j, k).
 */
function restacked(
  v: Volume,
  plane: "coronal" | "sagittal",
): { volume: Volume; at: (i: number, j: number, k: number) => number } {
  const [nx, ny, nz] = v.dims;
  const [sx, sy, sz] = v.spacing;
  const d = v.direction;
  const col = (c: number): Vec3 => [d[c]!, d[3 + c]!, d[6 + c]!];
  const neg = (c: Vec3): Vec3 => [-c[0], -c[1], -c[2]];
  const coronal = plane === "coronal";
  // Axial voxel (i, j, k) -> reordered (a, b, c): j runs from the head down, the sagittal k from the left.
  const to = (i: number, j: number, k: number): Vec3 =>
    coronal ? [i, nz - 1 - k, j] : [j, nz - 1 - k, nx - 1 - i];
  const dims: Vec3 = coronal ? [nx, nz, ny] : [ny, nz, nx];
  const spacing: Vec3 = coronal ? [sx, sz, sy] : [sy, sz, sx];
  const cols = coronal ? [col(0), neg(col(2)), col(1)] : [col(1), neg(col(2)), neg(col(0))];
  const direction = [0, 1, 2].flatMap((r) => cols.map((c) => c[r]!)) as Volume["direction"];
  // Reordered voxel (0, 0, 0) is axial voxel (0, 0, nz - 1), or (nx - 1, 0, nz - 1) for the sagittal stack.
  const a = voxelToLps(v);
  const i0 = coronal ? 0 : nx - 1;
  const origin: Vec3 = [0, 1, 2].map(
    (r) => a[4 * r]! * i0 + a[4 * r + 2]! * (nz - 1) + a[4 * r + 3]!,
  ) as Vec3;
  const at = (i: number, j: number, k: number): number => {
    const [p, q, r] = to(i, j, k);
    return p + dims[0] * (q + dims[1] * r);
  };
  const data = new Int16Array(v.data.length);
  for (let k = 0, n = 0; k < nz; k++)
    for (let j = 0; j < ny; j++) for (let i = 0; i < nx; i++, n++) data[at(i, j, k)] = v.data[n]!;
  return { volume: { dims, spacing, origin, direction, data }, at };
}

describe("segmentLungs on coronal and sagittal stacks", () => {
  // Cut at the top, with the trachea in view: both the airway exclusion and the field-of-view warnings
  // depend on knowing which way the head is. Before axial-order.ts a coronal stack kept the trachea and
  // read the lungs' top and bottom as the field of view cutting them at the side.
  const r = renderSmall("normal", 4, { size: 128, slices: 40, sliceThickness: 5 });
  const axial = segmentLungs(r.ct);
  for (const plane of ["coronal", "sagittal"] as const)
    it(`labels the same voxels as on the axial stack (${plane})`, () => {
      const { volume, at } = restacked(r.ct, plane);
      // The helper's geometry: a voxel's centre is where it was.
      const [nx, ny, nz] = r.ct.dims;
      const before = voxelToLps(r.ct);
      const after = voxelToLps(volume);
      const idx = at(nx - 2, 3, nz - 5);
      const [p, q, w] = [
        idx % volume.dims[0],
        Math.floor(idx / volume.dims[0]) % volume.dims[1],
        Math.floor(idx / (volume.dims[0] * volume.dims[1])),
      ];
      for (let row = 0; row < 3; row++)
        expect(
          after[4 * row]! * p + after[4 * row + 1]! * q + after[4 * row + 2]! * w + after[4 * row + 3]!,
        ).toBeCloseTo(
          before[4 * row]! * (nx - 2) +
            before[4 * row + 1]! * 3 +
            before[4 * row + 2]! * (nz - 5) +
            before[4 * row + 3]!,
          6,
        );
      const s = segmentLungs(volume);
      let differ = 0;
      for (let k = 0, n = 0; k < nz; k++)
        for (let j = 0; j < ny; j++)
          for (let i = 0; i < nx; i++, n++) {
            const v = at(i, j, k);
            if (s.labels[v] !== axial.labels[n] || s.zones[v] !== axial.zones[n]) differ++;
          }
      expect(differ).toBe(0);
      expect(s.dims).toEqual(volume.dims);
      expect(s.spacing).toEqual(volume.spacing);
      expect(s.volumeMl.right).toBeCloseTo(axial.volumeMl.right, 6);
      expect(s.volumeMl.left).toBeCloseTo(axial.volumeMl.left, 6);
      expect(s.warnings).toEqual(axial.warnings);
      expect(s.warnings.some((w) => w.includes("reaches the top"))).toBe(true);
      expect(s.cutInPlane).toBe(false);
      expect(airwayVoxelsLabelled(volume, s.labels).labelled).toBe(0);
    });
});

describe("segmentLungs in a round reconstruction", () => {
  it("changes nothing when the whole chest lies inside the circle", () => {
    const square = renderSmall("covid", 4, { ...SMALL_GRID, slices: 40 });
    const round = renderSmall("covid", 4, { ...SMALL_GRID, slices: 40, reconstructionCircle: true });
    const a = segmentLungs(square.ct);
    const b = segmentLungs(round.ct);
    expect(Buffer.from(b.labels).equals(Buffer.from(a.labels))).toBe(true);
    expect(b.warnings).toEqual(a.warnings);
    expect(b.cutInPlane).toBe(false);
  });
});

describe("segmentLungs on an image whose background was blanked", () => {
  it("finds the same lungs when the air around the body is a constant -1024 HU (then taken as out of view)", () => {
    // Some exports set everything outside the body to one value. That air is constant through the slices
    // where the body never reaches, so field-of-view.ts takes it for padding, and the body touches the edge
    // of the view all round: the cut-body rule must not turn pockets of outside air into lung.
    const r = renderSmall("normal", 6, { ...SMALL_GRID, slices: 40 });
    const before = segmentLungs(r.ct);
    const [nx, ny, nz] = r.ct.dims;
    const blanked = Int16Array.from(r.ct.data);
    // Per slice: the air reaching the border through air (below -500 HU) becomes -1024.
    const plane = nx * ny;
    const air = new Uint8Array(plane);
    const queue = new VoxelQueue();
    for (let k = 0; k < nz; k++) {
      const base = k * plane;
      for (let p = 0; p < plane; p++) air[p] = blanked[base + p]! < -500 ? 1 : 0;
      floodFromBorder(air, nx, ny, queue, 1, 2);
      for (let p = 0; p < plane; p++) if (air[p] === 2) blanked[base + p] = -1024;
    }
    // The blanked air is taken as out of view: most of the image around the body.
    const unseen = outOfViewMask({ ...r.ct, data: blanked })!;
    expect(unseen.reduce((a, b) => a + b, 0)).toBeGreaterThan(0.3 * nx * ny);
    const after = segmentLungs({ ...r.ct, data: blanked });
    expect(dice(after.labels, before.labels, RIGHT)).toBeGreaterThan(0.999);
    expect(dice(after.labels, before.labels, LEFT)).toBeGreaterThan(0.999);
    expect(after.warnings).toEqual(before.warnings);
  });
});

describe("segmentLungs with air outside the patient behind a thin wall", () => {
  it("leaves a CT table's foam core out (the whole table in a 460 mm field of view)", () => {
    // 320 x 320 at 1.44 mm: the table's 2 mm skins stay above the air threshold and close its -920 HU core.
    const r = renderSmall("normal", 9100, {
      size: 320,
      slices: 40,
      sliceThickness: 5,
      pixelSpacing: 460 / 320,
      table: true,
    });
    const s = segmentLungs(r.ct);
    expect(dice(s.labels, r.lungs.data, RIGHT)).toBeGreaterThan(0.99);
    expect(dice(s.labels, r.lungs.data, LEFT)).toBeGreaterThan(0.99);
    expect(s.warnings.some((w) => w.includes("could not be separated"))).toBe(false);
    // Without the rule the core (as large as a lung over the stack) was taken for both lungs.
    const without = segmentLungs(r.ct, { thinWallMm: 0 });
    expect(dice(without.labels, r.lungs.data, RIGHT)).toBeLessThan(0.8);
  });

  it("leaves a covered cushion on a table core out too, once the core is known to be outside", () => {
    // Body 300 x 200 mm with two lungs; under its back a cushion (-900 HU, 1.5 mm cover) on a table whose
    // core (-920 HU) has 2 mm skins. Only the cushion's ends face the room's air through a thin wall (under
    // the limit's share); its underside does so only through the core, once the core is known to be outside.
    const spacing: Vec3 = [1, 1, 5];
    const dims: Vec3 = [340, 300, 12];
    const hu = (x: number, y: number): number => {
      // The back flattened where it lies on the cushion.
      if ((x / 150) ** 2 + (y / 100) ** 2 < 1 || (Math.abs(x) < 100 && y > 0 && y < 100)) {
        const lung = ((Math.abs(x) - 65) / 45) ** 2 + (y / 70) ** 2 < 1;
        return lung ? -850 : 40;
      }
      const cushion = Math.abs(x) < 80 && y >= 100 && y < 116;
      if (cushion) return Math.abs(x) > 78.5 || y >= 114.5 ? 40 : -900;
      const table = Math.abs(x) < 160 && y >= 116 && y < 140;
      if (table) return Math.abs(x) > 158 || y < 118 || y >= 138 ? 300 : -920;
      return -1000;
    };
    const [nx, ny, nz] = dims;
    const data = new Int16Array(nx * ny * nz);
    for (let k = 0; k < nz; k++)
      for (let j = 0; j < ny; j++)
        for (let i = 0; i < nx; i++) data[i + nx * j + nx * ny * k] = hu(i - nx / 2 + 0.5, j - 150 + 0.5);
    const volume: Volume = { dims, spacing, origin: [0, 0, 0], direction: [1, 0, 0, 0, 1, 0, 0, 0, 1], data };
    const s = segmentLungs(volume);
    let belowBody = 0;
    let lung = 0;
    for (let k = 0; k < nz; k++)
      for (let j = 0; j < ny; j++)
        for (let i = 0; i < nx; i++) {
          if (!s.labels[i + nx * j + nx * ny * k]) continue;
          lung++;
          if (j - 150 + 0.5 >= 100) belowBody++;
        }
    expect(belowBody).toBe(0);
    // Two lungs of 45 x 70 mm half-axes: about 2 x 9.9 cm^2 per slice over 12 slices.
    expect(lung).toBeGreaterThan(0.95 * 2 * Math.PI * 45 * 70 * nz);
  });
});

describe("segmentLungs on a streak from metal across the chest wall", () => {
  it("keeps the lung of the slices a dark streak joins to the room's air, and says so", () => {
    // 256 x 256 over 360 mm, 5 mm slices: a 2 mm streak at -600 HU in 4 slices, from a device in the left
    // anterior chest wall out through the wall and into the left lung (a pacemaker's, say).
    const r = renderSmall("normal", 9107, { size: 256, slices: 40, sliceThickness: 5 });
    const clean = segmentLungs(r.ct);
    expect(clean.warnings.some((w) => w.includes("gap narrower"))).toBe(false);
    const ct = { ...r.ct, data: Int16Array.from(r.ct.data) };
    const a = voxelToLps(ct);
    const [nx, ny, nz] = ct.dims;
    const [ux, uy] = [Math.cos(Math.PI / 3), -Math.sin(Math.PI / 3)];
    for (let k = nz / 2 - 2; k < nz / 2 + 2; k++)
      for (let j = 0; j < ny; j++)
        for (let i = 0; i < nx; i++) {
          const x = a[0]! * i + a[3]! - 80;
          const y = a[5]! * j + a[7]! + 95;
          const n = i + nx * j + nx * ny * k;
          if (Math.abs(-x * uy + y * ux) < 1 && Math.abs(x * ux + y * uy) < 150 && ct.data[n]! > -600)
            ct.data[n] = -600;
        }
    const s = segmentLungs(ct);
    expect(dice(s.labels, r.lungs.data, LEFT)).toBeGreaterThan(0.99);
    expect(s.warnings.some((w) => w.includes("gap narrower than 5 mm"))).toBe(true);
    // Without the rule the left lung of those 4 slices went outside with the room's air.
    const without = segmentLungs(ct, { leakNeckMm: 0 });
    expect(dice(without.labels, r.lungs.data, LEFT)).toBeLessThan(0.95);
  });
});

describe("segmentLungs on a rolled patient", () => {
  // Rolled 15 degrees (left towards anterior): the heart's corner in the left lung's convex hull has no
  // right lung along its image row. Taken for consolidation, it gave a normal phantom 50 mL of false lesion.
  // Counted: mask more than a pixel (in-plane) from the true lungs. The pixels along the lungs' edge are
  // part lung, part wall (about -400 HU at these 2.8 mm pixels) and most of them pass the air threshold
  // though their centres lie outside: 80-100 mL over the whole outline, upright or rolled. The heart's corner
  // is a blob away from it: 29 mL beyond a pixel with the rows' rule at -15 degrees, 3 mL with the lungs'
  // own axis (2026-11-28).
  for (const roll of [-15, 15]) {
    it(`keeps the heart out of the left lung's envelope fill (roll ${roll} degrees)`, () => {
      const r = renderSmall("normal", 9107, { ...SMALL_GRID, patientRollDeg: roll });
      const s = segmentLungs(r.ct);
      const truth = r.lungs.data;
      const nx = r.ct.dims[0];
      let far = 0;
      for (let v = 0; v < s.labels.length; v++) {
        if (s.labels[v] === 0 || truth[v] !== 0) continue;
        let near = false;
        for (let dj = -1; dj <= 1; dj++)
          for (let di = -1; di <= 1; di++) near ||= truth[v + di + nx * dj]! > 0;
        if (!near) far++;
      }
      const voxelMl = (r.ct.spacing[0] * r.ct.spacing[1] * r.ct.spacing[2]) / 1000;
      expect(far * voxelMl).toBeLessThan(10);
      expect(dice(s.labels, r.lungs.data, LEFT)).toBeGreaterThan(0.97);
      expect(dice(s.labels, r.lungs.data, RIGHT)).toBeGreaterThan(0.97);
    });
  }
});

/** Body (40 HU, ellipse 130 x 100 mm) in air, with air-like regions painted by `lungAt`. */
function synthetic(
  dims: Vec3,
  spacing: Vec3,
  /** true: lung (-850 HU); a number: that HU; false: body (40 HU). */
  lungAt: (x: number, y: number, z: number) => boolean | number,
  direction: Geometry["direction"] = [1, 0, 0, 0, 1, 0, 0, 0, 1],
): Volume {
  const [nx, ny, nz] = dims;
  const lungHu = (x: number, y: number, z: number): number | undefined => {
    const v = lungAt(x, y, z);
    return v === false ? undefined : v === true ? -850 : v;
  };
  // Centre the grid on the origin of LPS whatever the axes' directions.
  const half = [((nx - 1) * spacing[0]) / 2, ((ny - 1) * spacing[1]) / 2, ((nz - 1) * spacing[2]) / 2];
  const origin = [0, 1, 2].map(
    (r) =>
      -(direction[3 * r]! * half[0]! + direction[3 * r + 1]! * half[1]! + direction[3 * r + 2]! * half[2]!),
  ) as Vec3;
  const g: Geometry = { dims, spacing, origin, direction };
  const a = voxelToLps(g);
  const data = new Int16Array(nx * ny * nz);
  let seed = 12345;
  for (let k = 0, v = 0; k < nz; k++)
    for (let j = 0; j < ny; j++)
      for (let i = 0; i < nx; i++, v++) {
        const x = a[0]! * i + a[1]! * j + a[2]! * k + a[3]!;
        const y = a[4]! * i + a[5]! * j + a[6]! * k + a[7]!;
        const z = a[8]! * i + a[9]! * j + a[10]! * k + a[11]!;
        seed = (seed * 1103515245 + 12345) & 0x7fffffff;
        const noise = ((seed / 0x7fffffff) * 2 - 1) * 20;
        const inBody = (x / 130) ** 2 + (y / 100) ** 2 < 1;
        data[v] = Math.round(noise + (!inBody ? -1000 : (lungHu(x, y, z) ?? 40)));
      }
  return { ...g, data };
}

describe("segmentLungs on touching lungs", () => {
  // Two ellipsoid lungs 10 mm apart, joined across the midline by a 12 mm thick bridge of lung over 60 mm
  // of height, as where real lungs touch at a junction line: one air component.
  const right = (x: number, y: number, z: number) => ((x + 60) / 55) ** 2 + (y / 70) ** 2 + (z / 90) ** 2 < 1;
  const left = (x: number, y: number, z: number) => ((x - 60) / 55) ** 2 + (y / 70) ** 2 + (z / 90) ** 2 < 1;
  const bridge = (x: number, y: number, z: number) =>
    Math.abs(x) < 12 && y > -20 && y < -8 && Math.abs(z) < 30;
  const lungAt = (x: number, y: number, z: number) => right(x, y, z) || left(x, y, z) || bridge(x, y, z);

  it("splits them at the junction: right at lower x", () => {
    const vol = synthetic([96, 80, 44], [3, 3, 5], lungAt);
    const s = segmentLungs(vol);
    const a = voxelToLps(vol);
    const [nx, ny, nz] = vol.dims;
    let wrong = 0;
    let total = 0;
    for (let k = 0, v = 0; k < nz; k++)
      for (let j = 0; j < ny; j++)
        for (let i = 0; i < nx; i++, v++) {
          const x = a[0]! * i + a[3]!;
          const y = a[5]! * j + a[7]!;
          const z = a[10]! * k + a[11]!;
          if (!(right(x, y, z) || left(x, y, z))) continue;
          total++;
          if (s.labels[v] !== (x < 0 ? RIGHT : LEFT)) wrong++;
        }
    expect(total).toBeGreaterThan(10000);
    expect(wrong / total).toBeLessThan(0.005);
    expect(s.warnings).toEqual([
      "No trachea found within 40 mm of the top of the scan: airways were not excluded.",
    ]);
    expect(s.volumeMl.right).toBeGreaterThan(1000);
    expect(Math.abs(s.volumeMl.right - s.volumeMl.left) / s.volumeMl.right).toBeLessThan(0.05);
  });

  it("gets the sides from the direction matrix when i runs to the patient's right", () => {
    // Same anatomy sampled with i flipped (x decreases with i) and j flipped.
    const vol = synthetic([96, 80, 44], [3, 3, 5], lungAt, [-1, 0, 0, 0, -1, 0, 0, 0, 1]);
    const s = segmentLungs(vol);
    expect(meanX(vol, s.labels, RIGHT)).toBeLessThan(-30);
    expect(meanX(vol, s.labels, LEFT)).toBeGreaterThan(30);
    // i = 0 is now the patient's left: the left lung is at low i.
    expect(s.labels[10 + 96 * (40 + 80 * 22)]).toBe(LEFT);
  });

  it("falls back to the body midline, with a warning, when no erosion separates them", () => {
    // A smaller left lung: each part would need half of what survives erosion, never both.
    const smallerLeft = (x: number, y: number, z: number) =>
      right(x, y, z) || ((x - 55) / 50) ** 2 + (y / 65) ** 2 + (z / 85) ** 2 < 1 || bridge(x, y, z);
    const vol = synthetic([96, 80, 44], [3, 3, 5], smallerLeft);
    const s = segmentLungs(vol, { minSplitFraction: 0.5 });
    expect(s.warnings).toContain(
      "The lungs touch and could not be separated by erosion; they were split at the body midline.",
    );
    expect(meanX(vol, s.labels, RIGHT)).toBeLessThan(0);
    expect(meanX(vol, s.labels, LEFT)).toBeGreaterThan(0);
    // Control: the two lungs are one air component; not treated as merged, all of it goes to one side.
    const unsplit = segmentLungs(vol, { mergedSideFraction: 0.5 });
    expect(unsplit.warnings).toContain("Only one lung found (the right).");
  });

  it("labels lungs found after hundreds of other air pockets (component ordinals run out)", () => {
    const vol = synthetic([96, 80, 44], [3, 3, 5], lungAt);
    // 400 separate one-voxel air bubbles in the body in the first two slices (staggered so none touch),
    // met before the lungs: more components than ordinals.
    const [nx, ny] = vol.dims;
    let placed = 0;
    for (let k = 0; k < 2; k++)
      for (let j = 25; j < 55 && placed < 400; j += 2)
        for (let i = 20 + k; i < 76 && placed < 400; i += 2, placed++)
          vol.data[i + nx * (j + ny * k)] = -1000;
    expect(placed).toBe(400);
    const s = segmentLungs(vol);
    expect(meanX(vol, s.labels, RIGHT)).toBeLessThan(-30);
    expect(meanX(vol, s.labels, LEFT)).toBeGreaterThan(30);
    expect(s.volumeMl.right).toBeGreaterThan(1000);
    expect(Math.abs(s.volumeMl.right - s.volumeMl.left) / s.volumeMl.right).toBeLessThan(0.05);
    // No ordinal is left behind as a label, and the bubbles are not lung.
    expect(s.labels.every((l) => l <= 2)).toBe(true);
    expect(s.labels.subarray(0, 2 * nx * ny).every((l) => l === 0)).toBe(true);
  });

  it("reports a single lung when only one is there", () => {
    const vol = synthetic([96, 80, 44], [3, 3, 5], left);
    const s = segmentLungs(vol);
    expect(count(s.labels, RIGHT)).toBe(0);
    expect(s.volumeMl.left).toBeGreaterThan(1000);
    expect(s.warnings).toContain("Only one lung found (the left).");
  });
});

describe("segmentLungs airway exclusion", () => {
  // Lungs as above, separate, and an airway: a trachea (lumen radius 9 mm) from the top of the scan down
  // to a carina at z = 60 mm, and main bronchi (radius 6 mm) into each lung.
  const right = (x: number, y: number, z: number) => ((x + 60) / 55) ** 2 + (y / 70) ** 2 + (z / 90) ** 2 < 1;
  const left = (x: number, y: number, z: number) => ((x - 60) / 55) ** 2 + (y / 70) ** 2 + (z / 90) ** 2 < 1;
  const airway = (x: number, y: number, z: number): boolean =>
    (z >= 60 && Math.hypot(x, y) < 9) ||
    segmentDistance([x, y, z], [0, 0, 60], [-45, 0, 30]) < 6 ||
    segmentDistance([x, y, z], [0, 0, 60], [45, 0, 30]) < 6;
  const volumeOf = (vol: Volume, pred: (x: number, y: number, z: number) => boolean): number => {
    const a = voxelToLps(vol);
    const [nx, ny, nz] = vol.dims;
    let n = 0;
    for (let k = 0; k < nz; k++)
      for (let j = 0; j < ny; j++)
        for (let i = 0; i < nx; i++) if (pred(a[0]! * i + a[3]!, a[5]! * j + a[7]!, a[10]! * k + a[11]!)) n++;
    return (n * vol.spacing[0] * vol.spacing[1] * vol.spacing[2]) / 1000;
  };
  const tracheaLabelled = (vol: Volume, labels: Uint8Array): number => {
    const a = voxelToLps(vol);
    const [nx, ny, nz] = vol.dims;
    let n = 0;
    for (let k = 0, v = 0; k < nz; k++)
      for (let j = 0; j < ny; j++)
        for (let i = 0; i < nx; i++, v++) {
          const z = a[10]! * k + a[11]!;
          if (z > 65 && Math.hypot(a[0]! * i + a[3]!, a[5]! * j + a[7]!) < 8 && labels[v]) n++;
        }
    return n;
  };

  it("takes the trachea and main bronchi out and separates the lungs they joined", () => {
    const vol = synthetic([96, 80, 60], [3, 3, 5], (x, y, z) =>
      airway(x, y, z) ? -1000 : right(x, y, z) || left(x, y, z),
    );
    const s = segmentLungs(vol);
    expect(s.warnings).toEqual([]);
    expect(tracheaLabelled(vol, s.labels)).toBe(0);
    // Two lungs, each within 3 % of its ellipsoid (the intrapulmonary bronchus comes back by hole filling).
    expect(Math.abs(s.volumeMl.right / volumeOf(vol, right) - 1)).toBeLessThan(0.03);
    expect(Math.abs(s.volumeMl.left / volumeOf(vol, left) - 1)).toBeLessThan(0.03);
    expect(meanX(vol, s.labels, RIGHT)).toBeLessThan(-40);
    // Control: with the trachea out of reach the airway is lung, and it joins both lungs.
    const kept = segmentLungs(vol, { tracheaMinAreaMm2: 1, tracheaMaxAreaMm2: 1 });
    expect(tracheaLabelled(vol, kept.labels)).toBeGreaterThan(50);
  });

  it("stops at a leak when the lung itself is below the airway threshold, keeping the lungs", () => {
    // Emphysema-like lungs at -930 HU: below the -900 HU lumen threshold, above the -950 HU gas median.
    const vol = synthetic([96, 80, 60], [3, 3, 5], (x, y, z) =>
      airway(x, y, z) ? -1000 : right(x, y, z) || left(x, y, z) ? -930 : false,
    );
    const s = segmentLungs(vol);
    expect(s.warnings).toContain(
      "Airway growing stopped at a leak into the lung; the airway exclusion may be incomplete.",
    );
    expect(tracheaLabelled(vol, s.labels)).toBe(0);
    expect(s.volumeMl.right / volumeOf(vol, right)).toBeGreaterThan(0.95);
    expect(s.volumeMl.left / volumeOf(vol, left)).toBeGreaterThan(0.95);
  });
});

describe("segmentLungs failure paths", () => {
  const noLungs = "No lungs found";

  it("all air: empty, with a warning", () => {
    const g: Geometry = {
      dims: [20, 20, 5],
      spacing: [2, 2, 5],
      origin: [0, 0, 0],
      direction: [1, 0, 0, 0, 1, 0, 0, 0, 1],
    };
    const s = segmentLungs({ ...g, data: new Int16Array(2000).fill(-1000) });
    expect(s.labels.every((v) => v === 0)).toBe(true);
    expect(s.zones.every((v) => v === 0)).toBe(true);
    expect(s.volumeMl).toEqual({ right: 0, left: 0 });
    expect(s.warnings).toHaveLength(1);
    expect(s.warnings[0]).toMatch(noLungs);
  });

  it("a water cylinder: empty, with a warning", () => {
    const vol = synthetic([64, 64, 10], [4, 4, 5], () => false);
    const s = segmentLungs(vol);
    expect(count(s.labels, RIGHT) + count(s.labels, LEFT)).toBe(0);
    expect(s.warnings[0]).toMatch(noLungs);
  });

  it("gas of lung size and nothing else (stomach-like, -1000 HU): no label at all, with a warning", () => {
    // The components' ordinals were once left in the labels here, and the model's lung mask took the gas.
    const vol = synthetic([64, 64, 10], [4, 4, 5], (x, y) => (Math.hypot(x, y) < 40 ? -1000 : false));
    const s = segmentLungs(vol);
    expect(s.labels.every((v) => v === 0)).toBe(true);
    expect(s.volumeMl).toEqual({ right: 0, left: 0 });
    expect(s.warnings[0]).toMatch(noLungs);
  });

  it("lungs darker than the gas rule (severe emphysema): taken all the same, with a warning", () => {
    // The parenchyma shifted to a median of about -979 HU (vessels and walls unchanged): the gas rule alone
    // (median below -950) dropped both lungs and the scan came out "No lungs found".
    const r = renderSmall("normal", 9107, { size: 256, slices: 60, sliceThickness: 5 });
    const data = Int16Array.from(r.ct.data, (v, n) =>
      r.lungs.data[n] && v < -600 ? Math.max(-1024, v - 130) : v,
    );
    const s = segmentLungs({ ...r.ct, data });
    expect(dice(s.labels, r.lungs.data, RIGHT)).toBeGreaterThan(0.98);
    expect(dice(s.labels, r.lungs.data, LEFT)).toBeGreaterThan(0.98);
    expect(s.warnings.some((w) => w.startsWith("The lungs are unusually dark"))).toBe(true);
    const strict = segmentLungs({ ...r.ct, data }, { darkLungMinHu: -950 });
    expect(strict.warnings[0]).toMatch(noLungs);
    // A normal chest never takes this path.
    expect(segmentLungs(r.ct).warnings.some((w) => w.includes("unusually dark"))).toBe(false);
  });

  it("a phantom's abdomen below the lungs: empty, with a warning", () => {
    // 20 slices of 5 mm centred at z = -25 - ... : phantomGrid centres on the chest, so shift by taking a
    // tall grid and keeping its lowest slices.
    const r = renderSmall("normal", 1, { size: 96, slices: 110, sliceThickness: 5 });
    const [nx, ny] = r.ct.dims;
    const keep = 12; // z from about -297 to -242 mm: below every lung recess (lowest near -230)
    const data = r.ct.data.slice(0, nx * ny * keep);
    expect(r.lungs.data.subarray(0, nx * ny * keep).every((v) => v === 0)).toBe(true);
    const s = segmentLungs({ ...r.ct, dims: [nx, ny, keep], data });
    expect(s.labels.every((v) => v === 0)).toBe(true);
    expect(s.warnings[0]).toMatch(noLungs);
  });

  it("tiny volumes: one voxel, one slice", () => {
    const g: Geometry = {
      dims: [1, 1, 1],
      spacing: [1, 1, 1],
      origin: [0, 0, 0],
      direction: [1, 0, 0, 0, 1, 0, 0, 0, 1],
    };
    for (const hu of [-1000, -850, 40]) {
      const s = segmentLungs({ ...g, data: Int16Array.of(hu) });
      expect(Array.from(s.labels)).toEqual([0]);
      expect(s.warnings[0]).toMatch(noLungs);
    }
    // One slice of a phantom through both lungs.
    const r = renderSmall("normal", 1, { size: 128, slices: 1, sliceThickness: 5 });
    const s = segmentLungs(r.ct);
    expect(dice(s.labels, r.lungs.data, RIGHT)).toBeGreaterThan(0.95);
    expect(dice(s.labels, r.lungs.data, LEFT)).toBeGreaterThan(0.95);
    expect(s.zones.filter((z) => z !== 0).every((z) => z === LUNG_ZONE.middle)).toBe(true);
    expect(s.warnings).toContain(
      "The right lung lies in a single slice: its volume and zones cover only the part scanned.",
    );
  });

  it("rejects malformed input and options", () => {
    const g: Geometry = {
      dims: [2, 2, 2],
      spacing: [1, 1, 1],
      origin: [0, 0, 0],
      direction: [1, 0, 0, 0, 1, 0, 0, 0, 1],
    };
    expect(() => segmentLungs({ ...g, data: new Int16Array(7) })).toThrow(RangeError);
    expect(() => segmentLungs({ ...g, data: new Int16Array(8) }, { airThresholdHu: -950 })).toThrow(
      /airwayThresholdHu/,
    );
    expect(() => segmentLungs({ ...g, data: new Int16Array(8) }, { minLungFraction: 2 })).toThrow();
  });
});
