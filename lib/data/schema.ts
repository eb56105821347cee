/** The AntM2C raw log schema, exactly as the public release names its columns. */
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

/** The two `log_time` layouts seen in the wild (chrono/strptime patterns). */
export const LOG_TIME_FORMATS = ["%Y-%m-%d %H:%M:%S", "%Y/%m/%d %H:%M"] as const;

/** Separator between entities inside the entity-name and entity-sequence fields. */
export const ENTITY_SEP = ",";

/**
 * Columns of the cleaned table (one Parquet file per date=/scene= partition). `date` and `scene` live in the
 * partition path, as Spark, DuckDB and pandas expect; `row_id` is the record's ordinal in the raw input
 * (files in sorted order, header excluded), the key that joins back to the generator's oracle file.
 */
export const CLEAN_FILE_COLUMNS = [
  "row_id",
  "user_id",
  "item_id",
  "log_time",
  "label",
  "item_title",
  "item_entity_names",
  "query_entity_seq",
  "service_entity_seq",
  "bill_entity_seq",
] as const;
