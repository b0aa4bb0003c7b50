/** How many elements differ, plus the length difference (toEqual on arrays of millions is far too slow). */
export function differing(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let n = 0;
  for (let v = 0; v < a.length; v++) if (a[v] !== b[v]) n++;
  return n + Math.abs(a.length - b.length);
}
