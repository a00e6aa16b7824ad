"""The model registry: a directory of versioned artifacts plus a roles file.

``root/<version>/`` holds each artifact (copied in on `register`, never modified);
``root/roles.json`` maps role (champion, challenger) -> target name (pd, fraud) ->
version. Role changes are written atomically (temp file + rename) so a worker
reading the registry never sees half a file.
"""

from __future__ import annotations

import builtins
import json
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from models.errors import ModelLoadError, RegistryError
from models.reasons import ReasonMap
from models.serving import MANIFEST, ServingModel, load_model

ROLES = ("champion", "challenger")
ROLES_FILE = "roles.json"


@dataclass(frozen=True)
class Champions:
    """The models the stream scores with; ``fraud`` may be absent (cold start)."""

    pd: ServingModel | None
    fraud: ServingModel | None


class Registry:
    def __init__(self, root: Path | str) -> None:
        self.root = Path(root)

    # --- writing ---------------------------------------------------------------
    def register(self, artifact: Path | str) -> str:
        """Copy an artifact directory into the registry; returns its version id."""
        src = Path(artifact)
        try:
            manifest = json.loads((src / MANIFEST).read_text())
            version = str(manifest["version"])
        except (OSError, ValueError, KeyError) as e:
            raise ModelLoadError(f"{src / MANIFEST} is not a model manifest: {e}") from e
        dest = self.root / version
        if src.resolve() == dest.resolve():
            return version
        if dest.exists():
            raise RegistryError(f"version {version} is already registered at {dest}")
        self.root.mkdir(parents=True, exist_ok=True)
        tmp = self.root / f".{version}.tmp"
        shutil.rmtree(tmp, ignore_errors=True)
        shutil.copytree(src, tmp)
        os.replace(tmp, dest)
        return version

    def promote(self, version: str, role: str = "champion") -> None:
        """Make ``version`` the ``role`` for its model name (pd, fraud...)."""
        if role not in ROLES:
            raise RegistryError(f"unknown role {role!r}; use one of {ROLES}")
        name = self.show(version).get("name") or "pd"
        roles = self.roles()
        roles.setdefault(role, {})[name] = version
        for other in ROLES:  # a version holds one role at a time
            if other != role and roles.get(other, {}).get(name) == version:
                del roles[other][name]
        self.root.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=self.root, prefix=".roles.")
        with os.fdopen(fd, "w") as f:
            json.dump(roles, f, indent=1)
        os.replace(tmp, self.root / ROLES_FILE)

    # --- reading ---------------------------------------------------------------
    def roles(self) -> dict[str, dict[str, str]]:
        p = self.root / ROLES_FILE
        if not p.exists():
            return {}
        try:
            data: dict[str, dict[str, str]] = json.loads(p.read_text())
        except ValueError as e:
            raise RegistryError(f"{p} is corrupt ({e}); fix or delete it and promote again") from e
        return data

    def list(self) -> builtins.list[dict[str, Any]]:
        """Summary of every version, newest first, with the roles it holds."""
        if not self.root.exists():
            return []
        held = {v: f"{role}:{name}" for role, m in self.roles().items() for name, v in m.items()}
        out = []
        for d in self.root.iterdir():
            if d.name.startswith(".") or not (d / MANIFEST).exists():
                continue
            m = json.loads((d / MANIFEST).read_text())
            out.append(
                {
                    "version": m["version"],
                    "name": m.get("name"),
                    "target": m.get("target"),
                    "kind": m.get("kind"),
                    "auc": (m.get("metrics") or {}).get("auc"),
                    "created_at": m.get("created_at"),
                    "role": held.get(m["version"], ""),
                }
            )
        return sorted(out, key=lambda r: r["created_at"] or "", reverse=True)

    def path(self, version: str) -> Path:
        d = self.root / version
        if not (d / MANIFEST).exists():
            raise RegistryError(
                f"no version {version!r} in {self.root}; see `loanrisk models list`"
            )
        return d

    def show(self, version: str) -> dict[str, Any]:
        data: dict[str, Any] = json.loads((self.path(version) / MANIFEST).read_text())
        return data

    def version_for(self, role: str, name: str) -> str | None:
        return self.roles().get(role, {}).get(name)

    def load(self, role: str, name: str, reason_map: ReasonMap | None = None) -> ServingModel:
        """Load the model holding ``role`` for ``name``; raises if none or if it fails to load."""
        version = self.version_for(role, name)
        if version is None:
            raise RegistryError(
                f"no {role} for {name!r} in {self.root}; run `loanrisk models promote`"
            )
        return load_model(self.path(version), reason_map)

    def load_version(self, version: str, reason_map: ReasonMap | None = None) -> ServingModel:
        return load_model(self.path(version), reason_map)

    def champions(self, reason_map: ReasonMap | None = None) -> Champions:
        """The champion pd and fraud models (None where no champion exists yet)."""
        got: dict[str, ServingModel | None] = {}
        for name in ("pd", "fraud"):
            v = self.version_for("champion", name)
            got[name] = None if v is None else load_model(self.path(v), reason_map)
        return Champions(pd=got["pd"], fraud=got["fraud"])
