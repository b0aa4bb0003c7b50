/** What every benchmark record says about the machine it ran on (load averages: same-run context). */
import { cpus } from "node:os";

export function machineInfo(loadAverageBefore: number[], loadAverageAfter: number[]) {
  return {
    platform: `${process.platform} ${process.arch}`,
    node: process.version,
    cpu: cpus()[0]?.model ?? "unknown",
    cores: cpus().length,
    loadAverageBefore,
    loadAverageAfter,
  };
}
