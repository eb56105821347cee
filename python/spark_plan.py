"""A ctrlab Spark driver: runs plans of SQL that lib/ generated from ctrlab's own definitions, as they are.

    python spark_plan.py DRIVER.json

DRIVER.json names the master, the settings the session starts with, and a log file (Spark's own output, and
this process's, go there). The driver then reads plan files (lib/data/spark.ts SparkPlan), one path per line on
stdin, and runs them one at a time in the same session: a plan's settings are set for that plan and put back
after it, its views dropped and its cached tables released. Each plan's result goes to the file the plan names,
and one line on stdout says it is done: {"ok": true}, or {"ok": false, "error": ...}; "lost": true when the
session is gone with it (its JVM died: why is in the log), and the driver exits. The
session stops when stdin closes, and then the driver's folder (DRIVER.json's) is removed.

A plan names inputs to register as views and steps in order; each step is one SQL query whose result is either
registered (and cached, in memory or on local disk) as a view, collected into the result file, or written as
Parquet (one folder per step, part files in the query's order). This file holds no feature or ETL logic: that is compiled in TypeScript, so
both engines share it.
"""
import gzip
import json
import os
import re
import shutil
import sys
import time
import zlib

from pyspark.sql import SparkSession
from pyspark.sql import functions as F


def numbered_lines(spark, files):
    """Text files as rows (__file: the index given, __line: 1-based, __byte: offset of the line's first byte,
    __bytes: the line as it is in the file without its terminator, __cr: whether that terminator was CR LF, not
    LF, __last: the line ends its file without a line break, known for plain files, false for compressed ones,
    whose size on disk is not their text's), read in parallel splits by Spark's text source (plain, or .gz and
    .deflate by name), bytes kept
    as they are (the plan decodes them). A split's lines come in order, so a line's number and offset are its
    split's (the line counts and byte sums of the file's earlier splits) plus its place in the split
    (monotonically_increasing_id counts a partition's rows in order). Hadoop's line reader drops a UTF-8 byte
    order mark from a file's first line: its 3 bytes are added back to the offsets (the first line starts after
    it, as csv.ts reads it)."""
    from pyspark.sql import Window
    bom = [f["file"] for f in files if starts_with_bom(f["path"])]
    rows = with_file(spark, spark.read.option("lineSep", "\n").text([literal(f["path"]) for f in files]), files,
                     F.col("_metadata.file_block_start").alias("split"),
                     F.monotonically_increasing_id().alias("seq"), F.col("value").cast("binary").alias("raw"),
                     F.when(F.col("_metadata.file_name").endswith(".gz")
                            | F.col("_metadata.file_name").endswith(".deflate"), F.lit(None))
                     .otherwise(F.col("_metadata.file_size")).alias("fsize"))
    cr = F.expr("substr(raw, -1) = X'0D'")
    rows = rows.select("__file", "split", "seq", (F.octet_length("raw") + 1).alias("size"), cr.alias("__cr"),
                       F.when(cr, F.expr("substr(raw, 1, octet_length(raw) - 1)")).otherwise(F.col("raw"))
                       .alias("__bytes"), "fsize")
    before = Window.partitionBy("__file").orderBy("split").rowsBetween(Window.unboundedPreceding, -1)
    splits = rows.groupBy("__file", "split").agg(F.min("seq").alias("first"), F.count("*").alias("lines"),
                                                 F.sum("size").alias("size")).select(
        "__file", "split", "first", F.coalesce(F.sum("lines").over(before), F.lit(0)).alias("line0"),
        F.coalesce(F.sum("size").over(before), F.lit(0)).alias("byte0"))
    inside = Window.partitionBy("__file", "split").orderBy("seq").rowsBetween(Window.unboundedPreceding, -1)
    byte = (F.col("byte0") + F.coalesce(F.sum("size").over(inside), F.lit(0))
            + F.when(F.col("__file").isin(bom), F.lit(3)).otherwise(F.lit(0)))
    return rows.join(F.broadcast(splits), ["__file", "split"]).select(
        "__file", (F.col("line0") + F.col("seq") - F.col("first") + 1).alias("__line"), byte.alias("__byte"),
        "__bytes", "__cr", F.coalesce(byte + F.col("size") == F.col("fsize") + 1, F.lit(False)).alias("__last"))


def starts_with_bom(path):
    """Whether a text file (gzip or zlib by its .gz or .deflate name, as Spark reads it) starts with a UTF-8 byte
    order mark."""
    if path.endswith(".deflate"):
        with open(path, "rb") as f:
            head = zlib.decompressobj().decompress(f.read(4096), 3)
    else:
        with (gzip.open if path.endswith(".gz") else open)(path, "rb") as f:
            head = f.read(3)
    return head == b"\xef\xbb\xbf"


def parquet_rows(spark, files, columns):
    """Parquet files as rows (__file: the index given, __row: 0-based position in its file, then `columns` as
    Spark types them), read together (_metadata.row_index is a row's position)."""
    return with_file(spark, spark.read.parquet(*[literal(f["path"]) for f in files]), files,
                     F.col("_metadata.row_index").alias("__row"), *[quoted(c) for c in columns])


