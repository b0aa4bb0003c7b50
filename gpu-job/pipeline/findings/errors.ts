/** Inputs computeFindings cannot measure (mismatched grids, non-finite values, bad options): a bug upstream. */
export class FindingsInputError extends Error {
  override readonly name = "FindingsInputError";
}
