/** The ten stages of the ctrlab pipeline, one notebook each, in order. */
export interface Stage {
  id: string;
  title: string;
  question: string;
}

export const STAGES: Stage[] = [
  {
    id: "01_etl",
    title: "ETL",
    question: "Raw CSV logs → validated, Hive-partitioned Parquet; every row accounted for.",
  },
  {
    id: "02_features",
    title: "Behaviour features",
    question: "Point-in-time user, item and user×item history without label leakage.",
  },
  {
    id: "03_join",
    title: "Training table",
    question: "Features joined to impressions; temporal train / validation / test split.",
  },
  { id: "04_dnn", title: "DNN baseline", question: "How far does a plain embedding + MLP model get?" },
  { id: "05_mmoe", title: "MMoE", question: "Do scenes as tasks with shared experts beat one shared model?" },
  { id: "06_ple", title: "PLE", question: "Do task-specific experts help where scenes conflict?" },
  {
    id: "07_text",
    title: "Text embeddings",
    question: "What do item and user texts add, especially for cold start?",
  },
  { id: "08_fusion", title: "Fusion", question: "A learned gate between behaviour and content towers." },
  {
    id: "09_fallback",
    title: "Cold-start fallback",
    question: "Text fallback embeddings for unseen users and items.",
  },
  {
    id: "10_final_eval",
    title: "Final evaluation",
    question: "Validation-selected models scored once on test, by scene × coldness.",
  },
];
