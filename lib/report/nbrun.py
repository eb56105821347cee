#!/usr/bin/python3
"""Execute one Jupyter notebook headlessly through its kernel, losing no output.

Stock nbclient stops reading a cell's messages at the kernel's "idle" status. Deno's kernel sometimes
publishes a cell's result just *after* idle, and nbclient then drops it (the next cell ignores messages
whose parent is an earlier request). This runner keeps a map from request id to cell, routes every late
message to the cell that caused it (also while later cells run), and after each cell and after the last
one keeps listening for a short grace period. It prints how many late outputs it recovered.

With --html, the executed notebook is also exported to a self-contained HTML page: nbconvert's "lab"
template, with every external script reference removed (require.js, MathJax: offline viewers cannot load
them) and plotly.js (--inline-js) inlined once in <head>, so the page's charts draw with no network.

usage: nbrun.py IN.ipynb OUT.ipynb [--html OUT.html --inline-js plotly.min.js] [--timeout S] [--grace S] [--stock]
exit 0 on success; 1 when a cell fails or the kernel dies (the first stderr line names the notebook, the
cell and the reason: the cell's error, or the kernel's exit status, followed by the kernel's last stderr
lines); 2 on bad usage. --stock runs plain nbclient (used by the tests to show the loss this runner prevents).
"""
import asyncio
import atexit
import json
import queue
import re
import signal
import sys
import tempfile
import time
import traceback
import warnings
from pathlib import Path

import nbformat
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionComplete, CellExecutionError, CellTimeoutError, DeadKernelError
from nbclient.util import ensure_async


class LosslessClient(NotebookClient):
    """NotebookClient that routes late iopub messages to the cell that produced them."""

    grace = 0.02  # seconds of silence after "idle" before moving on (late output is still routed later)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._cell_of = {}  # request msg_id -> (cell, index)
        self.late_outputs = 0

    def _route(self, msg):
        """Process a message for an earlier cell; returns True when it was one of ours."""
        entry = self._cell_of.get(msg["parent_header"].get("msg_id"))
        if entry is None:
            return False
        if msg["msg_type"] == "status":
            return True
        cell, index = entry
        if msg["msg_type"] in ("execute_result", "display_data", "stream", "error", "update_display_data"):
            self.late_outputs += 1
        try:
            self.process_message(msg, cell, index)
        except CellExecutionComplete:
            pass
        return True

    async def drain(self, seconds):
        """Read iopub until `seconds` pass with no message, routing everything to its cell."""
        assert self.kc is not None
        while True:
            try:
                msg = await ensure_async(self.kc.iopub_channel.get_msg(timeout=seconds))
            except queue.Empty:
                return
            self._route(msg)

    async def _async_poll_output_msg(self, parent_msg_id, cell, cell_index):
        assert self.kc is not None
        self._cell_of[parent_msg_id] = (cell, cell_index)
        while True:
            msg = await ensure_async(self.kc.iopub_channel.get_msg(timeout=None))
            if msg["parent_header"].get("msg_id") == parent_msg_id:
                try:
                    self.process_message(msg, cell, cell_index)
                except CellExecutionComplete:
                    await self.drain(self.grace)
                    return
            else:
                self._route(msg)


def export_html(nb, html_path, inline_js):
    from nbconvert import HTMLExporter

    warnings.filterwarnings("ignore", message=".*lexer unavailable.*")
    body, _ = HTMLExporter(template_name="lab").from_notebook_node(nb)
    body = re.sub(r'<script[^>]*\bsrc="[^"]*"[^>]*>\s*</script>', "", body)
    body = re.sub(r'<script type="text/x-mathjax-config">.*?</script>', "", body, flags=re.S)
    if inline_js:
        js = Path(inline_js).read_text(encoding="utf-8").replace("</script", "<\\/script")
        body = body.replace("<head>", f'<head>\n<script type="text/javascript">{js}</script>', 1)
    Path(html_path).write_text(body, encoding="utf-8")


def cell_label(nb_path, cell, index):
    first = next((line for line in cell.source.splitlines() if line.strip()), "")
    return f"{nb_path}: cell {index} (id {cell.get('id', '?')}): {first[:80]}"


def kernel_exit(client):
    """How the kernel process ended: 'exit code N', 'signal SIGKILL', or 'still running'."""
    process = getattr(getattr(getattr(client, "km", None), "provisioner", None), "process", None)
    code = process.poll() if process is not None else None
    if code is None:
        return "still running"
    if code < 0:
        name = signal.Signals(-code).name if -code in signal.Signals._value2member_map_ else str(-code)
        hint = " (killed: out of memory?)" if -code == signal.SIGKILL else ""
        return f"signal {name}{hint}"
    return f"exit code {code}"


