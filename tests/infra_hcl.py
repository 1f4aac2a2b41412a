"""Reading ``infra/`` without Terraform: ``load_config``, ``Config`` and ``FunctionInstance``.

Providers cannot be downloaded here, so ``terraform validate`` cannot run. Instead the
``*.tf`` files are parsed with python-hcl2 and the generated ``*.tf.json`` with ``json`` into
one ``Config`` (resources, data sources, locals, variables), and the few expression shapes
the configuration uses (``${local.x}``, ``${each.key}``, ``${each.value.attr}``) are
resolved. Anything else stays an unresolved string, which the checkers report rather than
guess at. ``tests/infra_checks.py`` holds the checkers themselves.
"""

from __future__ import annotations

import ast
import copy
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import hcl2

ROOT = Path(__file__).resolve().parent.parent
INFRA = ROOT / "infra"
FUNCTION = "google_cloudfunctions2_function"
_OPTIONS = hcl2.SerializationOptions(strip_string_quotes=True, explicit_blocks=False,
                                     with_comments=False)
_REF = re.compile(r"\$\{([^${}]+)\}")


@dataclass
class Config:
    """The merged content of every Terraform file in one module directory."""

    root: Path
    resources: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)
    data: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)
    locals: dict[str, Any] = field(default_factory=dict)
    variables: dict[str, dict[str, Any]] = field(default_factory=dict)

    def copy(self) -> Config:
        """A deep copy to break on purpose."""
        return copy.deepcopy(self)

    def resource(self, rtype: str, name: str) -> dict[str, Any]:
        """One resource body (KeyError when it is missing)."""
        return self.resources[rtype][name]

    def of_type(self, rtype: str) -> dict[str, dict[str, Any]]:
        """Every resource of one type, by name (empty when there is none)."""
        return self.resources.get(rtype, {})


def _merge_blocks(target: dict[str, dict[str, dict[str, Any]]], blocks: Any) -> None:
    """HCL gives a list of ``{type: {name: body}}``; Terraform JSON gives one dict."""
    for block in blocks if isinstance(blocks, list) else [blocks]:
        for rtype, named in block.items():
            for name, body in named.items():
                target.setdefault(rtype, {})[name] = body


def _merge_file(config: Config, doc: dict[str, Any]) -> None:
    _merge_blocks(config.resources, doc.get("resource", []))
    _merge_blocks(config.data, doc.get("data", []))
    local_blocks = doc.get("locals", [])
    for block in local_blocks if isinstance(local_blocks, list) else [local_blocks]:
        config.locals.update(block)
    variable_blocks = doc.get("variable", [])
    for block in variable_blocks if isinstance(variable_blocks, list) else [variable_blocks]:
        config.variables.update(block)


def load_config(root: Path = INFRA) -> Config:
    """Parse ``root/*.tf`` (python-hcl2) and ``root/*.tf.json`` (json), not recursing."""
    config = Config(root=root)
    for path in sorted(root.glob("*.tf")):
        with path.open(encoding="utf-8") as handle:
            _merge_file(config, hcl2.load(handle, serialization_options=_OPTIONS))
    for path in sorted(root.glob("*.tf.json")):
        _merge_file(config, json.loads(path.read_text(encoding="utf-8")))
    return config


def ref(value: Any) -> str | None:
    """``"${local.x}"`` -> ``"local.x"``: the expression of a string that is one interpolation."""
    if isinstance(value, str):
        match = _REF.fullmatch(value)
        if match:
            return match.group(1).strip()
    return None


def block(body: dict[str, Any], name: str) -> dict[str, Any] | None:
    """The single nested block ``name`` of a body, or None."""
    found = body.get(name)
    if isinstance(found, list) and found and isinstance(found[0], dict):
        return found[0]
    return None


def blocks(body: dict[str, Any], name: str) -> list[dict[str, Any]]:
    """Every nested block ``name`` of a body."""
    found = body.get(name)
    return [b for b in found if isinstance(b, dict)] if isinstance(found, list) else []


def dynamic(body: dict[str, Any], name: str) -> dict[str, Any] | None:
    """The ``dynamic "name" { for_each, content }`` block of a body, or None."""
    for entry in blocks(body, "dynamic"):
        if name in entry:
            return entry[name]
    return None


def var_default(config: Config, name: str) -> Any:
    """A variable's default value."""
    return config.variables[name].get("default")


def for_each_keys(config: Config, body: dict[str, Any]) -> list[str] | None:
    """The instance keys of ``for_each = local.X`` (or ``toset(local.X)``) over a literal."""
    expr = ref(body.get("for_each"))
    if expr and expr.startswith("toset(") and expr.endswith(")"):
        expr = expr[len("toset("):-1].strip()
    if not expr or not expr.startswith("local."):
        return None
    value = config.locals.get(expr.removeprefix("local."))
    if isinstance(value, dict):
        return list(value)
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return list(value)
    return None


def resolve(value: Any, key: str | None, each_value: Any) -> Any:
    """Substitute ``each.key`` / ``each.value.attr``; other expressions stay as they are."""
    expr = ref(value)
    if expr == "each.key" and key is not None:
        return key
    if expr and expr.startswith("each.value.") and isinstance(each_value, dict):
        return each_value.get(expr.removeprefix("each.value."), value)
    if isinstance(value, str) and key is not None:
        return value.replace("each.key", json.dumps(key))
    return value


@dataclass
class FunctionInstance:
    """One deployed function: a resource, or one key of a ``for_each`` resource."""

    address: str
    body: dict[str, Any]
    key: str | None = None
    each_value: Any = None

    def get(self, *path: str) -> Any:
        """A nested attribute (blocks taken singly), with ``each`` resolved."""
        node: Any = self.body
        for part in path[:-1]:
            node = block(node, part) if isinstance(node, dict) else None
            if node is None:
                return None
        return resolve(node.get(path[-1]), self.key, self.each_value)

    @property
    def entry_point(self) -> Any:
        return self.get("build_config", "entry_point")


def function_instances(config: Config) -> tuple[list[FunctionInstance], list[str]]:
    """Every function instance Terraform would create, and what could not be expanded."""
    found: list[FunctionInstance] = []
    problems: list[str] = []
    for name, body in config.of_type(FUNCTION).items():
        address = f"{FUNCTION}.{name}"
        if "for_each" not in body:
            found.append(FunctionInstance(address, body))
            continue
        keys = for_each_keys(config, body)
        if keys is None:
            problems.append(f"{address}: for_each {body['for_each']!r} is not a literal local")
            continue
        values = config.locals.get(str(ref(body["for_each"])).removeprefix("local."))
        for key in keys:
            each_value = values.get(key) if isinstance(values, dict) else key
            found.append(FunctionInstance(f'{address}["{key}"]', body, key, each_value))
    return found, problems


def exported_entry_points(main_py: Path = ROOT / "main.py") -> list[str]:
    """``main.__all__``, read with ``ast`` (importing main would configure logging)."""
    tree = ast.parse(main_py.read_text(encoding="utf-8"))
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(
                isinstance(t, ast.Name) and t.id == "__all__" for t in node.targets):
            return list(ast.literal_eval(node.value))
    raise AssertionError("main.py has no __all__")
