/**
 * Runs of voxels along i, joined into connected sets by union-find: the scan-line labelling that the 3D
 * components (components.ts) and the per-slice air regions (air-mask.ts) both use.
 */

/** Growable runs [start, end) along i with a union-find forest over them (roots are the lowest index). */
export class RunList {
  start: Int32Array;
  end: Int32Array;
  parent: Int32Array;
  length = 0;

  constructor(capacity: number) {
    this.start = new Int32Array(capacity);
    this.end = new Int32Array(capacity);
    this.parent = new Int32Array(capacity);
  }

  /** Append run [s, e) as its own set; returns its index. */
  push(s: number, e: number): number {
    if (this.length === this.start.length) {
      this.start = doubled(this.start);
      this.end = doubled(this.end);
      this.parent = doubled(this.parent);
    }
    const n = this.length++;
    this.start[n] = s;
    this.end[n] = e;
    this.parent[n] = n;
    return n;
  }

  find(r: number): number {
    const parent = this.parent;
    while (parent[r] !== r) {
      const up = parent[parent[r]!]!;
      parent[r] = up;
      r = up;
    }
    return r;
  }

  /** Join run n with the runs in [from, to) (one row, in i order) that overlap it along i. */
  joinOverlapping(n: number, from: number, to: number): void {
    const s = this.start[n]!;
    const e = this.end[n]!;
    const start = this.start;
    const end = this.end;
    // The first run of that row ending after s, by binary search.
    let lo = from;
    let hi = to;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (end[mid]! <= s) lo = mid + 1;
      else hi = mid;
    }
    for (let q = lo; q < to && start[q]! < e; q++) {
      const a = this.find(n);
      const b = this.find(q);
      if (a < b) this.parent[b] = a;
      else if (b < a) this.parent[a] = b;
    }
  }
}

/** A copy of `a` twice as long (growing a run buffer). */
export function doubled(a: Int32Array): Int32Array {
  const b = new Int32Array(a.length * 2);
  b.set(a);
  return b;
}
