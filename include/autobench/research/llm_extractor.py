"""Optional technique extraction by an LLM (``research_config.yaml: llm_extractor``, off by default).

The regex catalog (:mod:`autobench.research.technique_catalog`) only finds what it knows. When enabled, an
OpenAI-compatible chat-completions endpoint (OpenAI, vLLM, Ollama, llama.cpp server...) reads the
abstract too and may name techniques the catalog lacks. Its reply is untrusted text, so:

* the request asks for a JSON object (``response_format: {"type": "json_object"}``) with the
  catalog's vocabulary spelled out, and the reply is validated with pydantic; anything malformed
  (HTTP errors, a body that is not JSON, no ``choices``, content that is not the asked-for JSON,
  a bad effort or category) raises :class:`~autobench.errors.AutobenchError` with one line that
  says what was wrong, never a traceback and never silently kept;
* a technique the catalog knows (by name, case-insensitive) takes the catalog's category,
  effort and config_patch: the catalog, not the model, knows our solution; the model's impact and
  evidence are kept;
* a technique the catalog does not know is kept as reported, but ``applies`` is True only when
  its config_patch is non-empty and every key is a known knob of the reference solution with a
  valid value (:data:`autobench.research.technique_catalog.RECALL_KNOBS`); an invalid patch is dropped (``{}``),
  with a ``note`` saying why.

The API key is passed in (from an Airflow connection or the environment), never read from a
state file and never written into an error message. ``requests`` is imported on first use.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from autobench.errors import AutobenchError
from autobench.research.technique_catalog import RECALL_KNOBS, Technique, patch_problems

MAX_TEXT_CHARS = 20_000

SYSTEM_PROMPT = """You extract techniques from machine-learning paper abstracts.
A technique is an architectural change, a training trick, a data strategy or an inference
optimisation that the paper credits for an improvement.
Answer with one JSON object and nothing else:
{{"techniques": [{{"name": str, "category": "architecture"|"training"|"data"|"inference",
  "effort": "Low"|"Medium"|"High", "impact": "Low"|"Medium"|"High"|null,
  "config_patch": object, "evidence": str}}]}}
