/**
 * What a command leaves tidy when Ctrl-C or a stopping container (SIGTERM) ends it. Node's default is to
 * exit on the spot, which left a half-written NIfTI beside the results, a hidden cursor and, for `submit`,
 * the zipped scan (patient name and all) in /tmp. Each registered clean-up runs, the asynchronous ones are
 * given a moment, then the process exits with the shell's status for the signal (130 / 143). A second
 * Ctrl-C meanwhile ends it at once (the listeners are `once`).
 */
type Cleanup = () => void | Promise<void>;

const cleanups = new Set<Cleanup>();
/** How long asynchronous clean-ups may take before the process exits anyway. */
const GRACE_MS = 2000;

const onSignal = (signal: NodeJS.Signals): void => {
  const exit = () => process.exit(signal === "SIGINT" ? 130 : 143);
  const pending = [...cleanups].reverse().map((c) => {
    try {
      return Promise.resolve(c()).catch(() => undefined);
    } catch {
      return undefined;
    }
  });
  setTimeout(exit, GRACE_MS).unref();
  void Promise.all(pending).then(exit, exit);
};

/**
 * Run `cleanup` if SIGINT or SIGTERM ends the process before the returned function is called (call it once
 * the thing to clean up is gone or handed over). Clean-ups run last registered first.
 */
export function onInterrupt(cleanup: Cleanup): () => void {
  if (cleanups.size === 0) {
    process.once("SIGINT", onSignal);
    process.once("SIGTERM", onSignal);
  }
  cleanups.add(cleanup);
  return () => {
    if (!cleanups.delete(cleanup) || cleanups.size > 0) return;
    process.off("SIGINT", onSignal);
    process.off("SIGTERM", onSignal);
  };
}
