"""DuckDB's side of `arus bench serving`: one query over the Parquet files of
a Delta table version, timed inside DuckDB's process after a warm-up.

    python duckdb_aggregate.py --files FILES --query QUERY [--runs 5] [--threads 2]

FILES lists the table's data files (one path per line, those of the Delta
version arus serves); they are read as the view `transactions`, the
partition column (`month=YYYY-MM/` in the path) as text. QUERY is the SQL
arus runs, word for word. Prints one JSON object: DuckDB's version, threads,
the time of each run in milliseconds, and the answer's rows.
"""

import argparse
import json
import time

import duckdb


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--files", required=True)
    parser.add_argument("--query", required=True)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    with open(args.files, encoding="utf-8") as f:
        files = [line.strip() for line in f if line.strip()]
    if not files:
        raise SystemExit(f"no files listed in {args.files}")
    with open(args.query, encoding="utf-8") as f:
        query = f.read()

    con = duckdb.connect()
    con.execute(f"SET threads = {int(args.threads)}")
    listed = ", ".join("'" + p.replace("'", "''") + "'" for p in files)
    con.execute(
        f"CREATE VIEW transactions AS SELECT * FROM read_parquet([{listed}], "
        "hive_partitioning = true, hive_types = {'month': VARCHAR})"
    )
    rows = con.execute(query).fetchall()  # warm-up: the files in the page cache
    times = []
    for _ in range(args.runs):
        started = time.perf_counter()
        rows = con.execute(query).fetchall()
        times.append((time.perf_counter() - started) * 1000.0)
    print(json.dumps({
        "version": duckdb.__version__,
        "threads": int(con.execute("SELECT current_setting('threads')").fetchone()[0]),
        "times_ms": times,
        "rows": [[str(v) if not isinstance(v, int) else v for v in row] for row in rows],
    }))


if __name__ == "__main__":
    main()
