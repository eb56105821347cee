/** Days as the pipeline counts them: whole UTC days since 1970-01-01, and their YYYY-MM-DD names. */
export const DAY_MS = 86_400_000;

/** "2023-05-01" → its day number. */
export const dayIndex = (date: string) => Math.round(Date.parse(`${date}T00:00:00Z`) / DAY_MS);

/** Day number → "2023-05-01". */
export const dayName = (day: number) => new Date(day * DAY_MS).toISOString().slice(0, 10);
