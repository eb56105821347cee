/**
 * The model zoo as configuration — each family's model function, default hyper-parameters, optimizer and the
 * fit budget, in one place (FuxiCTR's model_config, DeepCTR's model zoo). An experiment spec names a family
 * and overrides what it wants; adding a model is a file in lib/models plus an entry here.
 */
import type { OptimizerConfig } from "../graph/optim.ts";
import type { ModelFn } from "../graph/program.ts";
import { dcn } from "../models/dcn.ts";
import { dcnDin, din } from "../models/din.ts";
import { dnn } from "../models/dnn.ts";
import { fusion } from "../models/fusion.ts";
import { logistic } from "../models/logistic.ts";
import { mmoe } from "../models/mmoe.ts";
import { ple } from "../models/ple.ts";
import { sharedBottom } from "../models/shared_bottom.ts";
import { deepFm, fm } from "../models/fm.ts";
import { withSceneFactors } from "../models/scene_factors.ts";
import { star } from "../models/star.ts";
import type { FitOptions } from "../train/trainer.ts";

/** What the data gives every model: input widths and vocabularies, from the table manifest and the spec's inputs. */
export interface ModelDims {
  dense: number;
  userVocab: number;
  itemVocab: number;
  fields?: number[];
  scenes: number;
  /** Output columns: 1, or one per scene when scenes are tasks. */
  tasks: number;
  text?: number;
  fallback?: boolean;
  itemVec?: number;
  seqLen?: number;
}

export type Params = Record<string, number | number[] | string | boolean>;

/** The fit budget every model shares unless its family or spec says otherwise. */
export type FitBudget = Pick<FitOptions, "epochs" | "batchSize" | "lr" | "patience" | "reduceOnPlateau">;
export const FIT_BUDGET: FitBudget = {
  epochs: 6,
  batchSize: 1024,
  lr: 1e-3,
  patience: 2,
  reduceOnPlateau: { factor: 0.5, patience: 1 },
};

export interface ModelFamily {
  /** The lib/models file that defines it (shown in the notebooks). */
  source: string;
  describe: string;
  /** Scenes as tasks (a tower per scene) or one output. */
  tasks: "single" | "scenes";
  /** Reads the behaviour sequence (inputs hist_item, hist_scene, hist_mask). */
  sequence?: boolean;
  defaults: Params;
  optimizer: OptimizerConfig;
  fit?: Partial<FitBudget>;
  build: (d: ModelDims, p: Params) => ModelFn;
}

const ADAM: OptimizerConfig = { type: "adam" };
// deno-lint-ignore no-explicit-any
const cfg = (d: ModelDims, p: Params): any => ({ ...d, ...p });

