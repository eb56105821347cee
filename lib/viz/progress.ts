/**
 * Progress for long loops. In an interactive kernel (registered with useKernel) one output line updates in
 * place; headless (notebook runner, tests, CLI) it prints a sparse line every `every` of the way.
 */
import { currentKernel, isHeadless } from "./display.ts";

export interface Progress {
  /** Advance by n units; `info` is shown beside the bar (e.g. the current loss). */
  tick(n?: number, info?: string): void;
  done(info?: string): void;
}

let ids = 0;

export function progress(total: number, label = "progress", every = 0.25): Progress {
  const kernel = isHeadless() ? null : currentKernel();
  const id = `ctrlab-progress-${Date.now().toString(36)}-${ids++}`;
  const t0 = performance.now();
  let done = 0, nextPrint = every, shown = false, lastDraw = -Infinity;
  const line = (info?: string) => {
    const f = total > 0 ? Math.min(1, done / total) : 1;
    const secs = (performance.now() - t0) / 1000;
    if (!(total > 0)) {
      return `${label} ${done.toLocaleString("en-US")} ${secs.toFixed(1)}s${info ? "  " + info : ""}`; // total unknown
    }
    const bar = "█".repeat(Math.round(f * 24)).padEnd(24, "·");
    return `${label} ${bar} ${(100 * f).toFixed(0).padStart(3)}% ${done.toLocaleString("en-US")}/${
      total.toLocaleString("en-US")
    } ${secs.toFixed(1)}s${info ? "  " + info : ""}`;
  };
  const draw = (info?: string, force = false) => {
    if (kernel) {
      const now = performance.now();
      if (!force && now - lastDraw < 200) return;
      lastDraw = now;
      kernel.display({ "text/plain": line(info) }, { raw: true, update: shown, display_id: id });
      shown = true;
    } else if (force || (total > 0 && done / total >= nextPrint)) { // an unknown total (0) prints only when done
      console.log(line(info));
      while (total > 0 && nextPrint <= done / total) nextPrint += every;
    }
  };
  return {
    tick(n = 1, info?: string) {
      done += n;
      draw(info);
    },
    done(info?: string) {
      done = Math.max(done, total);
      if (kernel || nextPrint <= 1) draw(info, true);
    },
  };
}