- name: use a catalog name below when the technique is one of them, else a short lowercase name.
- effort: the effort to implement it on a small pre-norm transformer.
- impact: from the paper's reported gain: Low (<1%), Medium (1-3%), High (>3%); null if none.
- config_patch: the change in the knobs below when it maps onto them, else {{}}.
- evidence: the sentence of the abstract that names the technique, copied verbatim.
Knobs: {knobs}.
Catalog: {catalog}."""


def _reply_model() -> Any:
    from typing import Literal

    from pydantic import BaseModel, ConfigDict, Field

    class Item(BaseModel):
        model_config = ConfigDict(extra="ignore", str_strip_whitespace=True)

        name: str = Field(min_length=1, max_length=200)
        category: Literal["architecture", "training", "data", "inference"]
        effort: Literal["Low", "Medium", "High"]
        impact: Literal["Low", "Medium", "High"] | None = None
        config_patch: dict[str, Any] = Field(default_factory=dict)
        evidence: str = Field("", max_length=2000)

    class Reply(BaseModel):
        model_config = ConfigDict(extra="ignore")

        techniques: list[Item]

    return Reply


class LLMExtractor:
    """Technique extraction through an OpenAI-compatible ``{base_url}/chat/completions``."""

    def __init__(self, base_url: str, api_key: str | None, model: str, timeout: float = 30.0):
        if not base_url or not base_url.startswith(("http://", "https://")):
            raise AutobenchError(f"llm extractor: base_url must be an http(s) URL (got {base_url!r})")
        if not model:
            raise AutobenchError("llm extractor: no model given (research_config.yaml: llm_extractor.model)")
        self.base_url = base_url.rstrip("/")
        self.api_key = api_key
        self.model = model
        self.timeout = timeout

    @property
    def url(self) -> str:
        return f"{self.base_url}/chat/completions"

    def __repr__(self) -> str:  # never shows the key
        return f"LLMExtractor(base_url={self.base_url!r}, model={self.model!r})"

    def request_body(self, text: str, catalog: Sequence[Technique]) -> dict[str, Any]:
        names = "; ".join(f"{t.name} ({t.category}, {t.effort})" for t in catalog)
        knobs = ", ".join(f"{k} ({desc})" for k, (_, desc) in RECALL_KNOBS.items())
        return {
            "model": self.model,
            "temperature": 0,
            "response_format": {"type": "json_object"},
            "messages": [
                {"role": "system", "content": SYSTEM_PROMPT.format(knobs=knobs, catalog=names)},
                {"role": "user", "content": text[:MAX_TEXT_CHARS]},
            ],
        }

    def _post(self, body: dict[str, Any]) -> Any:
        import requests

        headers = {"Content-Type": "application/json"}
        if self.api_key:
            headers["Authorization"] = f"Bearer {self.api_key}"
        try:
            response = requests.post(self.url, json=body, headers=headers, timeout=self.timeout)
        except requests.RequestException as exc:
            raise AutobenchError(f"llm extractor: POST {self.url} failed: {type(exc).__name__}") from None
        if response.status_code >= 400:
            detail = " ".join(response.text[:200].split())
            raise AutobenchError(f"llm extractor: {self.url} answered HTTP {response.status_code}"
                                 + (f": {detail}" if detail else ""))
        try:
            return response.json()
        except ValueError:
            raise AutobenchError(f"llm extractor: {self.url} answered something that is not JSON "
                                 f"({' '.join(response.text[:80].split())!r})") from None

    def extract(self, text: str, catalog: Sequence[Technique]) -> list[dict[str, Any]]:
        """Techniques in ``text`` as ``{name, category, effort, impact, config_patch, evidence,
        applies, source}`` dicts, by priority (impact × 1/effort), ties by name."""
        reply = self._post(self.request_body(text, catalog))
        return self.parse_reply(reply, catalog)

    def parse_reply(self, reply: Any, catalog: Sequence[Technique]) -> list[dict[str, Any]]:
        """Validate a chat-completions reply and reconcile it with the catalog."""
        from pydantic import ValidationError

        from autobench.schemas import EFFORT_SCORE, IMPACT_SCORE

        try:
            content = reply["choices"][0]["message"]["content"]
        except (KeyError, IndexError, TypeError):
            raise AutobenchError("llm extractor: the reply has no choices[0].message.content") from None
        if not isinstance(content, str):
            raise AutobenchError(f"llm extractor: choices[0].message.content is {type(content).__name__}, not text")
        try:
            data = json.loads(_strip_fences(content))
        except ValueError:
            raise AutobenchError(
                f"llm extractor: the model's answer is not JSON ({' '.join(content[:80].split())!r})"
            ) from None
        try:
            parsed = _reply_model().model_validate(data)
        except ValidationError as exc:
            first = exc.errors(include_url=False)[0]
            where = ".".join(str(p) for p in first["loc"]) or "(top level)"
            more = f" (and {exc.error_count() - 1} more)" if exc.error_count() > 1 else ""
            raise AutobenchError(
                f"llm extractor: the model's answer is invalid: {where}: {first['msg']}{more}"
            ) from None

        known = {t.name.casefold(): t for t in catalog}
        out: dict[str, dict[str, Any]] = {}
        for item in parsed.techniques:
            entry: dict[str, Any] = {"name": item.name, "category": item.category, "effort": item.effort,
                                     "impact": item.impact, "config_patch": dict(item.config_patch),
                                     "evidence": " ".join(item.evidence.split()), "source": "llm"}
            technique = known.get(item.name.casefold())
            if technique is not None:
                entry.update(name=technique.name, category=technique.category, effort=technique.effort,
                             config_patch=dict(technique.config_patch), applies=technique.applies)
            else:
                problems = patch_problems(item.config_patch)
                if problems:
                    entry["config_patch"] = {}
                    entry["note"] = "config_patch dropped: " + "; ".join(f"{k}: {m}" for k, m in problems)
                entry["applies"] = bool(entry["config_patch"])
            out.setdefault(entry["name"].casefold(), entry)  # the first mention of a name wins

        def priority(e: dict[str, Any]) -> float:
            return IMPACT_SCORE[e["impact"] or "Low"] / EFFORT_SCORE[e["effort"]]

        return sorted(out.values(), key=lambda e: (-priority(e), e["name"]))


def _strip_fences(content: str) -> str:
    """Models sometimes wrap JSON in a ```json fence despite response_format; unwrap it."""
    text = content.strip()
    if text.startswith("```"):
        text = text.split("\n", 1)[1] if "\n" in text else ""
        if text.rstrip().endswith("```"):
            text = text.rstrip()[:-3]
    return text


def from_env(config):
    """The extractor for the command line: on only when ``config`` (a
    :class:`~autobench.schemas.ResearchConfig`) enables it and ``AUTOBENCH_LLM_URL`` (an
    OpenAI-compatible base URL) is set; the key from ``AUTOBENCH_LLM_API_KEY``. The DAG builds it
    from the Airflow connection instead."""
    import os

    if not config.llm_extractor.enabled:
        return None
    url = os.environ.get("AUTOBENCH_LLM_URL")
    if not url:
        raise AutobenchError("research_config.yaml: llm_extractor.enabled is true but AUTOBENCH_LLM_URL is not set "
                             f"(or use the Airflow connection {config.llm_extractor.connection_id!r})")
    return LLMExtractor(url, os.environ.get("AUTOBENCH_LLM_API_KEY"), config.llm_extractor.model or "gpt-4o-mini")


def add_missed(found: list, llm, text: str, catalog) -> list:
    """``found`` (the catalog's extraction) plus what ``llm`` found that the catalog's patterns
    missed; the catalog wins on a name."""
    from autobench.research.techniques import Extracted

    known = {item.technique.name.casefold() for item in found}
    for t in llm.extract(text, catalog):
        if t["name"].casefold() in known:
            continue
        tech = Technique(t["name"], t["category"], t["effort"], (), dict(t.get("config_patch") or {}),
                         "suggested by the LLM extractor")
        found.append(Extracted(tech, t.get("impact"), t.get("evidence") or ""))
        known.add(t["name"].casefold())
    return found


__all__ = ["LLMExtractor", "MAX_TEXT_CHARS", "SYSTEM_PROMPT", "add_missed", "from_env"]
