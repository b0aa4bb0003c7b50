/**
 * The lung stage thinks in axial slices: the air outside the body is found slice by slice, the trachea is
 * looked for in the top slices, holes are filled and the envelope walked in plane, and a lung "reaching the
 * in-plane edge" means the field of view cuts it at the side. A stack whose voxel axes are a permutation of
 * the patient's — a coronal or sagittal acquisition or reformat, or an oblique stack nearer to one of those
 * than to axial (tilted past 45 degrees) — breaks all of that: on a coronal stack the trachea was never
 * excluded, and the lungs' top and bottom were read as the field of view cutting them at the side (which
 * turned the size rule off and could mark a scan's class unreliable).
 *
 * Such a stack is copied into LPS order (x fastest, then y, then z: the orientation the model sees,
 * preprocess/orientation.ts) by permuting and flipping its voxel axes only — no interpolation, one voxel
 * for one voxel — segmented there, and the labels copied back onto the scan's own grid. Stacks that are
 * already axial (slices across the body's long axis, in any order or flip) are segmented as they are, so
 * their results do not change. Cost: one more copy of the HU voxels and two byte arrays, only for such
 * stacks.
 */
import type { Mat3, Vec3, Volume } from "../../../core/contracts/volume.js";
import { type OrientedView, orientedView } from "../preprocess/orientation.js";

export interface AxialOrder {
  /** The same voxels in LPS order, with the geometry that says so. */
  volume: Volume;
  /** A byte map of `volume`'s grid copied onto the scan's own grid. */
  toNative(map: Uint8Array): Uint8Array;
}

/** Null when the stack's slices already run across the body's long axis (its k axis is nearest LPS z). */
export function axialOrder(volume: Volume): AxialOrder | null {
  const view = orientedView(volume);
  if (view.axes[2].native === 2) return null;
  const oriented: Volume = { ...orientedGeometry(volume, view), data: copyOriented(volume.data, view) };
  return { volume: oriented, toNative: (map) => copyToNative(map, view) };
}

/** The geometry of the oriented copy: each LPS axis takes its native axis's direction (negated if flipped). */
function orientedGeometry(
  volume: Volume,
  view: OrientedView,
): Pick<Volume, "dims" | "spacing" | "origin" | "direction"> {
  const d = volume.direction;
  const column = (c: number): Vec3 => [d[c] as number, d[3 + c] as number, d[6 + c] as number];
  const direction = [0, 0, 0, 0, 0, 0, 0, 0, 0] as Mat3;
  const origin = [...volume.origin] as Vec3;
  view.axes.forEach(({ native, flipped }, p) => {
    const col = column(native);
    const sign = flipped ? -1 : 1;
    for (let r = 0; r < 3; r++) direction[3 * r + p] = sign * (col[r] as number);
    // The oriented copy's first voxel is the native voxel at the far end of every flipped axis.
    if (flipped) {
      const far = ((volume.dims[native] as number) - 1) * (volume.spacing[native] as number);
      for (let r = 0; r < 3; r++) origin[r] = (origin[r] as number) + far * (col[r] as number);
    }
  });
  return { dims: [...view.dims] as Vec3, spacing: [...view.spacing] as Vec3, origin, direction };
}

function copyOriented<T extends Int16Array | Float32Array>(data: T, view: OrientedView): T {
  const out = new (data.constructor as new (n: number) => T)(data.length);
  walk(view, data, out, "to-oriented");
  return out;
}

function copyToNative(map: Uint8Array, view: OrientedView): Uint8Array {
  const out = new Uint8Array(map.length);
  walk(view, map, out, "to-native");
  return out;
}

/** Copies every voxel between the native order (index n) and the oriented one (index o), either way. */
function walk(
  view: OrientedView,
  from: ArrayLike<number>,
  to: { [index: number]: number },
  way: "to-oriented" | "to-native",
): void {
  const [X, Y, Z] = view.dims;
  const [s0, s1, s2] = view.stride;
  const toOriented = way === "to-oriented";
  let o = 0;
  for (let z = 0; z < Z; z++)
    for (let y = 0; y < Y; y++) {
      let n = view.offset + y * s1 + z * s2;
      if (toOriented) for (let x = 0; x < X; x++, n += s0) to[o++] = from[n] as number;
      else for (let x = 0; x < X; x++, n += s0) to[n] = from[o++] as number;
    }
}
