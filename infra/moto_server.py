#!/usr/bin/env python3
"""Run moto server on 127.0.0.1 and exit when the process that started it goes away.

Prints `MOTO_ENDPOINT=http://127.0.0.1:<port>` once it accepts requests (port 0 = pick a
free port). With --parent-pid, a watchdog stops the server when that process exits, so a
test run that is killed never leaves moto behind.

DynamoDB requests are processed one at a time. moto's DynamoDB model is not thread-safe: two
concurrent conditional writes or transactions can both pass their conditions before either
writes, which real DynamoDB never allows (each conditional write and transaction is atomic).
Serialising requests gives moto the same guarantee, so our concurrency tests exercise our
code's races, not moto's. Connections are still accepted concurrently.

Three fixes for moto's cost under load (see docs/RELIABILITY.md, "moto under load", and docs/adr/0006-moto-patches.md), applied at
start-up by `patch_moto()`; none changes what a request answers:
* moto keeps every model instance it ever creates in `BaseModel.instances_tracked` (only used
  by `reset()`, which this server never calls): a memory leak that grows with every write.
* `TransactWriteItems` deep-copies each whole table it touches to be able to roll back, so a
  transaction costs time and memory in proportion to the table size. Here the rollback
  snapshot holds only the items the transaction names, restored exactly on cancellation.
* A `Query` on the table itself (not an index) sorts every item of the table to pick one
  partition, so it costs time in proportion to the table size (100+ ms at 10,000 items, where
  DynamoDB reads one partition). Here it considers only the items of the queried partition.

With --call-log FILE (the benchmarks' request counter), every request appends one JSON line
to FILE: the operation (`X-Amz-Target`), request and response sizes, and for DynamoDB the items
it names or returns and whether it reads consistently. Without it nothing is logged.

Usage: moto_server.py [--port N] [--parent-pid PID] [--call-log FILE]
"""
import argparse
import sys

import threading

import parent_watch  # infra/, next to this script
from moto.moto_server.werkzeug_app import DomainDispatcherApplication, MotoRequestHandler, create_backend_app
from werkzeug.serving import make_server


def serialised(app):
    """WSGI wrapper: one DynamoDB request inside moto at a time (see module doc).

    Only DynamoDB needs it. SQS requests bypass the lock: a long-poll `ReceiveMessage`
    (`WaitTimeSeconds`, as the local SQS pollers use) would otherwise hold it for seconds and
    stall every DynamoDB call behind it. Real SQS may deliver a message twice anyway, and our
    consumers are built for that.
    """
    lock = threading.Lock()

    def call(environ, start_response):
        result = app(environ, start_response)
        try:
            return [b"".join(result)]
        finally:
            if hasattr(result, "close"):
                result.close()

    def wrapped(environ, start_response):
        if not environ.get("HTTP_X_AMZ_TARGET", "").startswith("DynamoDB"):
            return call(environ, start_response)
        with lock:
            return call(environ, start_response)

    return wrapped


def call_log(app, path):
    """WSGI wrapper: one JSON line per request into `path` (see the module doc)."""
    import io
    import json

    out = open(path, "a", buffering=1)
    lock = threading.Lock()

    def describe(target, body, response):
        entry = {"target": target, "request_bytes": len(body), "response_bytes": len(response)}
        if not target.startswith("DynamoDB"):
            return entry
        op = target.split(".")[-1]
        try:
            req = json.loads(body or b"{}")
            resp = json.loads(response or b"{}")
        except ValueError:
            return entry
        if op == "BatchGetItem":
            entry["items"] = sum(len(v.get("Keys", [])) for v in req.get("RequestItems", {}).values())
            entry["consistent"] = any(v.get("ConsistentRead") for v in req.get("RequestItems", {}).values())
            entry["returned"] = sum(len(v) for v in resp.get("Responses", {}).values())
        elif op in ("TransactWriteItems", "TransactGetItems"):
            items = req.get("TransactItems", [])
            entry["items"] = len(items)
            entry["kinds"] = [next(iter(i)) for i in items if i]
        elif op == "BatchWriteItem":
            entry["items"] = sum(len(v) for v in req.get("RequestItems", {}).values())
        elif op in ("Query", "Scan"):
            entry["consistent"] = bool(req.get("ConsistentRead"))
            entry["returned"] = resp.get("Count", 0)
            entry["items"] = resp.get("Count", 0)
        elif op == "GetItem":
            entry["consistent"] = bool(req.get("ConsistentRead"))
            entry["returned"] = 1 if resp.get("Item") else 0
            entry["items"] = 1
        else:
            entry["items"] = 1
        return entry

    def wrapped(environ, start_response):
        length = int(environ.get("CONTENT_LENGTH") or 0)
        body = environ["wsgi.input"].read(length) if length else b""
        environ["wsgi.input"] = io.BytesIO(body)
        target = environ.get("HTTP_X_AMZ_TARGET", "") or environ.get("QUERY_STRING", "")
        result = app(environ, start_response)
        try:
            response = b"".join(result)
        finally:
            if hasattr(result, "close"):
                result.close()
        line = json.dumps(describe(target, body, response))
        with lock:
            out.write(line + "\n")
        return [response]

    return wrapped


