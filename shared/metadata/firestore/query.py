"""Firestore query shapes and composite indexes: ``Query``, ``QueryShape``, ``load_indexes``.

Every query the Firestore backend runs is built through ``Query``, a thin builder over the
client's query that records the query's shape (collection group, equality fields, array
field, order and range fields) in ``RECORDED_SHAPES``. Firestore answers some shapes from
its automatic single-field indexes; every other shape needs a composite index, and those
live in ``indexes.json``, the one file Terraform creates them from
(``google_firestore_index``: collection, query_scope, fields of field_path and order or
array_config). ``missing_indexes`` and ``unused_indexes`` compare the two, so a test can
prove that the file matches the queries the code really runs.

Coverage is exact-match only: equality and array-contains fields in any order first, then
the order fields in sequence. Firestore can sometimes merge indexes instead, but only for
plain equality filters, so relying on merging is not worth the doubt.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from shared.errors import ConfigError

INDEX_FILE = Path(__file__).with_name("indexes.json")
ASC, DESC = "ASCENDING", "DESCENDING"
COLLECTION, COLLECTION_GROUP = "COLLECTION", "COLLECTION_GROUP"
_ARRAY_OPS = {"array_contains", "array_contains_any"}
_RANGE_OPS = {"<", "<=", ">", ">=", "!=", "not-in"}
NAME_FIELD = "__name__"

# Every shape built since start-up (tests compare it with the index file).
RECORDED_SHAPES: set[QueryShape] = set()


@dataclass(frozen=True)
class QueryShape:
    """What an index must hold for a query: filter fields and the order the rows come in."""

    collection: str
    scope: str
    equality: frozenset[str]
    array: str | None
    orders: tuple[tuple[str, str], ...]

    def fields(self) -> set[str]:
        """Every field the query touches (``__name__`` aside)."""
        return set(self.equality) | {f for f, _ in self.orders} | (
            {self.array} if self.array else set())

    def needs_composite(self) -> bool:
        """False when the automatic single-field indexes serve it.

        They serve equality filters alone (merged), and filters or orders on one field;
        anything mixing fields with an order, range or array filter needs a composite.
        """
        if not self.orders and self.array is None:
            return False
        return len(self.fields()) > 1

    def index(self) -> dict[str, Any]:
        """The composite index entry this shape needs, in the index file's format."""
        fields: list[dict[str, str]] = [{"field_path": f, "order": ASC}
                                        for f in sorted(self.equality)]
        if self.array:
            fields.append({"field_path": self.array, "array_config": "CONTAINS"})
        fields += [{"field_path": f, "order": d} for f, d in self.orders]
        return {"collection": self.collection, "query_scope": self.scope, "fields": fields}


def covers(index: dict[str, Any], shape: QueryShape) -> bool:
    """True when ``index`` serves ``shape`` exactly."""
    if index["collection"] != shape.collection or index["query_scope"] != shape.scope:
        return False
    fields = [f for f in index["fields"] if f["field_path"] != NAME_FIELD]
    split = len(fields) - len(shape.orders)
    if split < 0:
        return False
    head, tail = fields[:split], fields[split:]
    if [(f["field_path"], f.get("order")) for f in tail] != list(shape.orders):
        return False
    arrays = {f["field_path"] for f in head if f.get("array_config") == "CONTAINS"}
    equal = {f["field_path"] for f in head if f.get("order")}
    return (len(head) == len(arrays) + len(equal) and equal == set(shape.equality)
            and arrays == ({shape.array} if shape.array else set()))


def missing_indexes(shapes: Iterable[QueryShape],
                    indexes: list[dict[str, Any]]) -> list[QueryShape]:
    """Shapes that need a composite index the list does not have."""
    return sorted((s for s in set(shapes) if s.needs_composite()
                   and not any(covers(i, s) for i in indexes)), key=repr)


def unused_indexes(shapes: Iterable[QueryShape],
                   indexes: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Indexes that serve none of the shapes."""
    needed = [s for s in set(shapes) if s.needs_composite()]
    return [i for i in indexes if not any(covers(i, s) for s in needed)]


def load_indexes(path: Path = INDEX_FILE) -> list[dict[str, Any]]:
    """The composite indexes of ``indexes.json``, checked for shape."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ConfigError(f"cannot read {path.name}: {exc}") from exc
    if not isinstance(data, list):
        raise ConfigError(f"{path.name} must hold a list of indexes")
    for index in data:
        if not isinstance(index, dict) or not {"collection", "query_scope", "fields"} <= set(
                index) or index["query_scope"] not in {COLLECTION, COLLECTION_GROUP}:
            raise ConfigError(f"{path.name}: malformed index {index!r}")
        for spec in index["fields"]:
            if spec.get("order") not in {ASC, DESC} and spec.get("array_config") != "CONTAINS":
                raise ConfigError(f"{path.name}: malformed field {spec!r}")
    return data


@dataclass
class Query:
    """Builds one client query and records its shape when ``build`` is called."""

    source: Any
    collection: str
    scope: str = COLLECTION
    _equality: set[str] = field(default_factory=set)
    _array: str | None = None
    _ranges: list[str] = field(default_factory=list)
    _orders: list[tuple[str, str]] = field(default_factory=list)

    def where(self, path: str, op: str, value: Any) -> Query:
        """Add one filter (``==``, a range, or at most one array filter)."""
        from google.cloud.firestore_v1.base_query import FieldFilter

        if op == "==":
            self._equality.add(path)
        elif op in _ARRAY_OPS:
            if self._array is not None:
                raise ValueError("Firestore allows one array filter per query")
            self._array = path
        elif op in _RANGE_OPS:
            if path not in self._ranges:
                self._ranges.append(path)
        else:
            raise ValueError(f"unsupported operator {op!r}")
        self.source = self.source.where(filter=FieldFilter(path, op, value))
        return self

    def order_by(self, path: str, direction: str = ASC) -> Query:
        """Add one sort key."""
        self._orders.append((path, direction))
        self.source = self.source.order_by(path, direction=direction)
        return self

    def shape(self) -> QueryShape:
        """The shape, with Firestore's implicit ascending order on unordered range fields."""
        orders = list(self._orders)
        ordered = {f for f, _ in orders}
        orders += [(f, ASC) for f in sorted(self._ranges) if f not in ordered]
        return QueryShape(self.collection, self.scope, frozenset(self._equality), self._array,
                          tuple(o for o in orders if o[0] != NAME_FIELD))

    def build(self, after: dict[str, Any] | None = None, limit: int | None = None,
              select: list[str] | None = None) -> Any:
        """The client query (paged by ``after`` values of the order fields), recorded."""
        RECORDED_SHAPES.add(self.shape())
        query = self.source
        if select is not None:
            query = query.select(select)
        if after is not None:
            query = query.start_after(after)
        if limit is not None:
            query = query.limit(limit)
        return query
