/** A command-line mistake: print the usage text, exit 1, no stack trace. */
export class UsageError extends Error {
  override readonly name = "UsageError";
}
