/**
 * What every notebook does first: read the run configuration, register the kernel for in-place progress,
 * drop the stage's results from an earlier execution in the same run, and later record its headline metrics
 * for the run's index page.
 */
import { describedConfig, type RunConfig, runConfig, zooLabel } from "../config.ts";
import { dropResults } from "../eval/results.ts";
import { type KernelDisplay, useKernel } from "../viz/display.ts";
import type { Figure } from "../viz/plotly.ts";
import { table } from "../viz/table.ts";
import { profileTo, timed } from "../util/profile.ts";
import { waitForStages } from "../util/stages.ts";
import { type Stage, STAGES } from "./stages.ts";

export interface Headline {
  stage: string;
  title: string;
  metrics: Record<string, number | string>;
  figure?: Figure;
  /** A small table shown on the index under the stage (e.g. the final stage table). */
  table?: Record<string, unknown>[];
  recordedAt: string;
}

export function metricsPath(runDir: string, stage: string): string {
  return `${runDir}/metrics/${stage}.json`;
}

/** Seconds per phase of the stage's last execution (lib/util/profile.ts), read by the runner. */
export function profilePath(runDir: string, stage: string): string {
  return `${runDir}/profile/${stage}.json`;
}

export class NotebookRun {
  readonly stage: Stage;
  readonly cfg: RunConfig;

  constructor(stageId: string, kernel?: KernelDisplay) {
    const stage = STAGES.find((s) => s.id === stageId);
    if (!stage) throw new Error(`unknown stage "${stageId}" (known: ${STAGES.map((s) => s.id).join(", ")})`);
    this.stage = stage;
    this.cfg = runConfig();
    dropResults(this.cfg.runDir, stage.id);
    Deno.mkdirSync(`${this.cfg.runDir}/profile`, { recursive: true });
    profileTo(profilePath(this.cfg.runDir, stage.id));
    useKernel(kernel ?? null);
  }

  /** The configuration as a table (the notebook's first output). */
  configTable() {
    return table(
      Object.entries({ ...describedConfig(this.cfg), zoo: zooLabel(this.cfg.zoo) }).map((
        [setting, value],
      ) => ({
        setting,
        value: String(value),
      })),
      {
        title: `${this.stage.id} · ${this.stage.title}: run configuration`,
      },
    );
  }

  /**
   * Wait until the notebooks this one reads only late (its metadata's `ctrlab.waits`) are done: in a run they
   * may still be running beside it. Outside the runner (not headless) it returns at once.
   */
  async waitFor(stages: string[]): Promise<void> {
    await waitForStages(this.cfg, this.stage.id, stages);
  }

  /** Record the stage's headline numbers (and optionally one chart) for the run index. */
  async headline(
    metrics: Record<string, number | string>,
    figure?: Figure,
    table?: Record<string, unknown>[],
  ): Promise<Headline> {
    const h: Headline = {
      stage: this.stage.id,
      title: this.stage.title,
      metrics,
      figure,
      table,
      recordedAt: new Date().toISOString(),
    };
    await timed("writing", async () => {
      await Deno.mkdir(`${this.cfg.runDir}/metrics`, { recursive: true });
      await Deno.writeTextFile(metricsPath(this.cfg.runDir, this.stage.id), JSON.stringify(h, null, 2));
    });
    return h;
  }
}

export function startNotebook(stageId: string, kernel?: KernelDisplay): NotebookRun {
  return new NotebookRun(stageId, kernel);
}
