"""Reads workbooks with openpyxl, the second oracle of the differential test.

Usage: python3 openpyxl_cells.py ROOT OUTDIR < list of paths relative to ROOT
Writes OUTDIR/N.json for the Nth path: the worksheets in order, each with
its cells (row, column, type, value), merged ranges and hyperlinked cells,
or the error openpyxl gave. Types: s string, n number, d date (the Excel
serial, computed back from openpyxl's datetime), b boolean, e error.
"""
import datetime
import json
import multiprocessing
import os
import signal
import sys
import time
import warnings

from openpyxl import load_workbook
from openpyxl.utils.datetime import to_excel

# Seconds per workbook: a guard against a hang only (the test leaves out
# the few corpus files openpyxl needs more than 10 s for).
TIMEOUT = 300


class Timeout(Exception):
    pass


def on_alarm(signum, frame):
    raise Timeout()


def value(cell, epoch):
    v = cell.value
    if v is None:
        return None
    if isinstance(v, bool):
        return ["b", "1" if v else "0"]
    if isinstance(v, (int, float)):
        return ["n", repr(v)]
    if isinstance(v, (datetime.datetime, datetime.date, datetime.time, datetime.timedelta)):
        try:
            return ["d", repr(float(to_excel(v, epoch)))]
        except Exception as e:  # a date openpyxl cannot convert back
            return ["d?", str(v)]
    if cell.data_type == "e":
        return ["e", str(v)]
    s = str(v)
    if s == "":
        return None
    return ["s", s]


def read(args):
    root, rel, out = args
    signal.signal(signal.SIGALRM, on_alarm)
    signal.alarm(TIMEOUT)
    result = {"file": rel}
    start = time.monotonic()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            wb = load_workbook(os.path.join(root, rel), data_only=True, keep_links=False)
        epoch = wb.epoch
        result["date1904"] = epoch == datetime.datetime(1904, 1, 1)
        sheets = []
        for ws in wb.worksheets:
            cells, links = [], []
            for row in ws.iter_rows():
                for c in row:
                    if getattr(c, "hyperlink", None) is not None:
                        links.append([c.row, c.column])
                    v = value(c, epoch)
                    if v is not None:
                        cells.append([c.row, c.column] + v)
            merged = [[r.min_row, r.min_col, r.max_row, r.max_col] for r in ws.merged_cells.ranges]
            sheets.append({"name": ws.title, "cells": cells, "merged": merged, "links": links})
        result["sheets"] = sheets
    except Timeout:
        result = {"file": rel, "error": "timeout"}
    except Exception as e:
        result = {"file": rel, "error": "%s: %s" % (type(e).__name__, e)}
    finally:
        signal.alarm(0)
    result["seconds"] = round(time.monotonic() - start, 3)
    with open(out, "w") as f:
        json.dump(result, f)
    return rel


def main():
    root, outdir = sys.argv[1], sys.argv[2]
    rels = [line.strip() for line in sys.stdin if line.strip()]
    jobs = [(root, rel, os.path.join(outdir, "%d.json" % i)) for i, rel in enumerate(rels)]
    with multiprocessing.Pool(2, maxtasksperchild=50) as pool:
        for _ in pool.imap_unordered(read, jobs):
            pass


if __name__ == "__main__":
    main()
