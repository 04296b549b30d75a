"""Names that make a sweep idempotent: a run's folder follows from what was asked for.

A job's folder is a hash of its overrides (Hydra's ``override_dirname``: the job's overrides,
sorted), so launching the same sweep again lands every job in the folder of its earlier run
and can skip it.

**Identity** (one policy for the run-skip key and the stage caches): what a run or a cached
stage *is* are the settings whose value differs from the default declared in its schema,
leaving out those declared ``identity=False`` (progress bar, log intervals, loggers, where
files go), plus ``TRAINING_VERSION``; a ``name`` (which regime, which weighting) is always
kept; a path declared ``reads=`` (a data file) counts with a fingerprint of its content
(``runs/fingerprints.py``), so editing the file re-runs the runs that read it. So a new
setting added with a default leaves finished
runs and cached stages valid, and any changed value re-runs them. ``TRAINING_VERSION`` is
raised whenever a change to tasklab makes an unchanged config train differently (a fixed bug
in a loss, a new default) — that, not a hash of the source, is what retires old results.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from typing import Any

from omegaconf import DictConfig, ListConfig, OmegaConf

from tasklab.names import is_safe_name, unsafe_name_message
from tasklab.runs.fingerprints import path_fingerprint
from tasklab.settings import ConfigError

TRAINING_VERSION = 4  # raise it when an unchanged config would now train differently

RUN_ID_RESOLVER = "tasklab_run_id"
NAME_RESOLVER = "tasklab_name"
DISPLAY_KEYS_RESOLVER = "tasklab_display_keys"
NUMBERED_RESOLVER = "tasklab_numbered"
RUN_ID_LENGTH = 12


def run_id(override_dirname: str) -> str:
    """The folder name of the job with these (sorted, joined) overrides."""
    return hashlib.sha256(str(override_dirname).encode("utf-8")).hexdigest()[:RUN_ID_LENGTH]


def register_run_id_resolver() -> None:
    """``${tasklab_run_id:${hydra.job.override_dirname}}`` in ``hydra.sweep.subdir``.

    Registered on import of ``tasklab.train``, so the workers of the joblib and submitit
    launchers (which import the task function) resolve it too.
    """
    if not OmegaConf.has_resolver(RUN_ID_RESOLVER):
        OmegaConf.register_new_resolver(RUN_ID_RESOLVER, run_id)
    if not OmegaConf.has_resolver(NAME_RESOLVER):
        OmegaConf.register_new_resolver(NAME_RESOLVER, safe_name)
    if not OmegaConf.has_resolver(DISPLAY_KEYS_RESOLVER):
        OmegaConf.register_new_resolver(DISPLAY_KEYS_RESOLVER, display_keys)
    if not OmegaConf.has_resolver(NUMBERED_RESOLVER):
        OmegaConf.register_new_resolver(NUMBERED_RESOLVER, numbered)


def numbered(prefix: str, count: int) -> list[str]:
    """``${tasklab_numbered:t,${data.vectors.n_tasks}}`` → ``[t0, t1, …]``: a task list that
    follows a swept number of tasks."""
    return [f"{prefix}{k}" for k in range(int(count))]


def _display_keys_of(schema: type, prefix: str) -> list[str]:
    keys: list[str] = []
    fields = dataclasses.fields(schema)
    if fields and all(f.metadata.get("identity") is False for f in fields):
        keys.append(prefix.rstrip("."))  # the whole group (logger=none) changes no result
    for spec in fields:
        if spec.metadata.get("identity") is False:
            keys.append(f"{prefix}{spec.name}")
        elif spec.default_factory is not dataclasses.MISSING and dataclasses.is_dataclass(
            kind := type(spec.default_factory())
        ):
            keys.extend(_display_keys_of(kind, f"{prefix}{spec.name}."))
    return keys


def display_keys() -> list[str]:
    """``${tasklab_display_keys:}`` in ``override_dirname.exclude_keys``: the settings declared
    ``identity=False`` (and groups made only of them) do not name a sweep's job folders, so
    changing one on a finished sweep finds, and skips, every run."""
    from tasklab.config import train_schema  # the schema imports the components (and torch)
    from tasklab.registry import REGIMES, WEIGHTINGS

    keys = _display_keys_of(train_schema(), "")
    for registry, prefix in ((REGIMES, "regime."), (WEIGHTINGS, "mtl.weighting.")):
        for component in registry:
            if component.settings is not None:
                keys.extend(_display_keys_of(component.settings, prefix))
    return sorted(set(keys))


def safe_name(name: str) -> str:
    """``${tasklab_name:${name}}`` in the output folders: an experiment name that would leave
    ``outputs/`` or ``multirun/`` (``../x``, ``/abs``) fails before Hydra creates a folder."""
    if not is_safe_name(name):
        raise ConfigError(unsafe_name_message("name", name))
    return name


def _default(spec: dataclasses.Field) -> Any:
    if spec.default is not dataclasses.MISSING:
        return spec.default
    if spec.default_factory is not dataclasses.MISSING:
        return spec.default_factory()
    return dataclasses.MISSING


def _plain(value: Any) -> Any:
    if isinstance(value, (DictConfig, ListConfig)):
        return OmegaConf.to_container(value, resolve=True)
    return value


def identity(node: DictConfig) -> dict[str, Any]:
    """The settings of ``node`` that differ from its schema's declared defaults, nested
    settings included, without those declared ``identity=False``."""
    schema = OmegaConf.get_type(node)
    specs = (
        {f.name: f for f in dataclasses.fields(schema)} if dataclasses.is_dataclass(schema) else {}
    )
    out: dict[str, Any] = {}
    for key in node:
        spec = specs.get(str(key))
        if spec is not None and spec.metadata.get("identity") is False:
            continue
        value = node[key]
        if isinstance(value, DictConfig) and dataclasses.is_dataclass(OmegaConf.get_type(value)):
            nested = identity(value)
            if nested:
                out[str(key)] = nested
            continue
        plain = _plain(value)
        # ``name`` says which component a node configures (its schema's default name is the
        # component's own), so it is always part of the identity
        if spec is not None and key != "name" and plain == _plain(_default(spec)):
            continue
        reads = spec.metadata.get("reads") if spec is not None else False
        out[str(key)] = _read_input(plain, reads) if reads and plain else plain
    return out


def _read_input(path: Any, reads: bool | str) -> dict[str, str]:
    pattern = reads if isinstance(reads, str) else ""
    entry = {"path": str(path), "content": path_fingerprint(str(path), pattern)}
    return entry | ({"pattern": pattern} if pattern else {})


def read_inputs(node: DictConfig, prefix: str = "") -> dict[str, dict[str, str]]:
    """Every path the config's settings declare as read (``reads=``) with its content's
    fingerprint, by dotted key: what a record keeps and ``tasklab-reproduce`` checks."""
    schema = OmegaConf.get_type(node)
    specs = (
        {f.name: f for f in dataclasses.fields(schema)} if dataclasses.is_dataclass(schema) else {}
    )
    out: dict[str, dict[str, str]] = {}
    for key in node:
        value, spec = node[key], specs.get(str(key))
        if isinstance(value, DictConfig):
            out.update(read_inputs(value, f"{prefix}{key}."))
        elif spec is not None and spec.metadata.get("reads") and value:
            out[f"{prefix}{key}"] = _read_input(value, spec.metadata["reads"])
    return out


def identity_key(fields: dict[str, Any]) -> str:
    """A hash of identity fields and ``TRAINING_VERSION``."""
    text = json.dumps({"fields": fields, "version": TRAINING_VERSION}, sort_keys=True, default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def regime_inputs(cfg: DictConfig) -> dict[str, dict[str, str]]:
    """The files a run's regime reads beyond its typed settings (``reads`` in its
    registration: a transfer's second source file, given as an untyped data config)."""
    from tasklab.registry import REGIMES

    regime = cfg.get("regime")
    if regime is None or regime.get("name") not in REGIMES.names():
        return {}
    extra = REGIMES.get(regime.name).spec.reads
    return extra(cfg) if extra is not None else {}


def run_inputs(cfg: DictConfig) -> dict[str, dict[str, str]]:
    """Every file a run reads, with its fingerprint: what its record keeps."""
    return read_inputs(cfg) | regime_inputs(cfg)


def config_key(cfg: DictConfig) -> str:
    """A run's identity as a hash: equal exactly when two runs train alike (see above)."""
    fields = identity(cfg)  # the typed paths carry their fingerprints
    extra = regime_inputs(cfg)
    if extra:
        fields["inputs"] = {key: entry["content"] for key, entry in sorted(extra.items())}
    return identity_key(fields)
