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
    """Parquet files as rows (file: the index given, row: 0-based position in its file, then `columns` as Spark
    types them); each file is read on its own, so Parquet's _metadata.row_index is its row's position."""
    from functools import reduce
    from pyspark.sql import functions as F
    cols = [F.col("`" + c.replace("`", "``") + "`") for c in columns]
    frames = [spark.read.parquet(f["path"]).select(F.lit(f["file"]).alias("file"),
                                                   F.col("_metadata.row_index").alias("row"), *cols)
              for f in files]
    return reduce(lambda a, b: a.unionByName(b), frames)


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
