/**
 * The feature catalogue, declared once: each behaviour feature is (entity, window, statistic[, scene]); the
 * per-scene counts follow the dataset's scene list.
 * A window is a range of whole days before the impression's day (`days`), so the catalogue says what each
 * feature counts and the engines say how: lib/features/history.ts compiles it to polars expressions,
 * lib/features/sql.ts to Spark SQL, and a parity test holds the two to the same values. Notebooks print it;
 * the training table's manifest lists it. Adding a feature is one line here (a new statistic: one case in
 * each compiler).
 */
export type Entity = "user" | "item" | "pair";
export type Window = "prev_day" | "7d" | "cum" | "first_seen";
export type Stat = "imp" | "clk" | "ctr" | "sctr" | "days";

/**
 * Days D − from … D − to before an impression on day D (`to` null: every earlier day). With the seed's leaky
 * variant every window moves one day later (D − from + 1 …), so the current day counts.
 */
export interface DayRange {
  from: number;
  to: number | null;
}

/** The day range of each window ("first_seen" has none: it is the days since the entity's first day). */
export const WINDOW_DAYS: Record<Exclude<Window, "first_seen">, DayRange> = {
  prev_day: { from: 1, to: 1 },
  "7d": { from: 1, to: 7 },
  cum: { from: 1, to: null },
};

export interface FeatureDef {
  /** Column name in the training table, e.g. u_ctr_7d. */
  name: string;
  entity: Entity;
  window: Window;
  stat: Stat;
  scene?: number;
  /** The days the window counts (absent for "first_seen"). */
  days?: DayRange;
  /** Internal column in the per-entity history frame. */
  column: string;
  /** Counts are log1p-transformed before standardisation; ratios are standardised as is. */
  transform: "log1p" | "none";
  description: string;
}

const PREFIX: Record<Entity, string> = { user: "u", item: "i", pair: "ui" };
const WHO: Record<Entity, string> = { user: "user", item: "item", pair: "user×item pair" };

function def(
  entity: Entity,
  window: Window,
  stat: Stat,
  column: string,
  description: string,
  scene?: number,
): FeatureDef {
  const name = `${PREFIX[entity]}_${column}`;
  return {
    name,
    entity,
    window,
    stat,
    scene,
    ...(window === "first_seen" ? {} : { days: WINDOW_DAYS[window] }),
    column,
    transform: stat === "imp" || stat === "clk" || stat === "days" ? "log1p" : "none",
    description: `${WHO[entity]}: ${description}`,
  };
}

function entityDefs(e: Entity, scenes: number): FeatureDef[] {
  const out = [
    def(e, "prev_day", "imp", "imp_1d", "impressions on the previous day"),
    def(e, "prev_day", "clk", "clk_1d", "clicks on the previous day"),
    def(e, "7d", "imp", "imp_7d", "impressions in the 7 days before"),
    def(e, "7d", "clk", "clk_7d", "clicks in the 7 days before"),
    def(e, "7d", "ctr", "ctr_7d", "CTR over the 7 days before (0 without impressions)"),
    def(e, "cum", "imp", "imp_cum", "impressions before this day"),
    def(e, "cum", "clk", "clk_cum", "clicks before this day"),
    def(e, "cum", "ctr", "ctr_cum", "CTR before this day (0 without impressions)"),
  ];
  if (e === "pair") return out.filter((d) => d.window === "cum");
  out.push(
    def(e, "cum", "sctr", "sctr_cum", "Beta-smoothed CTR before this day (prior fitted on training days)"),
  );
  out.push(def(e, "first_seen", "days", "days_seen", "days since first seen"));
  for (let s = 0; scenes > 1 && s < scenes; s++) { // with one scene the per-scene counts would repeat the totals
    out.push(def(e, "cum", "imp", `imp_s${s}`, `impressions in scene ${s} before this day`, s));
    out.push(def(e, "cum", "clk", `clk_s${s}`, `clicks in scene ${s} before this day`, s));
  }
  return out;
}

/** The behaviour features for data with `scenes` scenes (per-scene counts only where there is more than one). */
export function featureDefs(scenes: number): FeatureDef[] {
  return [...entityDefs("user", scenes), ...entityDefs("item", scenes), ...entityDefs("pair", scenes)];
}

/** The catalogue as rows for a table display. */
export function catalogue(
  scenes: number,
): { name: string; entity: string; window: string; stat: string; scene: string; description: string }[] {
  return featureDefs(scenes).map((d) => ({
    name: d.name,
    entity: d.entity,
    window: d.window,
    stat: d.stat,
    scene: d.scene === undefined ? "" : String(d.scene),
    description: d.description,
  }));
}
