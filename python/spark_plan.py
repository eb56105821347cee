"""Run a ctrlab Spark plan: SQL that lib/ generated from ctrlab's own definitions, executed as it is.

    python spark_plan.py PLAN.json

The plan (lib/data/spark.ts SparkPlan) names a master, Spark settings, inputs to register as views,
and steps in order. Each step is one SQL query whose result is either registered (and cached) as a view,
collected into the result file, or written as Parquet (one folder per step, part files in the query's order).
This file holds no feature or ETL logic: that is compiled in TypeScript, so both engines share it.
"""
import json
import sys
import time

from pyspark.sql import SparkSession


def numbered_lines(spark, files):
    """Text files as rows (file: the index given, line: 1-based, byte: offset of the line, text), read in
    parallel splits by Hadoop's line reader (plain or .gz by name; bytes decoded as UTF-8, invalid ones as
    U+FFFD); line numbers come from zipWithIndex, which keeps each file's order across its splits."""
    from pyspark.sql.types import LongType, StringType, StructField, StructType, IntegerType
    sc = spark.sparkContext
    rdds = []
    for f in files:
        k = f["file"]
        rdd = sc.newAPIHadoopFile(f["path"], "org.apache.hadoop.mapreduce.lib.input.TextInputFormat",
                                  "org.apache.hadoop.io.LongWritable", "org.apache.hadoop.io.Text")
        rdds.append(rdd.zipWithIndex().map(lambda r, k=k: (k, r[1] + 1, int(r[0][0]), r[0][1])))
    schema = StructType([StructField("file", IntegerType()), StructField("line", LongType()),
                         StructField("byte", LongType()), StructField("text", StringType())])
    return spark.createDataFrame(sc.union(rdds), schema)


def parquet_rows(spark, files, columns):
    """Parquet files as rows (__file: the index given, __row: 0-based position in its file, then `columns` as
    Spark types them), read together: a row's file is found from Parquet's _metadata.file_path (Spark spells it as a
    URI, decoded here back to the path given), its position is _metadata.row_index. A row whose file is not
    one of `files` stops the job instead of being dropped."""
    import os
    from pyspark.sql import functions as F
    cols = [F.col("`" + c.replace("`", "``") + "`") for c in columns]
    index = spark.createDataFrame([(os.path.abspath(f["path"]), f["file"]) for f in files],
                                  "__ctrlab_path STRING, __ctrlab_file INT")
    path = F.expr("url_decode(replace(regexp_replace(_metadata.file_path, '^file:(//)?', ''), '+', '%2B'))")
    rows = spark.read.parquet(*[f["path"] for f in files]).select(
        path.alias("__ctrlab_at"), F.col("_metadata.row_index").alias("__ctrlab_row"), *cols)
    rows = rows.join(F.broadcast(index), rows["__ctrlab_at"] == index["__ctrlab_path"], "left")
    missing = F.raise_error(F.concat(F.lit("ctrlab: a Parquet row from a file it did not list: "), "__ctrlab_at"))
    return rows.select(F.coalesce("__ctrlab_file", missing).cast("int").alias("__file"),
                       F.col("__ctrlab_row").alias("__row"), *cols)


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
