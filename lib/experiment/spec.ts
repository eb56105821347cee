/**
 * An experiment spec: everything that decides one model run, as plain JSON — the model family and its
 * hyper-parameters, the inputs, the tasks, the optimizer and fit budget, the baseline it is compared with and
 * the stage that records it. `resolveSpec` fills in the family's defaults (lib/experiment/models.ts), so the
 * saved spec says exactly what ran.
 */
import type { OptimizerConfig } from "../graph/optim.ts";
import type { FallbackOptions } from "../train/tables.ts";
import { family, FIT_BUDGET, type FitBudget, type Params } from "./models.ts";

/**
 * Inputs beyond what every table row gives (the dense behaviour features, the spec's numeric columns, and the
 * user, item and categorical ids — each family's model function takes what it uses of those).
 */
export interface InputSpec {
  /** Whitened user and item text vectors (07_text's, read from the run's text/). */
  text?: boolean;
  /** The last N clicks before the day (DIN-style models); the family's default length when true. */
  sequence?: number | boolean;
  /** A precomputed item vector: α·content + (1−α)·collaborative (07_text's item embeddings, passed in). */
  itemVec?: { alpha: number };
  /** Cold-start text fallback for ids with few training impressions (needs text). */
  fallback?: FallbackOptions;
  /** Weight each scene's loss by share^−½ (scenes as tasks). */
  sceneWeights?: boolean;
}

/** Slices the test rows are reported by (each beside the baseline when there is one). */
export const SLICE_DIMENSIONS = ["scene", "user coldness", "item coldness", "sequence length"] as const;
export type SliceDimension = typeof SLICE_DIMENSIONS[number];

export interface ExperimentSpec {
  /** The name in results, predictions and charts ("MMoE+text"); default: the model family's name. */
  name?: string;
  /** The notebook stage that records it ("05_mmoe"). */
  stage: string;
  /** A family of the zoo (lib/experiment/models.ts). */
  model: string;
  /** Overrides of the family's hyper-parameters. */
  params?: Params;
  inputs?: InputSpec;
  /** "scenes": a tower per scene (the label in the row's scene column); "single": one output. Default: the family's. */
  tasks?: "single" | "scenes";
  optimizer?: OptimizerConfig;
  fit?: Partial<FitBudget>;
  /** A model whose saved predictions this one is compared with, row by row (paired bootstrap). */
  baseline?: string;
  /** Slices of the test rows; default scene, user and item coldness (and sequence length with a sequence). */
  slices?: SliceDimension[];
  /** Eval-graph extras to report: "gates" averaged per scene (validation rows), "alpha" per test row. */
  outputs?: ("gates" | "alpha")[];
  /** Bootstrap resamples for the intervals (default 200). */
  resamples?: number;
}

export interface ResolvedSpec extends Required<Omit<ExperimentSpec, "baseline">> {
  baseline?: string;
  inputs: InputSpec;
  fit: FitBudget;
}

/** The spec with the family's defaults filled in: what is saved beside the results. */
export function resolveSpec(s: ExperimentSpec): ResolvedSpec {
  const f = family(s.model);
  const inputs: InputSpec = { ...(f.sequence ? { sequence: true } : {}), ...s.inputs };
  if (inputs.fallback && !inputs.text) {
    throw new Error(`${s.name ?? s.model}: the cold-start fallback projects text: set inputs.text too`);
  }
  if (f.sequence && !inputs.sequence) {
    throw new Error(`${s.model} reads the behaviour sequence: inputs.sequence cannot be off`);
  }
  const params = { ...f.defaults, ...s.params };
  if (inputs.sequence) {
    params.seqLen = typeof inputs.sequence === "number"
      ? inputs.sequence
      : (params.seqLen as number | undefined) ?? 20;
  }
  const slices = s.slices ??
    ["scene", "user coldness", "item coldness", ...(inputs.sequence ? ["sequence length" as const] : [])];
  return {
    name: s.name ?? s.model,
    stage: s.stage,
    model: s.model,
    params,
    inputs,
    tasks: s.tasks ?? f.tasks,
    optimizer: s.optimizer ?? f.optimizer,
    fit: { ...FIT_BUDGET, ...f.fit, ...s.fit },
    ...(s.baseline ? { baseline: s.baseline } : {}),
    slices,
    outputs: s.outputs ?? [],
    resamples: s.resamples ?? 200,
  };
}

/** File-name form of an experiment name: predictions/<slug>_<split>.parquet, models/<slug>.onnx, experiments/<slug>.json. */
export const slug = (name: string) => name.toLowerCase();
