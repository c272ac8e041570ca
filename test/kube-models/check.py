#!/usr/bin/python3
"""Checks manifests against Kubernetes' own API models.

Every object of a Kubernetes kind is walked field by field against the model classes that
python3-kubernetes generates from Kubernetes' OpenAPI (`openapi_types` names each field's type,
`attribute_map` its name on the wire): a field the model does not have, a value of the wrong
type, or a required field left out is a problem. podnet.io objects are walked against the
structural schema of their CustomResourceDefinition among the same files, as a Kubernetes API
server would.

Usage: check.py FILE...   Prints one line per problem and exits 1 if there is any, 2 if a file
cannot be read.
"""
import re
import sys

import yaml
from kubernetes.client import Configuration, models

LIST = re.compile(r"^list\[(.+)\]$")
DICT = re.compile(r"^dict\(str, (.+)\)$")
SCALARS = {
    "str": (str,),
    "bool": (bool,),
    "int": (int,),
    "float": (int, float),
    "datetime": (str,),
    "date": (str,),
}
STRICT = Configuration()
STRICT.client_side_validation = True


def model_class(api_version, kind):
    version = api_version.rsplit("/", 1)[-1]
    return getattr(models, "V" + version[1:] + kind, None) if version.startswith("v") else None


def required_fields(cls):
    """The fields whose setter refuses None: the model's required ones."""
    probe = cls.__new__(cls)
    probe.local_vars_configuration = STRICT
    required = []
    for attr in cls.openapi_types:
        try:
            setattr(probe, attr, None)
        except ValueError:
            required.append(attr)
    return required


def check_type(value, type_name, path, problems):
    if type_name == "object":
        return
    if type_name in SCALARS:
        allowed = SCALARS[type_name]
        if isinstance(value, bool) and bool not in allowed:
            allowed = ()
        if not isinstance(value, allowed):
            problems.append(f"{path}: must be {type_name}, got {type(value).__name__} {value!r}")
        return
    m = LIST.match(type_name)
    if m:
        if not isinstance(value, list):
            problems.append(f"{path}: must be a list")
            return
        for i, item in enumerate(value):
            check_type(item, m.group(1), f"{path}[{i}]", problems)
        return
    m = DICT.match(type_name)
    if m:
        if not isinstance(value, dict):
            problems.append(f"{path}: must be a map")
            return
        for key, item in value.items():
            check_type(item, m.group(1), f"{path}.{key}", problems)
        return
    check_model(value, getattr(models, type_name), path, problems)


def check_model(value, cls, path, problems):
    if not isinstance(value, dict):
        problems.append(f"{path}: must be an object ({cls.__name__})")
        return
    by_wire_name = {wire: attr for attr, wire in cls.attribute_map.items()}
    for key, item in value.items():
        attr = by_wire_name.get(key)
        if attr is None:
            problems.append(f"{path}.{key}: not a field of {cls.__name__}".lstrip("."))
            continue
        check_type(item, cls.openapi_types[attr], f"{path}.{key}".lstrip("."), problems)
    for attr in required_fields(cls):
        if cls.attribute_map[attr] not in value:
            problems.append(
                f"{path}.{cls.attribute_map[attr]}: required by {cls.__name__}".lstrip(".")
            )


SCHEMA_TYPES = {
    "string": (str,),
    "integer": (int,),
    "number": (int, float),
    "boolean": (bool,),
    "object": (dict,),
    "array": (list,),
}


def check_schema(value, schema, path, problems):
    """A structural OpenAPI v3 schema, the parts of it CustomResourceDefinitions use here."""
    kind = schema.get("type")
    if kind:
        allowed = SCHEMA_TYPES[kind]
        if (isinstance(value, bool) and bool not in allowed) or not isinstance(value, allowed):
            problems.append(f"{path}: must be {kind}, got {value!r}")
            return
    if "enum" in schema and value not in schema["enum"]:
        problems.append(f"{path}: must be one of {schema['enum']}, got {value!r}")
    if "minimum" in schema and value < schema["minimum"]:
        problems.append(f"{path}: must be at least {schema['minimum']}")
    if "maximum" in schema and value > schema["maximum"]:
        problems.append(f"{path}: must be at most {schema['maximum']}")
    if "pattern" in schema and not re.search(schema["pattern"], value):
        problems.append(f"{path}: must match {schema['pattern']}")
    if kind == "object" and "properties" in schema:
        for key, item in value.items():
            if key not in schema["properties"]:
                problems.append(f"{path}.{key}: not in the schema".lstrip("."))
            else:
                check_schema(item, schema["properties"][key], f"{path}.{key}".lstrip("."), problems)
    if kind == "object" and "additionalProperties" in schema:
        for key, item in value.items():
            check_schema(item, schema["additionalProperties"], f"{path}.{key}", problems)
    for key in schema.get("required", []):
        if key not in value:
            problems.append(f"{path}.{key}: required".lstrip("."))
    if kind == "array" and "items" in schema:
        for i, item in enumerate(value):
            check_schema(item, schema["items"], f"{path}[{i}]", problems)


def custom_schemas(objects):
    """(group/version, kind) → openAPIV3Schema, from the CustomResourceDefinitions given."""
    schemas = {}
    for obj in objects:
        if obj.get("kind") != "CustomResourceDefinition":
            continue
        spec = obj.get("spec", {})
        for version in spec.get("versions", []):
            key = (f"{spec.get('group')}/{version.get('name')}", spec.get("names", {}).get("kind"))
            schemas[key] = version.get("schema", {}).get("openAPIV3Schema", {})
    return schemas


def check_object(obj, schemas):
    problems = []
    api_version, kind = obj.get("apiVersion", ""), obj.get("kind", "")
    if (api_version, kind) in schemas:
        check_schema(obj, schemas[(api_version, kind)], "", problems)
        return problems
    cls = model_class(api_version, kind)
    if cls is None:
        return [f"{api_version} {kind}: neither a Kubernetes kind nor one of the given CRDs"]
    check_model(obj, cls, "", problems)
    return problems


def main(paths):
    documents = []
    for path in paths:
        try:
            with open(path, encoding="utf-8") as f:
                documents += [(path, d) for d in yaml.safe_load_all(f) if d is not None]
        except (OSError, yaml.YAMLError) as err:
            print(f"{path}: {err}", file=sys.stderr)
            return 2
    schemas = custom_schemas([d for _, d in documents])
    failed = False
    for path, obj in documents:
        meta = obj.get("metadata") or {}
        name = "/".join(n for n in (meta.get("namespace"), meta.get("name")) if n)
        for problem in check_object(obj, schemas):
            failed = True
            print(f"{path}: {obj.get('kind')} {name}: {problem}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