def tail(path, lines=40):
    text = Path(path).read_text(encoding="utf-8", errors="replace")
    kept = [line for line in text.splitlines() if '"deno jupyter" is unstable' not in line]
    return "\n".join(kept[-lines:])


CELLS_DONE = "ctrlab: cells done"  # lib/report/run.ts reads this line


async def run(in_path, out_path, timeout, grace, stock, html=None, inline_js=None):
    nb = nbformat.read(in_path, as_version=4)
    cls = NotebookClient if stock else LosslessClient
    client = cls(nb, timeout=int(timeout), kernel_name=nb.metadata.get("kernelspec", {}).get("name", "deno"),
                 resources={"metadata": {"path": str(__import__("pathlib").Path(in_path).parent)}})
    if not stock:
        client.grace = grace
    started = time.time()
    ready = None
    first_cell = None  # the notebook's imports: loading lib/ and its native modules into the fresh kernel
    failed = None
    # the kernel's own stderr (panics, native crashes, V8 out-of-memory) goes to a file shown on failure
    kernel_log = tempfile.NamedTemporaryFile(prefix="ctrlab-kernel-", suffix=".log", delete=False)
    try:
        async with client.async_setup_kernel(stderr=kernel_log):
            ready = time.time()
            for index, cell in enumerate(nb.cells):
                if cell.cell_type != "code":
                    continue
                try:
                    cell_started = time.time()
                    await client.async_execute_cell(cell, index)
                    if first_cell is None:
                        first_cell = time.time() - cell_started
                except CellExecutionError as err:
                    failed = (cell_label(in_path, cell, index), index, "the cell raised an error", str(err))
                    break
                except (DeadKernelError, CellTimeoutError) as err:
                    await asyncio.sleep(0.5)  # let a dying kernel finish writing and exit
                    reason = "the kernel died" if isinstance(err, DeadKernelError) else f"the cell timed out after {timeout:.0f} s"
                    failed = (cell_label(in_path, cell, index), index, f"{reason}; kernel: {kernel_exit(client)}", "")
                    break
                except Exception as err:  # a fault in this runner: name it, with the kernel's state
                    reason = f"the runner failed while running the cell ({type(err).__name__}: {err}); kernel: {kernel_exit(client)}"
                    failed = (cell_label(in_path, cell, index), index, reason, traceback.format_exc())
                    break
            if not stock and failed is None:
                await client.drain(0.3)  # the last cell's late output: Deno sends it milliseconds after idle
    except RuntimeError as err:  # raised by jupyter_client when the kernel does not start
        atexit.unregister(client._cleanup_kernel)  # nothing left to clean up; it would only print a traceback
        if failed is None:
            failed = (f"{in_path}: kernel start", None, f"the kernel did not start: {err}", "")
    kernel_log.close()
    cells_done = time.time()
    nbformat.write(nb, out_path)
    if failed is None:
        print(CELLS_DONE, flush=True)  # what needs this notebook may start; the page export runs alongside
    if html:
        export_html(nb, html, inline_js)
    n_outputs = sum(len(c.get("outputs", [])) for c in nb.cells if c.cell_type == "code")
    summary = {"notebook": in_path, "seconds": round(time.time() - started, 2), "outputs": n_outputs,
               "late_outputs_recovered": getattr(client, "late_outputs", 0), "ok": failed is None,
               # where the runner's own time went: starting the kernel, writing the notebook and its page
               "kernel_start_seconds": round((ready if ready else cells_done) - started, 2),
               "first_cell_seconds": round(first_cell or 0, 2),
               "export_seconds": round(time.time() - cells_done, 2)}
    if failed is not None:
        label, index, reason, detail = failed
        summary["failed_cell"] = index
        summary["reason"] = reason
        print(f"FAILED {label}\n{reason}\n{detail}".rstrip(), file=sys.stderr)
        log = tail(kernel_log.name)
        if log:
            print(f"--- kernel stderr (last lines) ---\n{log}", file=sys.stderr)
    Path(kernel_log.name).unlink(missing_ok=True)
    print(json.dumps(summary))
    return 0 if failed is None else 1


def main(argv):
    args = [a for a in argv if not a.startswith("--")]
    opts = dict(timeout=1800.0, grace=0.02, html=None, inline_js=None)
    stock = "--stock" in argv
    for flag in ("timeout", "grace", "html", "inline-js"):
        if f"--{flag}" in argv:
            i = argv.index(f"--{flag}")
            key = flag.replace("-", "_")
            opts[key] = argv[i + 1] if flag in ("html", "inline-js") else float(argv[i + 1])
            args.remove(argv[i + 1])
    if len(args) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    return asyncio.run(run(args[0], args[1], opts["timeout"], opts["grace"], stock, opts["html"], opts["inline_js"]))


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
