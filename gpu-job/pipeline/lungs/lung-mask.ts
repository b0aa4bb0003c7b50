/**
 * Both lungs as one 0/1 mask (the model's input masking). A plain loop: `Uint8Array.from(labels, fn)`
 * calls a function per voxel through the iterator protocol and took about 10 s CPU on a 512 x 512 x 300
 * volume, against under half a second for this.
 */
export function binaryLungMask(labels: Uint8Array): Uint8Array {
  const mask = new Uint8Array(labels.length);
  for (let v = 0; v < labels.length; v++) if (labels[v] !== 0) mask[v] = 1;
  return mask;
}
