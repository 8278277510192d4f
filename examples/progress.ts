/** A terminal progress bar fed by vmap's `onProgress`: redrawn in place on a TTY, in quarters otherwise. */
import type { BatchProgress } from "weft";

/** Returns an `onProgress` callback that draws `label`'s progress on stderr. */
export function progressBar(label: string, stream: NodeJS.WriteStream = process.stderr): (p: BatchProgress) => void {
  let lastQuarter = -1;
  return ({ done, failed, total }) => {
    const ratio = total === 0 ? 1 : done / total;
    if (stream.isTTY) {
      const width = 30;
      const filled = Math.round(ratio * width);
      stream.write(`\r  ${label} [${"█".repeat(filled)}${" ".repeat(width - filled)}] ${done}/${total}${failed ? ` (${failed} failed)` : ""}`);
      if (done === total) stream.write("\n");
      return;
    }
    const quarter = Math.floor(ratio * 4);
    if (quarter !== lastQuarter) {
      lastQuarter = quarter;
      stream.write(`  ${label}: ${done}/${total}${failed ? ` (${failed} failed)` : ""}\n`);
    }
  };
}
