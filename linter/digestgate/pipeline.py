"""`digestgate graph`: a repository's pipeline as data and as pictures.

`view()` builds the public JSON document (version 1, documented in
docs/output-graph.md); `render()` draws it as text, Mermaid (renders on GitHub) or
Graphviz DOT. Paths are relative to the repository root; role names are the
lower-case role names of RULES.md.
"""

from __future__ import annotations

import json
import re
from typing import Any

from digestgate.analysis import Analysis
from digestgate.facts import ImageArg, Role
from digestgate.graph import JobNode
from digestgate.model import Step
from digestgate.provenance import Site

VERSION = 1
_ROLE_ORDER = [r.value for r in Role]


def _roles(roles: frozenset[Role]) -> list[str]:
    return sorted((r.value for r in roles), key=_ROLE_ORDER.index)


def _first_instance(analysis: Analysis, path: str, job: str) -> JobNode | None:
    found = [n for n in analysis.graph.nodes if n.path == path and n.job == job]
    if not found:
        return None
    return min(found, key=lambda n: len(n.via))


def _image(analysis: Analysis, arg: ImageArg, site: Site) -> dict[str, Any]:
    prov = analysis.provenance.of_value(arg.value, site)
    return {
        "use": arg.use.value,
        "kind": "reference" if arg.use.is_reference else "name",
        "value": arg.value.text,
        "path": arg.value.path,
        "line": arg.value.span.line,
        "provenance": prov.kind.value,
        "why": prov.why,
    }


def _unique(images: list[ImageArg]) -> list[ImageArg]:
    """A build that pushes lists its tags twice (BUILD and PUSH): show them once."""
    seen: set[tuple[str, int, int]] = set()
    out = []
    for arg in images:
        key = (arg.use.value, arg.value.span.line, arg.value.span.column)
        if key not in seen:
            seen.add(key)
            out.append(arg)
    return out


def _step_label(step: Step) -> str:
    if step.id is None and step.name is None and step.run is not None:
        first = step.run.value.strip().splitlines()[0] if step.run.value.strip() else ""
        return "run: " + (first if len(first) <= 40 else first[:37] + "...")
    return step.label


def _job(analysis: Analysis, path: str, job_id: str) -> dict[str, Any]:
    graph = analysis.graph
    job = graph.repository.workflows[path].jobs[job_id]
    node = _first_instance(analysis, path, job_id)
    out: dict[str, Any] = {
        "id": job_id,
        "name": job.name.value if job.name else None,
        "roles": [],
        "needs": list(graph.workflows[path].needs.get(job_id, ())),
        "uses": graph.calls.get((path, job_id)) or (job.uses.value if job.uses else None),
        "steps": [],
        "outputs": [],
    }
    if node is None:
        return out
    out["roles"] = _roles(analysis.roles.of(node))
    for index, expanded in enumerate(graph.steps(path, job)):
        facts = analysis.facts.of(node, index)
        site = Site(node, index)
        images = _unique([a for op in facts.operations for a in op.images] + list(facts.references))
        out["steps"].append(
            {
                "index": index,
                "label": _step_label(expanded.step),
                "path": expanded.path,
                "line": expanded.step.span.line,
                "roles": _roles(facts.roles),
                "tools": sorted({op.tool for op in facts.operations}),
                "opaque": facts.opaque,
                "images": [_image(analysis, a, site) for a in images],
            }
        )
    for name, output in job.outputs.items():
        if output.value is None:
            continue
        prov = analysis.provenance.of_text(output.value, path, Site(node, None))
        out["outputs"].append({"name": name, "provenance": prov.kind.value, "why": prov.why})
    return out


def view(analysis: Analysis, root: str = ".") -> dict[str, Any]:
    repo = analysis.repository
    workflows = []
    for path, wf in sorted(repo.workflows.items()):
        workflows.append(
            {
                "path": path,
                "name": wf.name.value if wf.name else None,
                "platform": wf.platform.value,
                "triggers": sorted(wf.triggers),
                "triggered_by": list(analysis.graph.triggered_by.get(path, ())),
                "jobs": [_job(analysis, path, j) for j in wf.jobs],
            }
        )
    return {"version": VERSION, "root": root, "workflows": workflows}