def patch_moto():
    """Applies the two fixes described in the module doc."""
    import copy
    import types

    from moto.core.common_models import BaseModel
    import moto.dynamodb.models as ddb_models

    BaseModel.__new__ = staticmethod(lambda cls, *args, **kwargs: object.__new__(cls))

    # The original transact_write_items deep-copies whole tables for its rollback: make that
    # copy the identity for tables (its rollback then restores the same object, a no-op) and
    # roll back the named items ourselves.
    def deepcopy(value, memo=None):
        if isinstance(value, ddb_models.Table):
            return value
        return copy.deepcopy(value, memo)

    ddb_models.copy = types.SimpleNamespace(deepcopy=deepcopy, copy=copy.copy)
    original = ddb_models.DynamoDBBackend.transact_write_items

    def transact_write_items(self, transact_items):
        snapshots = {}
        for entry in transact_items:
            try:
                op_type, op = next(iter(entry.items()))
                table = self.tables.get(op.get("TableName"))
                if table is None:
                    continue
                if op_type == "Put":
                    key = {table.hash_key_attr: op["Item"][table.hash_key_attr]}
                    if table.range_key_attr is not None:
                        key[table.range_key_attr] = op["Item"][table.range_key_attr]
                else:
                    key = op["Key"]
                ident = (table.name, str(sorted((k, str(v)) for k, v in key.items())))
                if ident not in snapshots:
                    current = self.get_item(table.name, key)
                    snapshots[ident] = (table.name, key, current.to_json()["Attributes"] if current else None)
            except Exception:
                continue  # malformed entry: the original raises the right validation error
        try:
            return original(self, transact_items)
        except Exception:
            for table_name, key, attrs in snapshots.values():
                if attrs is None:
                    if self.get_item(table_name, key) is not None:
                        self.delete_item(table_name, key)
                else:
                    self.put_item(table_name, attrs)
            raise

    ddb_models.DynamoDBBackend.transact_write_items = transact_write_items

    # Query on the base table: only the queried partition's items (requests are serialised,
    # so shadowing `all_items` on the instance for the duration of the call is safe).
    from moto.dynamodb.models.table import Table

    original_query = Table.query

    def query(self, hash_key, *args, **kwargs):
        index_name = kwargs.get("index_name", args[6] if len(args) > 6 else None)
        if index_name or not self.range_key_attr or hash_key is None:
            return original_query(self, hash_key, *args, **kwargs)
        partition = list(self.items.get(hash_key, {}).values())
        self.all_items = lambda: sorted(partition, key=lambda item: item.range_key)
        try:
            return original_query(self, hash_key, *args, **kwargs)
        finally:
            del self.all_items

    Table.query = query


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--parent-pid", type=int, default=0)
    parser.add_argument("--call-log", default="")
    args = parser.parse_args()

    patch_moto()
    app = serialised(DomainDispatcherApplication(create_backend_app))
    if args.call_log:
        app = call_log(app, args.call_log)
    server = make_server("127.0.0.1", args.port, app, threaded=True, request_handler=MotoRequestHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    host, port = server.server_address[:2]
    print(f"MOTO_ENDPOINT=http://{host}:{port}", flush=True)

    parent_watch.wait(args.parent_pid)
    server.shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main())
