"""Language server latency: from `didChange` to `publishDiagnostics` for a 300-line workflow.

    python bench/lsp_latency.py [--runs N] [--debounce MS] [--lines N]

Starts `python -m digestgate lsp` with pygls's client over stdio, writes a generated
workflow of about 300 lines (build, test, scan and promotion jobs with shell steps)
to a temporary repository, opens it, then sends N edits one at a time, each waiting
for the diagnostics of that document version. Prints the median and the spread of
the wait, with the debounce and without it, and the server's own check time (from its
`digestgate: checked ... in N ms` log lines).
"""

from __future__ import annotations

import argparse
import asyncio
import re
import statistics
import sys
import tempfile
import time
from pathlib import Path

from lsprotocol import types as lsp
from pygls.lsp.client import LanguageClient

JOB = """\
  build-{n}:
    runs-on: ubuntu-latest
    permissions:
      contents: read
      packages: write
    outputs:
      digest: ${{{{ steps.push.outputs.digest }}}}
    steps:
      - uses: actions/checkout@v4
      - uses: docker/setup-buildx-action@v3
      - uses: docker/login-action@v3
        with:
          registry: ghcr.io
          username: ${{{{ github.actor }}}}
          password: ${{{{ secrets.GITHUB_TOKEN }}}}
      - id: push
        uses: docker/build-push-action@v6
        with:
          context: services/svc{n}
          push: true
          tags: ghcr.io/acme/svc{n}:sha-${{{{ github.sha }}}}
      - name: Record the digest
        run: |
          echo "svc{n}@${{{{ steps.push.outputs.digest }}}}" >> digests.txt
          echo "built svc{n}" >> "$GITHUB_STEP_SUMMARY"

  e2e-{n}:
    needs: build-{n}
    runs-on: ubuntu-latest
    container:
      image: ghcr.io/acme/svc{n}@${{{{ needs.build-{n}.outputs.digest }}}}
    services:
      db:
        image: postgres:16
    steps:
      - run: /app/svc{n} selftest
      - run: |
          set -euo pipefail
          for suite in smoke api; do
            ./run-tests.sh "$suite" --target svc{n}
          done
      - run: docker run --rm ghcr.io/acme/scanner:latest scan svc{n}

  promote-{n}:
    needs: [build-{n}, e2e-{n}]
    runs-on: ubuntu-latest
    environment: production
    steps:
      - run: >-
          crane copy ghcr.io/acme/svc{n}@${{{{ needs.build-{n}.outputs.digest }}}}
          ghcr.io/acme/svc{n}:stable

"""

HEADER = """\
name: Pipeline
on:
  push:
    branches: [main]
  pull_request:

jobs:
"""


def workflow(lines: int) -> str:
    text = HEADER
    n = 0
    while text.count("\n") < lines - 10:
        n += 1
        text += JOB.format(n=n)
    return text


class Probe:
    """Waits for the diagnostics of one document version."""

    def __init__(self) -> None:
        self.uri = ""
        self.version = 0
        self.arrived = asyncio.Event()
        self.checks: list[float] = []

    def published(self, params: lsp.PublishDiagnosticsParams) -> None:
        if params.uri == self.uri and params.version == self.version:
            self.arrived.set()

    def logged(self, params: lsp.LogMessageParams) -> None:
        m = re.match(r"digestgate: checked .* in (\d+) ms", params.message)
        if m:
            self.checks.append(float(m.group(1)))


async def measure(root: Path, runs: int, debounce_ms: int) -> tuple[list[float], list[float]]:
    probe = Probe()
    client = LanguageClient("lsp-latency", "1")

    @client.feature(lsp.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS)
    def on_publish(params: lsp.PublishDiagnosticsParams) -> None:
        probe.published(params)

    @client.feature(lsp.WINDOW_LOG_MESSAGE)
    def on_log(params: lsp.LogMessageParams) -> None:
        probe.logged(params)

    await client.start_io(sys.executable, "-m", "digestgate", "lsp")
    await client.initialize_async(
        lsp.InitializeParams(
            capabilities=lsp.ClientCapabilities(),
            initialization_options={"debounceMs": debounce_ms},
        )
    )
    client.initialized(lsp.InitializedParams())
    path = root / ".github/workflows/pipeline.yml"
    text = path.read_text(encoding="utf-8")
    probe.uri, probe.version = path.as_uri(), 1
    client.text_document_did_open(
        lsp.DidOpenTextDocumentParams(
            text_document=lsp.TextDocumentItem(
                uri=probe.uri, language_id="yaml", version=1, text=text
            )
        )
    )
    await asyncio.wait_for(probe.arrived.wait(), 120)
    waits = []
    for run in range(runs):
        probe.arrived.clear()
        probe.version = run + 2
        # Change the text a step echoes: the whole repository is checked again.
        line = text.index("built svc1")
        change = lsp.TextDocumentContentChangeWholeDocument(
            text=text[:line] + f"built svc1 (edit {run})" + text[line + len("built svc1") :]
        )
        start = time.perf_counter()
        client.text_document_did_change(
            lsp.DidChangeTextDocumentParams(
                text_document=lsp.VersionedTextDocumentIdentifier(
                    uri=probe.uri, version=probe.version
                ),
                content_changes=[change],
            )
        )
        await asyncio.wait_for(probe.arrived.wait(), 120)
        waits.append((time.perf_counter() - start) * 1000)
    await client.shutdown_async(None)
    client.exit(None)
    await client.stop()
    return waits, probe.checks[1:]  # the first check also imports the engine


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--debounce", type=int, default=300, metavar="MS")
    parser.add_argument("--lines", type=int, default=300)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        folder = root / ".github/workflows"
        folder.mkdir(parents=True)
        text = workflow(args.lines)
        (folder / "pipeline.yml").write_text(text, encoding="utf-8")
        waits, checks = asyncio.run(measure(root, args.runs, args.debounce))
    median = statistics.median(waits)
    print(f"workflow: {text.count(chr(10))} lines; {args.runs} edits; debounce {args.debounce} ms")
    print(
        f"didChange -> publishDiagnostics: median {median:.0f} ms "
        f"(min {min(waits):.0f}, max {max(waits):.0f})"
    )
    print(f"  without the debounce:          median {median - args.debounce:.0f} ms")
    if checks:
        print(f"  the server's check alone:      median {statistics.median(checks):.0f} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
