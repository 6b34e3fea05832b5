"""``familiar models list|recommend|download ID|import PATH``: the model manager.

Downloads and copies go to the models folder and need no profile; ``import --reference``
records the path in the encrypted store, so it unlocks the profile. Ctrl-C during a download
keeps the partial file: the same command resumes it.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

from app.commands.base import Cli, CliError, add_command
from app.core.errors import ProfileError


def register(sub: Any, common: argparse.ArgumentParser) -> None:
    models = sub.add_parser("models", parents=[common], help="list, recommend, download, "
                            "import local models")
    msub = models.add_subparsers(dest="models_command", metavar="ACTION", required=True)
    add_command(msub, common, "list", cmd_list, "catalog with labels for this machine, and "
                "the models you have")
    add_command(msub, common, "recommend", cmd_recommend, "the catalog model that suits this "
                "machine best")
    p = add_command(msub, common, "download", cmd_download, "download a catalog model "
                    "(resumes a partial download)")
    p.add_argument("id", help="catalog id (see 'familiar models list')")
    p.add_argument("--force", action="store_true",
                   help="download even when the model is too big for this machine")
    p = add_command(msub, common, "use", cmd_use, "answer with this model from now on")
    p.add_argument("model", help="a catalog id, a file in the models folder, or a .gguf path")
    p = add_command(msub, common, "import", cmd_import, "add a GGUF you already have")
    p.add_argument("path", type=Path, help="a .gguf model file")
    p.add_argument("--reference", action="store_true",
                   help="use the file where it is instead of copying it (path kept encrypted)")


def _machine() -> tuple[Any, dict[str, Any]]:
    from app.core import hardware
    from app.core.engine.sizing import Machine
    from app.core.paths import models_dir

    facts = hardware.facts(models_dir())
    return Machine.from_facts(facts), facts


def cmd_list(cli: Cli) -> int:
    from app.core.engine import catalog, installed
    from app.core.paths import models_dir
    from app.core.profile.vault import profile_exists

    machine, facts = _machine()
    rated = catalog.rate(catalog.load_catalog(), machine)
    local = installed.local_models(models_dir())
    refs: list[dict[str, Any]] | None = None
    note = ""
    if profile_exists(cli.home()):
        try:
            refs = installed.ModelRefs(cli.runtime().store).list()
        except ProfileError:
            note = "models imported by reference are hidden: the profile is locked"
    have = {m["file"] for m in local}
    payload = {
        "machine": {k: facts[k] for k in ("ram_total_mb", "ram_available_mb",
                                          "physical_cores", "gpu_offload", "free_disk_mb")},
        "catalog": [dict(r.as_dict(), downloaded=r.entry.file in have) for r in rated],
        "installed": local,
        "references": refs if refs is not None else [],
        "recommended": next((r.entry.id for r in rated if r.recommended), None),
        "notes": [note] if note else [],
    }
    lines = [f"{'ID':24} {'SIZE':>8} {'RAM':>8}  LABEL"]
    for r in rated:
        e = r.entry
        mark = " (recommended)" if r.recommended else ""
        got = " [downloaded]" if e.file in have else ""
        lines.append(f"{e.id:24} {e.download_bytes / 2**30:7.2f}G {e.ram_needed_mb / 1024:7.1f}G"
                     f"  {r.label}{mark}{got}")
    if local:
        lines += ["", "In the models folder:"] + [f"  {m['file']}" for m in local]
    if refs:
        lines += ["", "Imported by reference:"] + [f"  {m['name']} ({m['architecture']})"
                                                   for m in refs]
    if note:
        lines += ["", note]
    cli.emit(payload, "\n".join(lines))
    return 0


def cmd_recommend(cli: Cli) -> int:
    from app.core.engine import catalog
    from app.core.engine.sizing import label

    machine, facts = _machine()
    entries = catalog.load_catalog()
    best = catalog.recommend(entries, machine)
    if best is None:
        raise CliError(f"no catalog model fits this machine ({facts['ram_total_mb']} MB of RAM);"
                       " import a smaller GGUF with 'familiar models import PATH'")
    lab = label(best.ram_needed_bytes, best.params_billion, machine)
    payload = dict(catalog.Rated(best, lab, True).as_dict(),
                   machine={k: facts[k] for k in ("ram_total_mb", "physical_cores",
                                                   "gpu_offload")})
    cli.emit(payload, f"{best.id}: {best.name}, {best.download_bytes / 2**30:.2f} GB download, "
                      f"{lab} here.\nDownload it with: familiar models download {best.id}")
    return 0


def cmd_download(cli: Cli) -> int:
    from app.core.engine import catalog, installed
    from app.core.engine.downloads import DownloadProgress
    from app.core.engine.sizing import TOO_BIG, label
    from app.core.paths import models_dir
    from app.core.tasks import TaskState

    entry = catalog.find(cli.args.id)
    target = models_dir()
    machine, facts = _machine()
    if not cli.args.force and label(entry.ram_needed_bytes, entry.params_billion,
                                    machine) == TOO_BIG:
        raise CliError(f"{entry.id} needs about {entry.ram_needed_mb} MB of RAM but this "
                       f"machine has {facts['ram_total_mb']} MB; pick one from 'familiar models "
                       "recommend' (or add --force to download it anyway)")
    if (target / entry.file).exists():
        facts = installed.read_manifest(target).get(entry.file, {})
        payload = {"id": entry.id, "path": str(target / entry.file), "already_present": True,
                   "sha256": facts.get("sha256")}
        cli.emit(payload, f"{entry.id} is already downloaded: {target / entry.file}")
        return 0
    tty = sys.stderr.isatty() and not cli.json
    last = [0.0]

    def show(p: DownloadProgress) -> None:
        now = time.monotonic()
        if not tty or (now - last[0] < 0.2 and p.done_bytes < p.total_bytes):
            return
        last[0] = now
        eta = f" ETA {p.eta_s:4.0f}s" if p.eta_s is not None else ""
        print(f"\r{p.done_bytes / 2**20:9.1f} / {p.total_bytes / 2**20:.1f} MB "
              f"{p.speed_bps / 2**20:6.1f} MB/s{eta}   ", end="", file=sys.stderr, flush=True)

    state = TaskState()
    try:
        result = installed.download_entry(entry, target, state=state, on_progress=show)
    finally:
        if tty:
            print(file=sys.stderr)
    payload = {"id": entry.id, "path": str(result.path), "sha256": result.sha256,
               "size_bytes": result.size_bytes, "verified_against": result.verified_against,
               "resumed_from": result.resumed_from, "commit": result.commit}
    check = {"catalog": "matches the catalog's sha256",
             "hub-etag": "matches the hub's sha256",
             "none": "sha256 computed and recorded (no published hash to compare)"}
    cli.emit(payload, f"Downloaded {entry.id} to {result.path}\n"
                      f"sha256 {result.sha256}: {check[result.verified_against]}\n"
                      f"Answer with it: familiar models use {entry.id}")
    return 0


def cmd_import(cli: Cli) -> int:
    from app.core.engine import installed
    from app.core.engine.gguf_check import require_model
    from app.core.paths import models_dir

    src: Path = cli.args.path.expanduser()
    if cli.args.reference:
        info = require_model(src)
        src = src.resolve()
        digest = installed.file_sha256(src)
        ref_id = installed.ModelRefs(cli.runtime().store).add(src, info, digest)
        payload = {"id": ref_id, "path": str(src), "name": info.name, "copied": False,
                   "architecture": info.architecture, "sha256": digest,
                   "size_bytes": info.size_bytes}
        cli.emit(payload, f"Added {info.name} ({info.architecture}) by reference; the file "
                          "stays where it is.")
        return 0
    done = installed.import_copy(src, models_dir())
    payload = {"path": str(done.path), "name": done.info.name, "copied": True,
               "architecture": done.info.architecture, "sha256": done.sha256,
               "size_bytes": done.info.size_bytes}
    cli.emit(payload, f"Copied {done.info.name} ({done.info.architecture}) to {done.path}")
    return 0


def cmd_use(cli: Cli) -> int:
    from app.core.engine.gguf_check import require_model
    from app.core.engine.installed import resolve_model
    from app.core.paths import models_dir

    spec = cli.args.model
    path = resolve_model(spec, models_dir())
    if path is None:
        raise CliError(f"no model {spec!r}: give a .gguf path, or download it first with "
                       "'familiar models download ID'")
    info = require_model(path)  # refuses files llama.cpp cannot load, with the reason
    runtime = cli.runtime()
    direct = Path(spec).expanduser()
    runtime.set_model(str(direct.resolve()) if direct.is_file() else spec)
    cli.emit({"model": runtime.settings.engine.model_path, "path": str(path),
              "name": info.name, "architecture": info.architecture},
             f"Familiar now answers with {info.name} ({path.name}).")
    return 0