def with_file(spark, df, files, *cols):
    """A file source's rows as __file (the index given to the row's file), then `cols`. Spark spells a file's path
    as a URI (_metadata.file_path), decoded here back to the path given; a row whose file is not one of `files`
    stops the job instead of being dropped."""
    index = spark.createDataFrame([(os.path.abspath(f["path"]), f["file"]) for f in files],
                                  "__ctrlab_path STRING, __ctrlab_file INT")
    path = F.expr("url_decode(replace(regexp_replace(_metadata.file_path, '^file:(//)?', ''), '+', '%2B'))")
    rows = df.select(path.alias("__ctrlab_at"), *cols)
    names = [quoted(c) for c in rows.columns if c != "__ctrlab_at"]
    rows = rows.join(F.broadcast(index), rows["__ctrlab_at"] == index["__ctrlab_path"], "left")
    missing = F.raise_error(F.concat(F.lit("ctrlab: a row from a file it did not list: "), "__ctrlab_at"))
    return rows.select(F.coalesce("__ctrlab_file", missing).cast("int").alias("__file"), *names)


def literal(path):
    """A path as Spark's readers take it literally: Hadoop reads * ? [ ] { } \\ in a path as a glob pattern."""
    return re.sub(r"([*?\[\]{}\\])", r"\\\1", path)


def quoted(name):
    """A column by its name, whatever characters it holds."""
    return F.col("`" + name.replace("`", "``") + "`")


def run_plan(spark, plan):
    """Run one plan's inputs and steps; its collected rows and seconds per step."""
    for view in plan.get("inputs", []):
        if "lines" in view:
            df = numbered_lines(spark, view["lines"])
        elif "parquet" in view:
            df = parquet_rows(spark, view["parquet"], view["columns"])
        else:
            df = spark.read.parquet(view["path"])
        df.createOrReplaceTempView(view["view"])
    collected, timings = {}, {}
    for step in plan["steps"]:
        t = time.time()
        df = spark.sql(step["sql"])
        if "view" in step:
            df.createOrReplaceTempView(step["view"])
            if step.get("cache") == "disk":
                spark.sql(f"CACHE TABLE {step['view']} OPTIONS ('storageLevel' 'DISK_ONLY')")
            elif step.get("cache"):
                spark.sql(f"CACHE TABLE {step['view']}")
            name = step["view"]
        elif "collect" in step:
            collected[step["collect"]] = [r.asDict(recursive=True) for r in df.collect()]
            name = step["collect"]
        else:
            w = step["write"]
            writer = df.write.mode("overwrite").option("compression", w.get("compression", "snappy"))
            if w.get("partitionBy"):
                writer = writer.partitionBy(*w["partitionBy"])
            writer.parquet(w["path"])
            name = w["path"]
        timings[name] = time.time() - t
        print(f"spark: {plan.get('app', 'ctrlab')}: {name} {timings[name]:.1f}s", file=sys.stderr, flush=True)
    return collected, timings


def error_text(e):
    """An exception as a few lines: Spark's message without the Java stack (its "at ..." lines)."""
    lines = [l for l in str(e).splitlines() if l.strip() and not re.match(r"\s*at |\s*\.\.\. \d+ more", l)]
    return "\n".join(lines[:20]) or type(e).__name__


def serve(spark, started, replies):
    """Plans from stdin, one path per line, until it closes; a line on `replies` for each. Returns False when the
    session is lost (the JVM died), after saying so (the caller reads why in the log)."""
    for line in sys.stdin:
        path = line.strip()
        if not path:
            continue
        t0 = time.time()
        reply = {"ok": True}
        restore = {}
        try:
            plan = json.load(open(path))
            for k, v in plan.get("conf", {}).items():
                restore[k] = spark.conf.get(k, None)
                spark.conf.set(k, v)
            collected, timings = run_plan(spark, plan)
            result = {"collected": collected, "seconds": {"start": started, **timings},
                      "sparkVersion": spark.version, "master": spark.sparkContext.master,
                      "total": started + time.time() - t0}
            json.dump(result, open(plan["result"], "w"), default=str)
        except Exception as e:  # the plan failed; the session goes on if it can be cleaned
            reply = {"ok": False, "error": error_text(e)}
        started = 0.0
        try:
            for t in spark.catalog.listTables():
                if t.isTemporary:
                    spark.catalog.dropTempView(t.name)
            spark.catalog.clearCache()
            for k, v in restore.items():
                if v is None:
                    spark.conf.unset(k)
                else:
                    spark.conf.set(k, v)
        except Exception as e:  # the session is gone
            reply = {"ok": False, "lost": True, "error": reply.get("error") or error_text(e)}
            replies.write(json.dumps(reply) + "\n")
            replies.flush()
            return False
        replies.write(json.dumps(reply) + "\n")
        replies.flush()
    return True


def main(path: str) -> None:
    driver = json.load(open(path))
    # replies keep this process's stdout; everything else written to it or to stderr (Spark's JVM inherits both)
    # goes to the log
    replies = os.fdopen(os.dup(1), "w")
    log = os.open(driver["log"], os.O_WRONLY | os.O_CREAT | os.O_APPEND)
    os.dup2(log, 1)
    os.dup2(log, 2)
    t0 = time.time()
    builder = SparkSession.builder.appName("ctrlab").master(driver["master"])
    for k, v in driver.get("conf", {}).items():
        builder = builder.config(k, v)
    spark = builder.getOrCreate()
    spark.sparkContext.setLogLevel("ERROR")
    replies.write(json.dumps({"ok": True, "started": True}) + "\n")
    replies.flush()
    if not serve(spark, time.time() - t0, replies):
        os._exit(1)  # the session is lost: nothing to stop (the JVM goes when its stdin closes)
    spark.stop()
    shutil.rmtree(os.path.dirname(os.path.abspath(path)), ignore_errors=True)  # the driver's folder, when stdin closed


if __name__ == "__main__":
    main(sys.argv[1])
