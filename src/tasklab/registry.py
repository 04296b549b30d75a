"""One registry per kind of component: worlds, backbones, architectures, loss weightings, regimes.

A component registers itself beside its code, once, with its name, its settings dataclass and
what else its kind needs to know about it: the fields of that kind's spec (``WorldSpec``,
``BackboneSpec``, ``ArchitectureSpec``, ``WeightingSpec``, ``RegimeSpec``), given as keywords
to ``register``, so a misspelt declaration fails where it is written. Config checks, the
config schema, arm identity and cache keys are derived from these declarations, so a new
component is one file.

Built-in components are found by importing every module of tasklab's component packages; a
user's own are found through the ``tasklab.components`` entry-point group of an installed
package, or through ``TASKLAB_COMPONENTS`` (comma-separated module names, importable from the
folder the command runs in): ``TASKLAB_COMPONENTS=my_world tasklab-train data.world=my_world``.
"""

from __future__ import annotations

import importlib
import os
import pkgutil
import sys
import traceback
from collections.abc import Callable, Iterator
from dataclasses import dataclass, fields
from importlib.metadata import entry_points
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from tasklab.names import is_safe_name, unsafe_name_message
from tasklab.settings import ConfigError

if TYPE_CHECKING:
    from omegaconf import DictConfig

T = TypeVar("T")

ENTRY_POINT_GROUP = "tasklab.components"
ENV_VAR = "TASKLAB_COMPONENTS"
# The packages whose modules declare tasklab's own components.
COMPONENT_PACKAGES = ("tasklab.data", "tasklab.models", "tasklab.weightings", "tasklab.regimes")


class DuplicateComponentError(RuntimeError):
    """Two modules registered the same name for one kind of component."""


@dataclass(frozen=True)
class WorldSpec:
    """What a world declares beyond its class and settings.

    ``build(settings, tasks, verbose)`` makes the world where its class cannot simply be
    called with ``seed`` and the settings (a user's files: read, checked, split)."""

    build: Callable[..., Any] | None = None


@dataclass(frozen=True)
class BackboneSpec:
    """``input_ranks``: the input dimensions it reads (None: any), ``advice`` what to use for
    others; ``trunk_parameters``: whether its trunk has weights (gradient weightings need
    them); ``min_batch``: the fewest rows a training batch may hold (2 where batch norm meets
    1×1 feature maps, which one row cannot normalise)."""

    input_ranks: tuple[int, ...] | None = None
    advice: str = "choose another model.backbone"
    trunk_parameters: bool = True
    min_batch: int = 1


@dataclass(frozen=True)
class ArchitectureSpec:
    """``one_trunk``: one trunk that a regime can hand from fit to fit (transfer, pipeline)."""

    one_trunk: bool = False


@dataclass(frozen=True)
class WeightingSpec:
    """``check_tasks(settings, tasks, path)``: checks that need the run's task list."""

    check_tasks: Callable[[Any, list[str], str], None] | None = None


@dataclass(frozen=True)
class RegimeSpec:
    """What a regime declares for the rest of tasklab.

    ``arm(cfg)``: the arm's name in a comparison (default: the regime's name); ``arm_keys`` /
    ``arm_axes`` (cfg → config keys) where they depend on the settings rather than on its
    fields declared ``arm=True``; ``check(cfg, world)`` for what the settings' declarations
    cannot say; ``one_trunk`` where one trunk is handed from fit to fit; ``stacked(contexts)``
    where several seeds can train as one stacked model; ``reads(cfg)`` the files it reads
    beyond its typed settings (path and fingerprint, by config key).

    ``reference``: the arm every other arm of its experiments is measured against (records
    carry it, so a report names no regime); ``reference_effect`` what the report adds to
    that difference: ``"delta_m"`` (the mean relative change over tasks) or ``"gain"`` (the
    difference signed so that positive is better, with its negative-transfer gap)."""

    arm: Callable[[DictConfig], str] | None = None
    arm_keys: Callable[[DictConfig], list[str]] | None = None
    arm_axes: Callable[[DictConfig], list[str]] | None = None
    check: Callable[[DictConfig, Any], None] | None = None
    one_trunk: bool = False
    stacked: Callable[[list[Any]], list[list[Any]]] | None = None
    reads: Callable[[DictConfig], dict[str, dict[str, str]]] | None = None
    reference: str | None = None
    reference_effect: str | None = None

    def __post_init__(self) -> None:
        if self.reference_effect not in (None, "delta_m", "gain"):
            raise ValueError(
                f"reference_effect={self.reference_effect!r}: use 'delta_m', 'gain' or None"
            )


S = TypeVar("S")


@dataclass(frozen=True)
class Component(Generic[T, S]):
    """What a component declared: ``target`` is its class or function, ``spec`` its kind's
    declarations."""

    name: str
    target: T
    settings: type | None
    module: str
    spec: S


