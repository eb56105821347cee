"""ctrlab's artifacts read from Python, with nothing from ctrlab: onnxruntime runs the saved ONNX models on
exported input tensors; pyarrow reads the Hive-partitioned clean layout and the training table; DuckDB queries
the same files. Prints one JSON object; tests/notebooks_test.ts checks it against the run's own numbers.

    .venv/bin/python python/interop_check.py DATA_DIR EXPORT_DIR
EXPORT_DIR/models.json lists, per model: the .onnx path, its inputs (name, dtype, shape, raw little-endian
file), the scene column to read for multi-task outputs, and the saved predictions to reproduce.
"""
import json
import sys

import duckdb
import numpy as np
import onnxruntime as ort
import pyarrow.dataset as ds

data_dir, export_dir = sys.argv[1], sys.argv[2]
out = {"onnxruntime": ort.__version__, "models": []}

for m in json.load(open(f"{export_dir}/models.json")):
    session = ort.InferenceSession(m["model"], providers=["CPUExecutionProvider"])
    feeds = {
        i["name"]: np.fromfile(f"{export_dir}/{i['file']}", dtype=np.float32 if i["dtype"] == "float32" else np.int64).reshape(i["shape"])
        for i in m["inputs"]
    }
    prob = session.run(["prob"], feeds)[0]
    rows = prob.shape[0]
    if prob.ndim == 2 and prob.shape[1] > 1:  # scenes as tasks: each row's own scene's tower
        task = np.fromfile(f"{export_dir}/{m['task']}", dtype=np.int64)
        prob = prob[np.arange(rows), task]
    prob = prob.reshape(rows)
    expected = np.fromfile(f"{export_dir}/{m['expected']}", dtype=np.float32)
    out["models"].append({"name": m["name"], "rows": int(rows), "maxDiff": float(np.max(np.abs(prob - expected)))})

# the cleaned logs: Hive partitions date=…/scene=…, files starting with "_" (reports, quarantine) ignored
clean = ds.dataset(f"{data_dir}/clean", format="parquet", partitioning="hive")
counts = clean.to_table(columns=["date", "scene"]).group_by(["date", "scene"]).aggregate([([], "count_all")])
out["clean"] = {
    "rows": clean.count_rows(),
    "partitionColumns": [f.name for f in clean.partitioning.schema],
    "partitions": sorted(
        [{"date": str(d), "scene": int(s), "rows": int(n)} for d, s, n in zip(*(counts.column(c).to_pylist() for c in ["date", "scene", "count_all"]))],
        key=lambda p: (p["date"], p["scene"]),
    ),
}
# the training table: table/split=train|val|test/, beside its manifest and vocabularies
table = ds.dataset(f"{data_dir}/table", format="parquet", partitioning="hive", ignore_prefixes=[".", "_", "vocab_", "manifest"])
split = table.to_table(columns=["split"]).group_by("split").aggregate([([], "count_all")])
out["table"] = dict(zip(split.column("split").to_pylist(), split.column("count_all").to_pylist()))

con = duckdb.connect()
out["duckdb"] = {
    "version": duckdb.__version__,
    "byScene": [
        {"scene": int(s), "rows": int(n), "ctr": float(c)}
        for s, n, c in con.execute(
            f"SELECT scene, count(*), avg(label) FROM read_parquet('{data_dir}/clean/*/*/*.parquet', hive_partitioning = true) GROUP BY scene ORDER BY scene"
        ).fetchall()
    ],
}
print(json.dumps(out))
