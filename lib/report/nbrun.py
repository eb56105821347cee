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
exit 0 on success; 1 when a cell fails (the message names the notebook and the cell); 2 on bad usage.
--stock runs plain nbclient (used by the tests to show the loss this runner prevents).
"""
import asyncio
import json
import queue
import re
import sys
import time
import warnings
from pathlib import Path

import nbformat
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionComplete, CellExecutionError
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


async def run(in_path, out_path, timeout, grace, stock, html=None, inline_js=None):
    nb = nbformat.read(in_path, as_version=4)
    cls = NotebookClient if stock else LosslessClient
    client = cls(nb, timeout=int(timeout), kernel_name=nb.metadata.get("kernelspec", {}).get("name", "deno"),
                 resources={"metadata": {"path": str(__import__("pathlib").Path(in_path).parent)}})
    if not stock:
        client.grace = grace
    started = time.time()
    failed = None
    async with client.async_setup_kernel():
        for index, cell in enumerate(nb.cells):
            if cell.cell_type != "code":
                continue
            try:
                await client.async_execute_cell(cell, index)
            except CellExecutionError as err:
                failed = (index, cell, err)
                break
        if not stock:
            await client.drain(1.0)
    nbformat.write(nb, out_path)
    if html:
        export_html(nb, html, inline_js)
    n_outputs = sum(len(c.get("outputs", [])) for c in nb.cells if c.cell_type == "code")
    summary = {"notebook": in_path, "seconds": round(time.time() - started, 2), "outputs": n_outputs,
               "late_outputs_recovered": getattr(client, "late_outputs", 0), "ok": failed is None}
    if failed is not None:
        index, cell, err = failed
        summary["failed_cell"] = index
        print(f"FAILED {cell_label(in_path, cell, index)}\n{err}", file=sys.stderr)
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
