/** 4-connected flood fills within one plane (a slice, or a lung's box in it) of per-pixel marks. */
import type { VoxelQueue } from "./voxel-queue.js";

/**
 * Turn every `from` pixel of a w x h plane that reaches the plane's border through `from` pixels into
 * `to`; `queue` (cleared first) ends holding them.
 */
export function floodFromBorder(
  mark: Uint8Array,
  w: number,
  h: number,
  queue: VoxelQueue,
  from: number,
  to: number,
): void {
  queue.clear();
  const seed = (p: number): void => {
    if (mark[p] !== from) return;
    mark[p] = to;
    queue.push(p);
  };
  for (let i = 0; i < w; i++) {
    seed(i);
    seed(i + w * (h - 1));
  }
  for (let j = 0; j < h; j++) {
    seed(w * j);
    seed(w - 1 + w * j);
  }
  spread(mark, w, h, queue, from, to);
}

/** 4-connected in-plane flood over `from` pixels, turning them into `to`, continuing `queue`. */
export function spread(
  mark: Uint8Array,
  w: number,
  h: number,
  queue: VoxelQueue,
  from: number,
  to: number,
): void {
  for (let head = 0; head < queue.length; head++) {
    const p = queue.at(head);
    const j = (p / w) | 0;
    const i = p - j * w;
    if (i > 0 && mark[p - 1] === from) {
      mark[p - 1] = to;
      queue.push(p - 1);
    }
    if (i < w - 1 && mark[p + 1] === from) {
      mark[p + 1] = to;
      queue.push(p + 1);
    }
    if (j > 0 && mark[p - w] === from) {
      mark[p - w] = to;
      queue.push(p - w);
    }
    if (j < h - 1 && mark[p + w] === from) {
      mark[p + w] = to;
      queue.push(p + w);
    }
  }
}
