/**
 * `bash scripts/lab.sh` starts JupyterLab 4 from the project's .venv with the committed Deno kernelspec: a test
 * opens a notebook through Lab's REST API, starts a session on the Deno kernel, executes a cell over the
 * kernel's websocket and reads back its result — with the run configuration lab.sh handed the kernel — then
 * shuts it all down.
 */
import { REPO_ROOT } from "../lib/config.ts";
import { assert, assertEquals } from "./assert.ts";

async function freePort(): Promise<number> {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (l.addr as Deno.NetAddr).port;
  l.close();
  return port;
}

async function waitFor<T>(what: string, f: () => Promise<T | null>, seconds: number): Promise<T> {
  const until = Date.now() + seconds * 1000;
  let last = "";
  while (Date.now() < until) {
    try {
      const v = await f();
      if (v !== null) return v;
    } catch (e) {
      last = String(e);
    }
    await new Promise((r) => setTimeout(r, 500));
  }
  throw new Error(`timed out waiting for ${what} ${last}`);
}

/** Execute `code` on a kernel over Jupyter Server's websocket; the text/plain of its execute_result. */
function execute(ws: WebSocket, code: string, seconds = 120): Promise<string> {
  const msgId = crypto.randomUUID();
  return new Promise((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`no result for ${code} in ${seconds} s`)),
      seconds * 1000,
    );
    ws.addEventListener("message", (ev) => {
      const m = JSON.parse(ev.data as string);
      if (m.parent_header?.msg_id !== msgId) return;
      if (m.msg_type === "execute_result") {
        clearTimeout(timer);
        resolve(m.content.data["text/plain"]);
      } else if (m.msg_type === "error") {
        clearTimeout(timer);
        reject(new Error(`${m.content.ename}: ${m.content.evalue}`));
      }
    });
    ws.send(JSON.stringify({
      channel: "shell",
      header: {
        msg_id: msgId,
        msg_type: "execute_request",
        username: "test",
        session: crypto.randomUUID(),
        version: "5.3",
        date: new Date().toISOString(),
      },
      parent_header: {},
      metadata: {},
      content: {
        code,
        silent: false,
        store_history: true,
        user_expressions: {},
        allow_stdin: false,
        stop_on_error: true,
      },
    }));
  });
}

Deno.test("lab.sh serves JupyterLab 4; a notebook opened through its API runs a cell on the Deno kernel with the run configuration", async () => {
  const port = await freePort(), token = crypto.randomUUID().replaceAll("-", "");
  const lab = new Deno.Command("bash", {
    args: [
      `${REPO_ROOT}/scripts/lab.sh`,
      "--rows",
      "12345",
      "--seed",
      "11",
      "--port",
      String(port),
      `--IdentityProvider.token=${token}`,
    ],
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const out: string[] = [];
  const collect = async (s: ReadableStream<Uint8Array>) => {
    for await (const chunk of s.pipeThrough(new TextDecoderStream())) out.push(chunk);
  };
  const drained = Promise.all([collect(lab.stdout), collect(lab.stderr)]);
  const api = (path: string, init?: RequestInit) =>
    fetch(`http://127.0.0.1:${port}${path}${path.includes("?") ? "&" : "?"}token=${token}`, init);
  let ws: WebSocket | null = null;
  try {
    const version = await waitFor("the server", async () => {
      const r = await api("/api");
      return r.ok ? (await r.json()).version as string : null;
    }, 240);
    assert(version, "Jupyter Server answers");
    const page = await api("/lab");
    assert(page.ok && (await page.text()).includes("JupyterLab"), "the /lab page is JupyterLab");
    assert(out.join("").includes("JupyterLab 4."), `lab.sh prints JupyterLab 4's version:\n${out.join("")}`);
    const nb = await (await api("/api/contents/05_mmoe.ipynb")).json();
    assertEquals(nb.type, "notebook");
    assert(
      nb.content.cells.some((c: { source: string }) => c.source.includes("runExperiment")),
      "the notebook's cells arrive",
    );
    const session = await (await api("/api/sessions", {
      method: "POST",
      body: JSON.stringify({
        path: "05_mmoe.ipynb",
        name: "05_mmoe.ipynb",
        type: "notebook",
        kernel: { name: "deno" },
      }),
    })).json();
    assertEquals(session.kernel.name, "deno");
    ws = new WebSocket(`ws://127.0.0.1:${port}/api/kernels/${session.kernel.id}/channels?token=${token}`);
    await new Promise((resolve, reject) => {
      ws!.onopen = resolve;
      ws!.onerror = reject;
    });
    assertEquals(await execute(ws, "6 * 7"), "42");
    // the run configuration lab.sh exported reaches the kernel, and lib/ loads there
    const cfg = await execute(
      ws,
      'const { runConfig } = await import("../lib/config.ts");\n`${runConfig().rows}/${runConfig().seed}/${runConfig().headless}`',
    );
    assertEquals(cfg, '"12345/11/false"');
    ws.close();
    ws = null;
    assertEquals((await api(`/api/sessions/${session.id}`, { method: "DELETE" })).status, 204);
  } finally {
    ws?.close();
    lab.kill("SIGTERM");
    await lab.status;
    await drained;
  }
});
