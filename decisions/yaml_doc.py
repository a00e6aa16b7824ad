"""One loader for the decision area's YAML files (servicing policy, quote policy, test
cells): read, parse, validate against a pydantic model, and raise ``PolicyError``
naming the file and every field at fault; returns the document and its text (whose hash
versions it)."""

from __future__ import annotations

from pathlib import Path
from typing import TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from decisions.errors import PolicyError

Doc = TypeVar("Doc", bound=BaseModel)


def load_yaml_doc(path: Path, model: type[Doc], what: str) -> tuple[Doc, str]:
    """``what`` names the kind of file in the errors, e.g. "servicing policy"."""
    try:
        text = Path(path).read_text()
    except (OSError, UnicodeDecodeError) as exc:
        raise PolicyError(f"cannot read {what} {path}: {exc}") from exc
    try:
        return model.model_validate(yaml.safe_load(text)), text
    except yaml.YAMLError as exc:
        raise PolicyError(f"{what} {path} is not valid YAML: {exc}") from exc
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}"
                             for e in exc.errors())
        raise PolicyError(f"invalid {what} {path}: {problems}") from exc