export const MODELS: Record<string, ModelFamily> = {
  LR: {
    source: "logistic.ts",
    describe: "logistic regression on the dense features",
    tasks: "single",
    defaults: {},
    optimizer: ADAM,
    fit: { lr: 0.01 },
    build: (d) => logistic({ dense: d.dense }),
  },
  DNN: {
    source: "dnn.ts",
    describe: "MLP 128-64 on dense + id embeddings",
    tasks: "single",
    optimizer: ADAM,
    defaults: { embDim: 16, hidden: [128, 64] },
    build: (d, p) => dnn(cfg(d, p)),
  },
  DCN: {
    source: "dcn.ts",
    describe: "3 rank-1 cross layers ∥ MLP 128-64 → linear",
    tasks: "single",
    optimizer: ADAM,
    defaults: { embDim: 16, crossLayers: 3, version: "v1", hidden: [128, 64] },
    build: (d, p) => dcn(cfg(d, p)),
  },
  "DCN-V2": {
    source: "dcn.ts",
    describe: "3 full-matrix cross layers ∥ MLP 128-64 → linear",
    tasks: "single",
    optimizer: ADAM,
    defaults: { embDim: 16, crossLayers: 3, version: "v2", hidden: [128, 64] },
    build: (d, p) => dcn(cfg(d, p)),
  },
  DIN: {
    source: "din.ts",
    describe: "target attention (Dice unit 36) over the last clicks → MLP 128-64 with Dice",
    tasks: "single",
    sequence: true,
    optimizer: ADAM,
    defaults: { embDim: 16, seqLen: 20, attention: [36], hidden: [128, 64] },
    build: (d, p) => din(cfg(d, p)),
  },
  "DCN-DIN": {
    source: "din.ts",
    tasks: "single",
    sequence: true,
    describe:
      "DIN interest + embeddings into DCN-V2; AdamW, global-norm clipping 1.0, reduce-on-plateau, early stopping",
    defaults: { embDim: 16, seqLen: 20, attention: [36], crossLayers: 3, version: "v2", hidden: [128, 64] },
    optimizer: { type: "adamw", weightDecay: 1e-4, clipNorm: 1.0 },
    build: (d, p) => dcnDin(cfg(d, p)),
  },
  FM: {
    source: "fm.ts",
    describe: "bias + dense linear + a weight per id + pairwise factor interactions of the id fields",
    tasks: "single",
    optimizer: ADAM,
    defaults: { embDim: 16 },
    build: (d, p) => fm(cfg(d, p)),
  },
  DeepFM: {
    source: "fm.ts",
    describe: "FM ∥ MLP 128-64, sharing the id embeddings",
    tasks: "single",
    optimizer: ADAM,
    defaults: { embDim: 16, hidden: [128, 64] },
    build: (d, p) => deepFm(cfg(d, p)),
  },
  "Shared-Bottom": {
    source: "shared_bottom.ts",
    describe: "one shared MLP, a tower per scene",
    tasks: "scenes",
    optimizer: ADAM,
    defaults: { embDim: 16, bottom: [128, 64], tower: [32, 1] },
    build: (d, p) => sharedBottom(cfg(d, p)),
  },
  MMoE: {
    source: "mmoe.ts",
    describe: "6 shared experts (64), a softmax gate and a tower per scene",
    tasks: "scenes",
    optimizer: ADAM,
    defaults: { embDim: 16, experts: 6, expertHidden: 64, tower: [32, 1] },
    build: (d, p) => mmoe(cfg(d, p)),
  },
  PLE: {
    source: "ple.ts",
    describe: "2 CGC levels: 3 shared experts and 1 per scene (48), gates and towers per scene",
    tasks: "scenes",
    optimizer: ADAM,
    defaults: { embDim: 16, levels: 2, sharedExperts: 3, taskExperts: 1, expertHidden: 48, tower: [32, 1] },
    build: (d, p) => ple(cfg(d, p)),
  },
  STAR: {
    source: "star.ts",
    tasks: "scenes",
    optimizer: ADAM,
    describe:
      "star topology: per-scene FC weights = shared ⊙ scene's (256-128), partitioned normalisation, auxiliary per-scene head",
    defaults: { embDim: 16, hidden: [256, 128], aux: [32] }, // hidden chosen on validation at 1M (README)
    build: (d, p) => star(cfg(d, p)),
  },
  Fusion: {
    source: "fusion.ts",
    describe: "MMoE backbone + text-only content tower, mixed per row by a learned gate α",
    tasks: "scenes",
    optimizer: ADAM,
    defaults: { embDim: 16, experts: 6, expertHidden: 64, tower: [32, 1], content: [64] },
    build: (d, p) => fusion(cfg(d, p)),
  },
};

/** 04_dnn's single-task zoo, the DNN first (the baseline of the others); RunConfig.zoo picks a subset of the rest. */
export const ZOO = ["DNN", "DCN", "DCN-V2", "DIN", "DCN-DIN", "FM", "DeepFM"];

/**
 * A spec's model function: its family's, with the scene-wise factorisation term added when the params ask
 * (`sceneFactors`: the factor width; `sceneFactorMode`: "diagonal" (default: shared factors, a weight per scene
 * and factor) or "per-scene" (factors per scene); chosen on validation AUC at 1M rows, README) — for any family.
 */
export function buildModel(name: string, d: ModelDims, p: Params): ModelFn {
  const fn = family(name).build(d, p);
  if (!p.sceneFactors) return fn;
  const mode = (p.sceneFactorMode ?? "diagonal") as "per-scene" | "diagonal";
  if (mode !== "per-scene" && mode !== "diagonal") {
    throw new Error(`sceneFactorMode must be per-scene or diagonal, got ${mode}`);
  }
  return withSceneFactors(fn, { ...d, k: p.sceneFactors as number, mode });
}

/** A family by name, or an error that lists the zoo. */
export function family(name: string): ModelFamily {
  const f = MODELS[name];
  if (!f) throw new Error(`unknown model "${name}" (the zoo: ${Object.keys(MODELS).join(", ")})`);
  return f;
}
