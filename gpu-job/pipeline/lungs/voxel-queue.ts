/**
 * A growable FIFO of voxel indices (Int32Array), reused across flood fills so no fill allocates per
 * voxel. After a fill that starts from an empty queue, entries [0, length) are exactly the voxels it
 * visited, in visiting order.
 */
export class VoxelQueue {
  private buf: Int32Array;
  length = 0;

  constructor(initialCapacity = 4096) {
    this.buf = new Int32Array(Math.max(16, initialCapacity));
  }

  get data(): Int32Array {
    return this.buf;
  }

  clear(): void {
    this.length = 0;
  }

  push(v: number): void {
    if (this.length === this.buf.length) {
      const next = new Int32Array(this.buf.length * 2);
      next.set(this.buf);
      this.buf = next;
    }
    this.buf[this.length++] = v;
  }

  at(n: number): number {
    return this.buf[n]!;
  }
}
