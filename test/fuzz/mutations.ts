/** Byte-level mutations shared by the fuzz suites: truncation, bit flips, and overwritten length fields. */
import fc from "fast-check";

export type Mutation =
  | { kind: "truncate"; at: number }
  | { kind: "flip"; flips: { at: number; bit: number }[] }
  | { kind: "length"; at: number; value: number; width: 2 | 4 };

/** Offsets are fractions of the file so one arbitrary fits any input size. */
export const mutationArb: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({
    kind: fc.constant("truncate" as const),
    at: fc.double({ min: 0, max: 1, noNaN: true }).map((x) => x),
  }),
  fc.record({
    kind: fc.constant("flip" as const),
    flips: fc.array(
      fc.record({ at: fc.double({ min: 0, max: 1, noNaN: true }), bit: fc.integer({ min: 0, max: 7 }) }),
      {
        minLength: 1,
        maxLength: 8,
      },
    ),
  }),
  fc.record({
    kind: fc.constant("length" as const),
    at: fc.double({ min: 0, max: 1, noNaN: true }),
    value: fc.oneof(
      fc.constantFrom(0, 1, 0xffff, 0xffffffff, 0x7fffffff, 0x80000000),
      fc.integer({ min: 0, max: 0xffffffff }),
    ),
    width: fc.constantFrom(2 as const, 4 as const),
  }),
);

/**
 * Apply a mutation. `hotZone` (bytes) concentrates offsets in the header, where parsers make decisions;
 * half of the cases use it, the rest spread over the whole file.
 */
export function mutate(bytes: Uint8Array, m: Mutation, hotZone: number): Uint8Array {
  const pos = (f: number, zone: boolean) =>
    Math.min(bytes.length - 1, Math.floor(f * (zone ? Math.min(hotZone, bytes.length) : bytes.length)));
  const out = new Uint8Array(bytes);
  switch (m.kind) {
    case "truncate":
      return out.subarray(0, Math.floor(m.at * bytes.length));
    case "flip":
      for (const [i, f] of m.flips.entries()) {
        const p = pos(f.at, i % 2 === 0);
        out[p] = out[p]! ^ (1 << f.bit);
      }
      return out;
    case "length": {
      const p = pos(m.at, true);
      const dv = new DataView(out.buffer, out.byteOffset, out.byteLength);
      if (p + m.width <= out.length) {
        if (m.width === 2) dv.setUint16(p, m.value & 0xffff, true);
        else dv.setUint32(p, m.value >>> 0, true);
      }
      return out;
    }
  }
}
