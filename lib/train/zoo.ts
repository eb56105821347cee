/**
 * The single-task model zoo of 04_dnn, as configuration: each entry names a model function, its defaults and
 * how it is trained (FuxiCTR-style: an experiment is a model name, its hyper-parameters and the feature
 * columns). `trainModel` fits one on a table, restores the best validation epoch and scores val and test.
 */
import type { OptimizerConfig } from "../graph/optim.ts";
import { compile, type ModelFn } from "../graph/program.ts";
import { DCN_DEFAULTS, dcn } from "../models/dcn.ts";
import { DIN_DEFAULTS, dcnDin, din } from "../models/din.ts";
import { DNN_DEFAULTS, dnn } from "../models/dnn.ts";
import type { CtrInputs } from "../models/inputs.ts";
import type { Backend } from "./backend.ts";
import type { TableData } from "./data.ts";
import { TrainSession } from "./session.ts";
import { type EvalResult, evaluateTable, fit, type FitOptions, type FitResult } from "./trainer.ts";

/** What every zoo model is built from: the table's inputs, plus the behaviour sequence for DIN-style models. */
export interface ZooInputs extends Omit<CtrInputs, "embDim"> {
  seqLen: number;
  scenes: number;
}

export interface ZooEntry {
  /** Whether the model reads the behaviour sequence (inputs hist_item, hist_scene, hist_mask). */
  sequence: boolean;
  build: (c: ZooInputs) => ModelFn;
  optimizer: OptimizerConfig;
  /** Fit options that differ from the zoo's common ones. */
  fit?: Partial<FitOptions>;
  describe: string;
}

export const ZOO: Record<string, ZooEntry> = {
  DNN: { sequence: false, build: (c) => dnn({ ...c, ...DNN_DEFAULTS }), optimizer: { type: "adam" }, describe: "MLP 128-64 on dense + id embeddings" },
  DCN: { sequence: false, build: (c) => dcn({ ...c, ...DCN_DEFAULTS }), optimizer: { type: "adam" }, describe: "3 rank-1 cross layers ∥ MLP 128-64 → linear" },
  "DCN-V2": {
    sequence: false, build: (c) => dcn({ ...c, ...DCN_DEFAULTS, version: "v2" }), optimizer: { type: "adam" }, describe: "3 full-matrix cross layers ∥ MLP 128-64 → linear",
  },
  DIN: {
    sequence: true, build: (c) => din({ ...c, ...DIN_DEFAULTS, seqLen: c.seqLen }), optimizer: { type: "adam" },
    describe: "target attention (Dice unit 36) over the last clicks → MLP 128-64 with Dice",
  },
  "DCN-DIN": {
    sequence: true, build: (c) => dcnDin({ ...c, ...DCN_DEFAULTS, version: "v2", attention: DIN_DEFAULTS.attention, seqLen: c.seqLen }),
    optimizer: { type: "adamw", weightDecay: 1e-4, clipNorm: 1.0 }, fit: { reduceOnPlateau: { factor: 0.5, patience: 1 }, patience: 2 },
    describe: "DIN interest + embeddings into DCN-V2; AdamW, global-norm clipping 1.0, reduce-on-plateau, early stopping",
  },
};

export interface TrainedModel {
  name: string;
  session: TrainSession;
  params: number;
  fit: FitResult;
  val: EvalResult;
  test: EvalResult;
  seconds: number;
}

/** Fit `ZOO[name]` (or any model function) on train, early-stopped on val; returns the session with the best weights. */
export async function trainModel(name: string, model: ModelFn, optimizer: OptimizerConfig, data: { train: TableData; val: TableData; test: TableData }, backend: Backend, o: FitOptions & { seed: number }): Promise<TrainedModel> {
  const t0 = performance.now();
  const compiled = compile(model, { optimizer, sparseWriteBack: backend.name === "webgpu" ? "graph" : "host" });
  const session = await TrainSession.create(compiled, backend, { seed: o.seed });
  const result = await fit(session, data.train, data.val, { progressLabel: name, ...o });
  const [val, test] = [await evaluateTable(session, data.val), await evaluateTable(session, data.test)];
  const params = compiled.params.filter((p) => !p.buffer).reduce((a, p) => a + p.shape.reduce((x, y) => x * y, 1), 0);
  return { name, session, params, fit: result, val, test, seconds: (performance.now() - t0) / 1000 };
}
