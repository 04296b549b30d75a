"""``tasklab-configs``: list the packaged configs and components; copy one to start your own.

    tasklab-configs ls                         # experiments, every group's options, components
    tasklab-configs cp driving_mtl_vs_stl my_conf/
    tasklab-train --config-dir my_conf experiment=driving_mtl_vs_stl ...

A copied experiment lands as ``<folder>/experiment/<name>.yaml`` (or at the exact ``.yaml``
path given), the layout ``--config-dir`` reads: the user's file then composes with every
packaged group and shadows a packaged experiment of the same name.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import shutil
import sys
from pathlib import Path

from tasklab.conf import CONF_DIR
from tasklab.registry import ARCHITECTURES, BACKBONES, REGIMES, WEIGHTINGS, WORLDS, Registry

PROG = "tasklab-configs"


def _header(path: Path) -> str:
    """The first comment line of a YAML file: what it is for."""
    for line in path.read_text().splitlines():
        text = line.lstrip("#").strip()
        if line.startswith("#") and text and not text.startswith("@package"):
            return text
    return ""


def _doc(target: object) -> str:
    """The first line of the component's own docstring, else of its module's (one module per
    weighting, regime or world says what it is)."""
    doc = getattr(target, "__doc__", "") or ""
    if not doc.strip() or doc.startswith(f"{getattr(target, '__name__', '')}("):
        doc = getattr(sys.modules.get(getattr(target, "__module__", "")), "__doc__", "") or ""
    lines = doc.strip().splitlines()
    return lines[0] if lines else ""


def packaged(group: str) -> dict[str, Path]:
    """The packaged YAML options of ``group`` (``experiment``, ``data``, ``mtl/weighting``…)."""
    folder = CONF_DIR / group
    return {p.stem: p for p in sorted(folder.glob("*.yaml"))} if folder.is_dir() else {}


def groups() -> list[str]:
    return sorted(
        p.relative_to(CONF_DIR).as_posix()
        for p in CONF_DIR.rglob("*")
        if p.is_dir()
        if any(p.glob("*.yaml"))
    )


def list_configs(out=None) -> None:
    out = out or sys.stdout
    for group in groups():
        print(f"{group}:", file=out)
        for name, path in packaged(group).items():
            print(f"  {name:28s} {_header(path)}", file=out)
    registries: list[Registry] = [WORLDS, BACKBONES, ARCHITECTURES, WEIGHTINGS, REGIMES]
    for registry in registries:
        print(f"registered {registry.kind}s ({registry.field}):", file=out)
        for component in registry:
            print(f"  {component.name:28s} {_doc(component.target)}", file=out)
            for line in settings_lines(component.settings):
                print(f"      {line}", file=out)


def settings_lines(settings: type | None) -> list[str]:
    """Each declared setting: its default, its checks, whether it defines an arm, its doc."""
    if settings is None:
        return []
    lines = []
    for spec in dataclasses.fields(settings):
        if spec.name == "name":
            continue
        meta = spec.metadata
        default = spec.default_factory() if spec.default is dataclasses.MISSING else spec.default
        rules = [
            text
            for key, text in (
                ("low", f">= {meta.get('low')}"),
                ("high", f"<= {meta.get('high')}"),
                ("above", f"> {meta.get('above')}"),
            )
            if meta.get(key) is not None
        ]
        if meta.get("choices"):
            rules.append("one of " + "|".join(meta["choices"]))
        if meta.get("arm"):
            rules.append("defines an arm")
        extra = f"  ({', '.join(rules)})" if rules else ""
        doc = f"  {meta['doc']}" if meta.get("doc") else ""
        lines.append(f"{spec.name}={default!r}{extra}{doc}")
    return lines


def copy_config(name: str, destination: Path, force: bool = False) -> Path:
    """Copy packaged ``[group/]name`` to ``destination`` (a folder, or a ``.yaml`` path)."""
    group, _, stem = name.rpartition("/")
    group = group or "experiment"
    options = packaged(group)
    if stem not in options:
        raise SystemExit(
            f"{PROG}: error: {group}/{stem} is not a packaged config; choose one of: "
            + ", ".join(f"{group}/{n}" if group != "experiment" else n for n in options)
        )
    target = destination if destination.suffix == ".yaml" else destination / group / f"{stem}.yaml"
    if target.exists() and not force:
        raise SystemExit(f"{PROG}: error: {target} exists; give another path or --force")
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(options[stem], target)
    return target


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog=PROG, description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("ls", help="list packaged configs by group, and registered components")
    copy = commands.add_parser("cp", help="copy a packaged config into your folder")
    copy.add_argument("name", help="an experiment's name, or group/name (e.g. data/driving)")
    copy.add_argument("destination", type=Path, help="a folder (for --config-dir) or a .yaml path")
    copy.add_argument("--force", action="store_true", help="overwrite an existing file")
    args = parser.parse_args(argv)
    if args.command == "ls":
        try:
            list_configs()
        except BrokenPipeError:  # `tasklab-configs ls | head`: the reader had enough
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return
    target = copy_config(args.name, args.destination, args.force)
    group = args.name.rpartition("/")[0] or "experiment"
    print(f"{PROG}: wrote {target}")
    if args.destination.suffix != ".yaml":
        print(f"run it with: tasklab-train --config-dir {args.destination} {group}={target.stem}")


if __name__ == "__main__":
    main()
