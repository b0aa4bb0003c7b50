/**
 * Progress on stderr (stdout stays clean for --json). A bar on a terminal; on a pipe or CI log a line every
 * few seconds so long runs still show life without flooding the log.
 */
import cliProgress from "cli-progress";
import { onInterrupt } from "./interrupt.js";

export interface Progress {
  update(stage: string, done: number, total: number): void;
  stop(): void;
}

export function createProgress(enabled = true): Progress {
  if (!enabled) return { update() {}, stop() {} };
  if (process.stderr.isTTY) {
    const bar = new cliProgress.SingleBar(
      {
        stream: process.stderr,
        format: "{stage} [{bar}] {value}/{total}",
        hideCursor: true,
        clearOnComplete: true,
      },
      cliProgress.Presets.shades_classic,
    );
    let current = "";
    // The bar hides the cursor (and turns line wrapping off) while it runs: an interrupt must give them back.
    let release: (() => void) | undefined;
    return {
      update(stage, done, total) {
        if (stage !== current) {
          if (current) bar.stop();
          release ??= onInterrupt(() => bar.stop());
          bar.start(total, done, { stage: stage.padEnd(8) });
          current = stage;
        } else bar.update(done);
      },
      stop() {
        if (current) bar.stop();
        release?.();
        release = undefined;
      },
    };
  }
  let last = 0;
  return {
    update(stage, done, total) {
      const now = Date.now();
      if (now - last > 5000 || done === total) {
        last = now;
        process.stderr.write(`${stage}: ${done}/${total}\n`);
      }
    },
    stop() {},
  };
}