def render(document: dict[str, Any], fmt: str) -> str:
    if fmt == "json":
        return json.dumps(document, indent=2, ensure_ascii=False) + "\n"
    if fmt == "mermaid":
        return _mermaid(document)
    if fmt == "dot":
        return _dot(document)
    return _text(document)


def _text(doc: dict[str, Any]) -> str:
    lines = []
    for wf in doc["workflows"]:
        title = f" ({wf['name']})" if wf["name"] else ""
        lines.append(f"{wf['path']}{title}: on {', '.join(wf['triggers']) or '-'}")
        for up in wf["triggered_by"]:
            lines.append(f"  after {up} (workflow_run)")
        for job in wf["jobs"]:
            roles = f" [{', '.join(job['roles'])}]" if job["roles"] else ""
            needs = f" needs {', '.join(job['needs'])}" if job["needs"] else ""
            uses = f" calls {job['uses']}" if job["uses"] else ""
            lines.append(f"  {job['id']}{roles}{needs}{uses}")
            for step in job["steps"]:
                for image in step["images"]:
                    lines.append(
                        f"    {step['label']}: {image['use']} {image['value']} "
                        f"<- {image['provenance']}: {image['why']}"
                    )
            for output in job["outputs"]:
                lines.append(
                    f"    outputs.{output['name']} <- {output['provenance']}: {output['why']}"
                )
    return "\n".join(lines) + "\n"


def _ident(*parts: str) -> str:
    return "_".join(re.sub(r"[^A-Za-z0-9]", "_", p) for p in parts)


def _label(job: dict[str, Any]) -> str:
    roles = ", ".join(job["roles"])
    return f"{job['id']}<br/>{roles}" if roles else job["id"]


def _mermaid(doc: dict[str, Any]) -> str:
    out = ["flowchart LR"]
    by_path = {wf["path"]: wf for wf in doc["workflows"]}
    for wf in doc["workflows"]:
        out.append(f'  subgraph {_ident(wf["path"])}["{wf["name"] or wf["path"]}"]')
        for job in wf["jobs"]:
            out.append(f'    {_ident(wf["path"], job["id"])}["{_label(job)}"]')
        out.append("  end")
    for wf in doc["workflows"]:
        for job in wf["jobs"]:
            me = _ident(wf["path"], job["id"])
            for need in job["needs"]:
                out.append(f"  {_ident(wf['path'], need)} --> {me}")
            if job["uses"] in by_path:
                out.append(f"  {me} ==>|calls| {_ident(job['uses'])}")
        for up in wf["triggered_by"]:
            out.append(f"  {_ident(up)} -.->|workflow_run| {_ident(wf['path'])}")
    return "\n".join(out) + "\n"


def _dot(doc: dict[str, Any]) -> str:
    out = ["digraph pipeline {", "  rankdir=LR;", "  node [shape=box];"]
    by_path = {wf["path"]: wf for wf in doc["workflows"]}
    for n, wf in enumerate(doc["workflows"]):
        out.append(f"  subgraph cluster_{n} {{")
        out.append(f"    label={json.dumps(wf['name'] or wf['path'])};")
        for job in wf["jobs"]:
            label = job["id"] + ("\\n" + ", ".join(job["roles"]) if job["roles"] else "")
            out.append(f'    {_ident(wf["path"], job["id"])} [label="{label}"];')
        out.append("  }")
    for wf in doc["workflows"]:
        for job in wf["jobs"]:
            me = _ident(wf["path"], job["id"])
            for need in job["needs"]:
                out.append(f"  {_ident(wf['path'], need)} -> {me};")
            if job["uses"] in by_path and by_path[job["uses"]]["jobs"]:
                first = by_path[job["uses"]]["jobs"][0]["id"]
                out.append(f'  {me} -> {_ident(job["uses"], first)} [style=bold, label="calls"];')
        for up in wf["triggered_by"]:
            ups = by_path.get(up)
            if ups and ups["jobs"] and wf["jobs"]:
                src = _ident(up, ups["jobs"][-1]["id"])
                dst = _ident(wf["path"], wf["jobs"][0]["id"])
                out.append(f'  {src} -> {dst} [style=dashed, label="workflow_run"];')
    out.append("}")
    return "\n".join(out) + "\n"
