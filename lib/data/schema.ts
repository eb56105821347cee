/**
 * The ten-column AntM2C layout the generator writes (named as the public release names its columns). What the
 * ETL reads is described by a dataset spec (lib/data/spec.ts), where this layout is the built-in `antm2c-10`.
 */
export const RAW_COLUMNS = [
  "user_id",
  "item_id",
  "scene",
  "log_time",
  "label",
  "item_title",
  "item_entity_names",
  "query_entity_seq",
  "service_entity_seq",
  "bill_entity_seq",
] as const;
export type RawColumn = typeof RAW_COLUMNS[number];

/** Scenes 0–4 of AntM2C; each is a separate surface with its own click behaviour. */
export const SCENES = [0, 1, 2, 3, 4] as const;

/** Separator between entities inside the entity-name and entity-sequence fields. */
export const ENTITY_SEP = ",";