class Registry(Generic[T, S]):
    """The components of one kind, by name; ``field`` is the config key that selects one and
    ``spec`` the dataclass of what the kind declares."""

    def __init__(self, kind: str, field: str, spec: type[S]) -> None:
        self.kind, self.field, self.spec = kind, field, spec
        self._components: dict[str, Component[T, S]] = {}

    def register(
        self, name: str, settings: type | None = None, **declared: Any
    ) -> Callable[[T], T]:
        """Decorate a component's class or function to register it under ``name``; the
        keywords besides ``settings`` are the fields of the kind's spec."""

        if not is_safe_name(name):  # names become parts of run and log folders
            raise ValueError(unsafe_name_message(f"{self.kind} name", name))
        known = [f.name for f in fields(self.spec)]  # type: ignore[arg-type]
        unknown = sorted(set(declared) - set(known))
        if unknown:
            raise ValueError(
                f"{self.kind} {name!r} declares {', '.join(unknown)}, which a {self.kind} "
                f"does not have; a {self.kind} declares: {', '.join(known) or 'nothing'}"
            )
        spec = self.spec(**declared)

        def decorate(target: T) -> T:
            module = getattr(target, "__module__", "?")
            previous = self._components.get(name)
            if previous is not None and previous.module != module:
                raise DuplicateComponentError(
                    f"{self.kind} {name!r} is registered twice: by {previous.module} and by "
                    f"{module}; rename one of them"
                )
            self._components[name] = Component(name, target, settings, module, spec)
            return target

        return decorate

    def get(self, name: str) -> Component[T, S]:
        load_components()
        if name not in self._components:
            raise ConfigError(
                f"{self.field}={name!r} is not a registered {self.kind}; registered: "
                f"{', '.join(self.names())}"
            )
        return self._components[name]

    def names(self) -> tuple[str, ...]:
        load_components()
        return tuple(self._components)

    def __iter__(self) -> Iterator[Component[T, S]]:
        load_components()
        return iter(list(self._components.values()))


WORLDS: Registry[Any, WorldSpec] = Registry("world", "data.world", WorldSpec)
BACKBONES: Registry[Any, BackboneSpec] = Registry("backbone", "model.backbone", BackboneSpec)
ARCHITECTURES: Registry[Any, ArchitectureSpec] = Registry(
    "architecture", "model.architecture", ArchitectureSpec
)
WEIGHTINGS: Registry[Any, WeightingSpec] = Registry(
    "loss weighting", "mtl.weighting.name", WeightingSpec
)
REGIMES: Registry[Any, RegimeSpec] = Registry("regime", "regime.name", RegimeSpec)

_loaded = False


def load_components() -> None:
    """Import every module that declares components (once per process)."""
    global _loaded
    if _loaded:
        return
    _loaded = True
    for package_name in COMPONENT_PACKAGES:
        package = importlib.import_module(package_name)
        for module in pkgutil.iter_modules(package.__path__):
            importlib.import_module(f"{package_name}.{module.name}")
    for point in entry_points(group=ENTRY_POINT_GROUP):
        try:
            point.load()
        except Exception as error:
            raise ConfigError(
                f"the tasklab component package {point.value!r} (entry point {point.name!r}) "
                f"failed to load: {_where(error)}{type(error).__name__}: {error}"
            ) from error
    import_user_modules([n.strip() for n in os.environ.get(ENV_VAR, "").split(",") if n.strip()])


def _where(error: BaseException) -> str:
    """``file:line: `` of the innermost frame of ``error`` outside Python's import machinery
    (the user's line that raised), or nothing."""
    frames = [
        f
        for f in traceback.extract_tb(error.__traceback__)
        if "importlib" not in f.filename and f.filename != __file__
    ]
    return f"{frames[-1].filename}:{frames[-1].lineno}: " if frames else ""


def import_user_modules(names: list[str]) -> None:
    """Import the modules ``TASKLAB_COMPONENTS`` names, from the folder the command runs in
    (or ``PYTHONPATH``); one line naming the module if one cannot be imported or raises
    while it registers its components (a name taken, a name with "/")."""
    if names and os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())
    for name in names:
        try:
            importlib.import_module(name)
        except ModuleNotFoundError as error:
            raise ConfigError(
                f"{ENV_VAR} names {name!r}, which cannot be imported ({error}); give module "
                "names importable from the folder the command runs in"
            ) from error
        except (DuplicateComponentError, ConfigError, ValueError) as error:
            raise ConfigError(f"{ENV_VAR} module {name!r}: {error}") from error
        except Exception as error:
            raise ConfigError(
                f"{ENV_VAR} module {name!r} raised while being imported: "
                f"{_where(error)}{type(error).__name__}: {error}"
            ) from error
