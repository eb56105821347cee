/**
 * Rich display without touching `Deno.jupyter` (which throws outside the kernel): objects carry
 * `[Symbol.for("Jupyter.display")]`, which the Deno kernel calls to get a MIME bundle. The same objects print
 * sensibly in a terminal through their text/plain part.
 */
import { runConfig } from "../config.ts";
import { timed } from "../util/profile.ts";

export type MimeBundle = Record<string, unknown>;
export const JUPYTER_DISPLAY = Symbol.for("Jupyter.display");

export interface Displayable {
  [JUPYTER_DISPLAY](): MimeBundle;
  /** The bundle, for tests and for exporters. */
  bundle(): MimeBundle;
  toString(): string;
}

export function displayable(build: () => MimeBundle): Displayable {
  const make = () => timed("charts", build);
  return {
    [JUPYTER_DISPLAY]: make,
    bundle: make,
    toString: () => String(make()["text/plain"] ?? ""),
  };
}

/** What lib/ needs of a kernel for in-place updates; `Deno.jupyter` satisfies it. */
export interface KernelDisplay {
  display(obj: unknown, options?: { raw?: boolean; update?: boolean; display_id?: string }): Promise<void>;
}

let kernel: KernelDisplay | null = null;

/** Register the notebook's kernel (notebooks pass `Deno.jupyter`); outside a kernel there is none. */
export function useKernel(k: KernelDisplay | null): void {
  kernel = k;
}

export function currentKernel(): KernelDisplay | null {
  return kernel;
}

/** True when notebooks run unattended (the run configuration's `headless`, set by the notebook runner). */
export function isHeadless(): boolean {
  return runConfig().headless;
}

export function escapeHtml(s: string): string {
  return s.replaceAll("&", "&amp;").replaceAll("<", "&lt;").replaceAll(">", "&gt;").replaceAll('"', "&quot;");
}

/** Markdown shown as a cell output (headings and prose computed from results). */
export function md(text: string): Displayable {
  return displayable(() => ({ "text/markdown": text, "text/plain": text }));
}
