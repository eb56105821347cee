"""Run a ctrlab Spark plan: SQL that lib/ generated from ctrlab's own definitions, executed as it is.

    python spark_plan.py PLAN.json

The plan (lib/data/spark.ts SparkPlan) names a master, Spark settings, inputs to register as views,
and steps in order. Each step is one SQL query whose result is either registered (and cached) as a view,
collected into the result file, or written as Parquet (one folder per step, part files in the query's order).
This file holds no feature or ETL logic: that is compiled in TypeScript, so both engines share it.
"""
import json
import os
import re
import sys
import time

from pyspark.sql import SparkSession
from pyspark.sql import functions as F


def numbered_lines(spark, files):
    """Text files as rows (__file: the index given, __line: 1-based, __byte: offset of the line's first byte,
    __bytes: the line as it is in the file without its terminator, __cr: whether that terminator was CR LF, not
    LF), read in parallel splits by Spark's text source (plain or .gz by name), bytes kept as they are (the plan
    decodes them). A split's lines come in order, so a line's number and offset are its split's (the line counts
    and byte sums of the file's earlier splits) plus its place in the split (monotonically_increasing_id counts a
    partition's rows in order)."""
    from pyspark.sql import Window
    rows = with_file(spark, spark.read.option("lineSep", "\n").text([literal(f["path"]) for f in files]), files,
                     F.col("_metadata.file_block_start").alias("split"),
                     F.monotonically_increasing_id().alias("seq"), F.col("value").cast("binary").alias("raw"))
    cr = F.expr("substr(raw, -1) = X'0D'")
    rows = rows.select("__file", "split", "seq", (F.octet_length("raw") + 1).alias("size"), cr.alias("__cr"),
                       F.when(cr, F.expr("substr(raw, 1, octet_length(raw) - 1)")).otherwise(F.col("raw"))
                       .alias("__bytes"))
    before = Window.partitionBy("__file").orderBy("split").rowsBetween(Window.unboundedPreceding, -1)
    splits = rows.groupBy("__file", "split").agg(F.min("seq").alias("first"), F.count("*").alias("lines"),
                                                 F.sum("size").alias("size")).select(
        "__file", "split", "first", F.coalesce(F.sum("lines").over(before), F.lit(0)).alias("line0"),
        F.coalesce(F.sum("size").over(before), F.lit(0)).alias("byte0"))
    inside = Window.partitionBy("__file", "split").orderBy("seq").rowsBetween(Window.unboundedPreceding, -1)
    return rows.join(F.broadcast(splits), ["__file", "split"]).select(
        "__file", (F.col("line0") + F.col("seq") - F.col("first") + 1).alias("__line"),
        (F.col("byte0") + F.coalesce(F.sum("size").over(inside), F.lit(0))).alias("__byte"), "__bytes", "__cr")


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


def main(path: str) -> None:
    plan = json.load(open(path))
    t0 = time.time()
    builder = SparkSession.builder.appName(plan.get("app", "ctrlab")).master(plan["master"])
    for k, v in plan.get("conf", {}).items():
        builder = builder.config(k, v)
    spark = builder.getOrCreate()
    spark.sparkContext.setLogLevel("ERROR")
    timings = {"start": time.time() - t0}
    for view in plan.get("inputs", []):
        if "lines" in view:
            df = numbered_lines(spark, view["lines"])
        elif "parquet" in view:
            df = parquet_rows(spark, view["parquet"], view["columns"])
        else:
            df = spark.read.parquet(view["path"])
        df.createOrReplaceTempView(view["view"])
    collected = {}
    for step in plan["steps"]:
        t = time.time()
        df = spark.sql(step["sql"])
        if "view" in step:
            df.createOrReplaceTempView(step["view"])
            if step.get("cache"):
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
        print(f"spark: {name} {timings[name]:.1f}s", file=sys.stderr, flush=True)
    result = {"collected": collected, "seconds": timings, "sparkVersion": spark.version,
              "master": spark.sparkContext.master, "total": time.time() - t0}
    spark.stop()
    json.dump(result, open(plan["result"], "w"), default=str)


if __name__ == "__main__":
    main(sys.argv[1])
