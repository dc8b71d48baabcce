"""Hugging Face transformers backend: a local model folder, optionally with a PEFT adapter.

This is the only module that imports torch and transformers, and only inside functions, so that
``pytest --help`` and suites without a model stay fast. The folder checks at the top read files only.
"""

from __future__ import annotations

import gc
import json
import os
import struct
import sys
import time
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pytest_llmeval.backends.base import (
    Backend,
    FinishReason,
    Generation,
    GenerationParams,
    GenerationRequest,
    Message,
    ModelDescription,
)
from pytest_llmeval.backends.gguf import inspect_gguf, is_gguf_path
from pytest_llmeval.errors import (
    BatchTooLargeError,
    ConfigurationError,
    GenerationError,
)
from pytest_llmeval.settings import Settings

__all__ = [
    "HFBackend",
    "ModelFolder",
    "TokenizerFile",
    "inspect_adapter_folder",
    "inspect_model_folder",
    "load_tokenizer",
    "prefer_passive_openmp",
]

_WEIGHT_PATTERNS = ("*.safetensors", "pytorch_model*.bin", "model*.bin", "*.safetensors.index.json")
_TOKENIZER_FILES = (
    "tokenizer.json",
    "tokenizer.model",
    "spiece.model",
    "vocab.json",
    "vocab.txt",
    "sentencepiece.bpe.model",
)
# Keys of a checkpoint's generation_config.json that change what greedy decoding would produce.
_DECODING_KEYS = frozenset(
    {
        "do_sample",
        "temperature",
        "top_p",
        "top_k",
        "typical_p",
        "min_p",
        "repetition_penalty",
        "no_repeat_ngram_size",
        "num_beams",
        "length_penalty",
        "max_length",
        "max_new_tokens",
        "min_length",
        "min_new_tokens",
        "bad_words_ids",
        "suppress_tokens",
        "begin_suppress_tokens",
        "forced_bos_token_id",
        "forced_eos_token_id",
        "encoder_repetition_penalty",
        "penalty_alpha",
    }
)
_SAVE_HINT = "save the model with model.save_pretrained(folder) and tokenizer.save_pretrained(folder)"


@dataclass(frozen=True)
class ModelFolder:
    """What a model folder says about itself, read without loading it."""

    path: Path
    config: dict[str, Any]
    weight_files: tuple[Path, ...]

    @property
    def architecture(self) -> str | None:
        names = self.config.get("architectures") or []
        return str(names[0]) if names else self.config.get("model_type")

    @property
    def is_encoder_decoder(self) -> bool:
        return bool(self.config.get("is_encoder_decoder", False))

    @property
    def config_dtype(self) -> str | None:
        value = self.config.get("dtype") or self.config.get("torch_dtype")
        return str(value) if value else None

    def count_parameters(self) -> int | None:
        """Parameter count from safetensors headers (no tensor is read); None for .bin weights."""
        total = 0
        files = [f for f in self.weight_files if f.suffix == ".safetensors"]
        if not files:
            return None
        for file in files:
            try:
                with file.open("rb") as handle:
                    (length,) = struct.unpack("<Q", handle.read(8))
                    header = json.loads(handle.read(length))
            except (OSError, ValueError, struct.error):
                return None
            for name, info in header.items():
                if name != "__metadata__":
                    count = 1
                    for dim in info.get("shape", []):
                        count *= int(dim)
                    total += count
        return total


def _read_json(file: Path, what: str) -> dict[str, Any]:
    try:
        text = file.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigurationError(f"{what}: cannot read {file}: {exc.strerror}") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ConfigurationError(
            f"{what}: {file} is not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg}); "
            f"restore the file or {_SAVE_HINT}"
        ) from None
    if not isinstance(data, dict):
        raise ConfigurationError(f"{what}: {file} must hold a JSON object, got {type(data).__name__}")
    return data


def _listing(folder: Path) -> str:
    names = sorted(p.name for p in folder.iterdir())
    if not names:
        return "the folder is empty"
    shown = ", ".join(names[:12]) + (f", ... ({len(names)} files)" if len(names) > 12 else "")
    return f"it holds: {shown}"


def inspect_model_folder(path: str, what: str = "--llm-model") -> ModelFolder:
    """Check that ``path`` is a loadable model folder, reading only small files.

    Raises ConfigurationError naming the option (``what``), the path, what is wrong and how to fix it.
    A ``.gguf`` file is checked as one (``backends.gguf``): its folder is the file itself.
    """
    folder = Path(path)
    if is_gguf_path(path):
        gguf = inspect_gguf(path, what)
        config = {
            "model_type": gguf.architecture,
            "gguf": gguf.file_type,
            "is_encoder_decoder": gguf.architecture in ("t5", "umt5"),
        }
        return ModelFolder(gguf.path, config, (gguf.path,))
    if not folder.exists():
        raise ConfigurationError(
            f"{what}: {folder} does not exist. Give the path of a local model folder "
            f"(models are never downloaded), or py:module:function for a Python pipeline"
        )
    if not folder.is_dir():
        raise ConfigurationError(
            f"{what}: {folder} is a file, not a model folder; give the folder that holds config.json"
        )
    config_file = folder / "config.json"
    if not config_file.is_file():
        adapter_hint = (
            "; it looks like a PEFT adapter: pass the base model as --llm-model and this folder as --llm-adapter"
            if (folder / "adapter_config.json").is_file()
            else ""
        )
        raise ConfigurationError(
            f"{what}: {folder} is not a Hugging Face model folder: config.json is missing "
            f"({_listing(folder)}){adapter_hint}. Fix: {_SAVE_HINT}"
        )
    config = _read_json(config_file, what)
    weights = tuple(sorted({f for pattern in _WEIGHT_PATTERNS for f in folder.glob(pattern)}))
    if not weights:
        raise ConfigurationError(
            f"{what}: {folder} has a config.json but no weights (*.safetensors or pytorch_model.bin; "
            f"{_listing(folder)}). Fix: {_SAVE_HINT}"
        )
    has_tokenizer = any((folder / name).is_file() for name in _TOKENIZER_FILES)
    if not has_tokenizer:
        raise ConfigurationError(
            f"{what}: {folder} has no tokenizer (none of {', '.join(_TOKENIZER_FILES)}; "
            f"{_listing(folder)}). Fix: tokenizer.save_pretrained({str(folder)!r})"
        )
    return ModelFolder(folder, config, weights)


def inspect_adapter_folder(path: str) -> dict[str, Any]:
    """Check that ``path`` is a PEFT adapter folder and peft is installed; return its config."""
    import importlib.util

    folder = Path(path)
    what = "--llm-adapter"
    if not folder.is_dir():
        state = "does not exist" if not folder.exists() else "is a file, not a folder"
        raise ConfigurationError(f"{what}: {folder} {state}; give a folder saved by peft's save_pretrained")
    config_file = folder / "adapter_config.json"
    if not config_file.is_file():
        model_hint = (
            "; it looks like a full model: pass it as --llm-model instead" if (folder / "config.json").is_file() else ""
        )
        raise ConfigurationError(
            f"{what}: {folder} is not a PEFT adapter: adapter_config.json is missing "
            f"({_listing(folder)}){model_hint}. Fix: save it with peft_model.save_pretrained(folder)"
        )
    config = _read_json(config_file, what)
    if not any(folder.glob("adapter_model.*")):
        raise ConfigurationError(
            f"{what}: {folder} has adapter_config.json but no adapter_model.safetensors or "
            f"adapter_model.bin ({_listing(folder)})"
        )
    if importlib.util.find_spec("peft") is None:
        raise ConfigurationError(
            f"{what}: loading an adapter needs the peft package; install it with pip install 'pytest-llmeval[peft]'"
        )
    return config


def _resolve_device(requested: str, torch: Any) -> str:
    if requested == "auto":
        if torch.cuda.is_available():
            return "cuda"
        mps = getattr(torch.backends, "mps", None)
        return "mps" if mps is not None and mps.is_available() else "cpu"
    if requested.startswith("cuda"):
        if not torch.cuda.is_available():
            raise ConfigurationError(
                f"--llm-device {requested}: CUDA is not available here (torch {torch.__version__}, "
                f"CUDA build: {torch.version.cuda or 'no'}); use --llm-device cpu or auto"
            )
        if ":" in requested:
            index = int(requested.split(":", 1)[1])
            if index >= torch.cuda.device_count():
                raise ConfigurationError(
                    f"--llm-device {requested}: only {torch.cuda.device_count()} CUDA device(s) here"
                )
    if requested == "mps":
        mps = getattr(torch.backends, "mps", None)
        if mps is None or not mps.is_available():
            raise ConfigurationError("--llm-device mps: MPS is not available here; use cpu or auto")
    return requested


def prefer_passive_openmp() -> None:
    """Ask OpenMP to sleep, not spin, while waiting: call before torch is first imported.

    With torch's default (spinning) threads, any other busy process on a 2-core machine made
    generation ~40-90x slower (11.4 s vs 0.14 s for six prompts on the demo model, measured); with
    PASSIVE waiting the busy and idle timings match. A user's own OMP_WAIT_POLICY is kept.
    """
    if "torch" not in sys.modules:
        os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")


def chat_template_sha256(path: str) -> str | None:
    """A short hash of the folder's chat template (chat_template.jinja, or the tokenizer config's
    entry), read from files: recorded with each run so a changed template is visible."""
    import hashlib

    folder = Path(path)
    text: str | None = None
    if is_gguf_path(path):
        text = inspect_gguf(path).chat_template
        return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16] if text else None
    jinja = folder / "chat_template.jinja"
    if jinja.is_file():
        text = jinja.read_text(encoding="utf-8")
    else:
        config = folder / "tokenizer_config.json"
        if config.is_file():
            try:
                value = json.loads(config.read_text(encoding="utf-8")).get("chat_template")
            except (ValueError, OSError, AttributeError):
                value = None
            text = value if isinstance(value, str) else (json.dumps(value, sort_keys=True) if value else None)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16] if text else None


def _is_out_of_memory(exc: BaseException) -> bool:
    return isinstance(exc, MemoryError) or "out of memory" in str(exc).lower()


class TokenizerFile:
    """A model's ``tokenizer.json`` read by the ``tokenizers`` library alone: ``tokenize`` gives the
    same tokens as the transformers fast tokenizer's, without importing transformers (seconds of a
    warm rerun whose outputs all come from the cache)."""

    def __init__(self, path: Path) -> None:
        from tokenizers import Tokenizer

        self._tokenizer = Tokenizer.from_file(str(path))

    def tokenize(self, text: str) -> list[str]:
        return list(self._tokenizer.encode(text, add_special_tokens=False).tokens)


def _remote_code_refused(exc: BaseException, path: str) -> ConfigurationError | None:
    """Our words for transformers' refusal to run code shipped in a model folder, or None. Its own
    message names ``trust_remote_code=True`` and a hub address built from the local path; the user's
    switch is the --llm-trust-remote-code flag."""
    if "trust_remote_code" not in str(exc):
        return None
    shipped = sorted(p.name for p in Path(path).glob("*.py"))[:5]
    files = f" ({', '.join(shipped)})" if shipped else ""
    return ConfigurationError(
        f"--llm-model: {path} ships its own Python code{files}, which loading this model would run; it "
        "is not run without --llm-trust-remote-code (ini: llm_trust_remote_code = true). Read that code "
        "first: it runs with your permissions"
    )


def load_tokenizer(settings: Settings) -> Any:
    """The model's tokenizer alone, for token-based checks when every output came from the cache:
    its ``tokenizer.json`` through the ``tokenizers`` library where the folder has one (what
    transformers' fast tokenizer wraps), else transformers' AutoTokenizer."""
    folder = Path(str(settings.model))
    if not is_gguf_path(settings.model) and (folder / "tokenizer.json").is_file():
        return TokenizerFile(folder / "tokenizer.json")
    from transformers import AutoTokenizer

    assert settings.model is not None
    if is_gguf_path(settings.model):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return AutoTokenizer.from_pretrained(str(folder.parent), gguf_file=folder.name, local_files_only=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            return AutoTokenizer.from_pretrained(
                settings.model, trust_remote_code=settings.trust_remote_code, local_files_only=True
            )
        except Exception as exc:
            refusal = _remote_code_refused(exc, settings.model)
            if refusal is None:
                raise
            raise refusal from None


def _share_cpu_threads(torch: Any) -> None:
    """Give each xdist worker its share of the cores.

    Every worker's torch would otherwise start one thread per core; oversubscribed OpenMP threads
    spin-wait for each other and made a tiny model's steps ~25x slower on 2 cores (measured).
    """
    workers = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1") or 1)
    if workers > 1:
        torch.set_num_threads(max(1, (os.cpu_count() or 1) // workers))


class HFBackend(Backend):
    """A transformers model loaded from a local folder (causal LM or seq2seq, decided by the config)."""

    name = "hf"

    def __init__(self, settings: Settings) -> None:
        assert settings.model is not None
        self.settings = settings
        self.folder = inspect_model_folder(settings.model)
        if settings.adapter:
            inspect_adapter_folder(settings.adapter)
        self._load()

    # -- loading -------------------------------------------------------------------------------
    @property
    def load_phases(self) -> dict[str, float]:
        return dict(self._load_phases)

    def _load(self) -> None:
        prefer_passive_openmp()
        # For a small model most of the load time is importing torch and transformers: measured apart.
        started = time.perf_counter()
        import torch
        import transformers
        from transformers import (
            AutoModelForCausalLM,
            AutoModelForSeq2SeqLM,
            AutoTokenizer,
        )

        self._load_phases = {"import": time.perf_counter() - started}  # torch and transformers
        self._weights_started = time.perf_counter()

        transformers.utils.logging.disable_progress_bar()
        transformers.utils.logging.set_verbosity_error()
        settings = self.settings
        self.torch = torch
        self.device = _resolve_device(settings.device, torch)
        _share_cpu_threads(torch)
        path = str(self.folder.path)
        dtype: Any = "auto" if settings.dtype == "auto" else getattr(torch, settings.dtype)
        auto = AutoModelForSeq2SeqLM if self.folder.is_encoder_decoder else AutoModelForCausalLM
        if is_gguf_path(path):
            from pytest_llmeval.backends.gguf import load_gguf

            model, tokenizer = load_gguf(path, dtype)
            self._finish_loading(model, tokenizer)
            return
        # Library warnings during loading are not the user's test's business; under the common
        # `filterwarnings = error` they would otherwise abort the session.
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                tokenizer = AutoTokenizer.from_pretrained(
                    path, trust_remote_code=settings.trust_remote_code, local_files_only=True
                )
            except Exception as exc:
                raise _remote_code_refused(exc, path) or ConfigurationError(
                    f"--llm-model: cannot load the tokenizer of {path}: {type(exc).__name__}: {exc}"
                ) from None
            try:
                model = auto.from_pretrained(
                    path,
                    dtype=dtype,
                    trust_remote_code=settings.trust_remote_code,
                    local_files_only=True,
                )
            except Exception as exc:
                raise _remote_code_refused(exc, path) or ConfigurationError(
                    f"--llm-model: cannot load the model in {path}: {type(exc).__name__}: {exc}"
                ) from None
            if settings.adapter:
                from peft import PeftModel

                try:
                    model = PeftModel.from_pretrained(model, settings.adapter, local_files_only=True)
                except Exception as exc:
                    raise ConfigurationError(
                        f"--llm-adapter: cannot apply the adapter {settings.adapter} to {path}: "
                        f"{type(exc).__name__}: {exc}"
                    ) from None
        self._finish_loading(model, tokenizer)

    def _finish_loading(self, model: Any, tokenizer: Any) -> None:
        model.to(self.device)
        model.eval()
        # torch, transformers and the model leave ~400,000 objects that live as long as the session,
        # and every full garbage collection walks them all again (2.5 s each with SmolLM2 loaded,
        # measured; pytest collects at exit, and allocation during generation triggers more). Moved
        # to the collector's permanent generation, they are no longer walked; objects made later
        # (each test's) are collected as before.
        gc.freeze()
        self._load_phases["from_pretrained"] = time.perf_counter() - self._weights_started
        self.model = model
        self._tokenizer = tokenizer
        self._set_special_tokens(tokenizer, model)
        self.use_chat_template = self._chat_template_in_use(tokenizer)

    def _set_special_tokens(self, tokenizer: Any, model: Any) -> None:
        from transformers import GenerationConfig

        own = model.generation_config
        eos = own.eos_token_id if own.eos_token_id is not None else tokenizer.eos_token_id
        if tokenizer.pad_token_id is None:
            # Batches need a pad token; EOS is the usual stand-in and is masked out anyway.
            fallback = tokenizer.eos_token or tokenizer.unk_token or tokenizer.bos_token
            if fallback is None:
                raise ConfigurationError(
                    f"--llm-model: the tokenizer of {self.folder.path} has no pad, eos, unk or bos token "
                    "to pad batches with; set tokenizer.pad_token and save it again"
                )
            tokenizer.pad_token = fallback
        self.eos_ids = {eos} if isinstance(eos, int) else set(eos or [])
        self.pad_id = tokenizer.pad_token_id
        # Replace the checkpoint's generation_config.json: transformers fills every parameter we leave
        # unset from it, so a shipped `do_sample: true` or `repetition_penalty` would silently apply.
        token_ids = {
            "eos_token_id": eos,
            "pad_token_id": self.pad_id,
            "bos_token_id": own.bos_token_id,
            "decoder_start_token_id": own.decoder_start_token_id,
        }
        self.token_ids = {k: v for k, v in token_ids.items() if v is not None}
        # Said in the report header, so nobody wonders why the checkpoint's sampling settings are off.
        self.ignored_generation_config = {
            k: v for k, v in own.to_diff_dict().items() if k in _DECODING_KEYS and v is not None
        }
        model.generation_config = GenerationConfig(**self.token_ids)

    def _chat_template_in_use(self, tokenizer: Any) -> bool:
        has_template = bool(getattr(tokenizer, "chat_template", None))
        mode = self.settings.chat_template
        if mode == "always" and not has_template:
            raise ConfigurationError(
                f"--llm-chat-template always: the tokenizer of {self.folder.path} has no chat template; "
                "use --llm-chat-template auto or never, or save a tokenizer with a chat_template"
            )
        return has_template and mode != "never"

    # -- Backend interface ----------------------------------------------------------------------
    @property
    def scores_next_tokens(self) -> bool:
        return True

    @property
    def tokenizer(self) -> Any:
        return self._tokenizer

    def describe(self) -> ModelDescription:
        base = getattr(self.model, "get_base_model", lambda: self.model)()
        extra = {"chat template": "on" if self.use_chat_template else "off"}
        if self.ignored_generation_config:
            extra["ignored generation_config.json"] = ", ".join(sorted(self.ignored_generation_config))
        return ModelDescription(
            backend=self.name,
            source=str(self.folder.path),
            architecture=type(base).__name__,
            num_parameters=sum(p.numel() for p in self.model.parameters()),
            device=self.device,
            dtype=str(self.model.dtype).removeprefix("torch."),
            adapter=self.settings.adapter,
            extra=extra,
        )

    def render(self, request: GenerationRequest) -> str:
        """The text the model is given: the chat template applied, or the plain prompt. A request
        with a reply prefix is rendered as a judge prompt is (the prefix after the opened reply)."""
        if request.reply_prefix is not None:
            from pytest_llmeval.metrics.judge import JudgePrompt

            messages = [Message(m["role"], m["content"]) for m in request.chat()]
            return self.render_judge(JudgePrompt(messages, request.reply_prefix))
        if self.use_chat_template:
            return str(self._tokenizer.apply_chat_template(request.chat(), tokenize=False, add_generation_prompt=True))
        if not request.is_chat:
            return request.prompt or ""
        # No template: a plain transcript the model can continue.
        return "\n".join(f"{m['role']}: {m['content']}" for m in request.chat()) + "\nassistant:"

    def _scoring_batch_size(self) -> int:
        """Texts per forward pass when scoring (perplexity, judge): the session's batch size, or 16
        with ``auto`` (one pass per text, no generation: batching gains ~1.5x, measured)."""
        size = self.settings.batch_size
        return size if isinstance(size, int) else 16

    def memory_facts(self) -> tuple[int, int] | None:
        """Keys and values of one token over every layer, and the device's free memory (CUDA's own
        count; on CPU the system's available memory)."""
        config = self.model.config
        config = getattr(config, "get_text_config", lambda: config)()
        layers = getattr(config, "num_hidden_layers", None) or getattr(config, "n_layer", None)
        hidden = getattr(config, "hidden_size", None) or getattr(config, "n_embd", None)
        heads = getattr(config, "num_attention_heads", None) or getattr(config, "n_head", None)
        if not (isinstance(layers, int) and isinstance(hidden, int) and isinstance(heads, int) and heads):
            return None
        kv_heads = getattr(config, "num_key_value_heads", None) or heads
        head_dim = getattr(config, "head_dim", None) or hidden // heads
        element = self.model.dtype.itemsize if hasattr(self.model.dtype, "itemsize") else 4
        per_token = 2 * layers * int(kv_heads) * int(head_dim) * element
        if self.device.startswith("cuda"):
            free = int(self.torch.cuda.mem_get_info(self.torch.device(self.device))[0])
        else:
            try:
                free = os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
            except (ValueError, OSError, AttributeError):
                return None
        return per_token, free

    def sort_key(self, request: GenerationRequest) -> int:
        return len(self._tokenizer(self.render(request), add_special_tokens=False)["input_ids"])

    @property
    def context_length(self) -> int | None:
        config = self.model.config
        for name in ("n_positions", "max_position_embeddings"):
            value = getattr(config, name, None)
            if isinstance(value, int) and value > 0:
                return value
        return None  # e.g. T5's relative positions: no fixed limit

    def _check_context(self, lengths: Sequence[int], new_tokens: int, what: str) -> None:
        """Refuse, with a reason, what would overrun the model's positions (torch says IndexError)."""
        limit = self.context_length
        longest = max(lengths, default=0)
        if limit is not None and not self.folder.is_encoder_decoder and longest + new_tokens > limit:
            raise GenerationError(
                f"{what} of {longest} tokens{f' + {new_tokens} new tokens' if new_tokens else ''} "
                f"exceeds the context of {self.folder.path} ({limit} positions); shorten it or use "
                "a model with a longer context"
            )

    def generate_batch(self, requests: Sequence[GenerationRequest]) -> list[Generation]:
        torch = self.torch
        params = requests[0].params
        texts = [self.render(r) for r in requests]
        seq2seq = self.folder.is_encoder_decoder
        self._check_context(
            [len(self._tokenizer(t, add_special_tokens=not self.use_chat_template)["input_ids"]) for t in texts],
            params.max_new_tokens or 0,
            "a prompt",
        )
        encoded = self._tokenizer(
            texts,
            return_tensors="pt",
            padding=True,
            # decoder-only models continue from the right end, so pad on the left
            padding_side="right" if seq2seq else "left",
            # a chat template already writes the special tokens it wants
            add_special_tokens=not self.use_chat_template,
        ).to(self.device)
        config = self._generation_config(params)
        extra: dict[str, Any] = {}
        if self.batch_params(params) is not params:  # seeded sampling: one seed per row
            from pytest_llmeval.backends.seeded_sampling import seeded_sampler

            config = self._generation_config(params.model_copy(update={"do_sample": False}))
            seeds = [r.params.seed or 0 for r in requests]
            sampler = seeded_sampler(seeds, temperature=params.temperature, top_k=params.top_k, top_p=params.top_p)
            extra["logits_processor"] = sampler
        elif params.do_sample and params.seed is not None:
            torch.manual_seed(params.seed)
        started = time.perf_counter()
        try:
            with torch.inference_mode(), warnings.catch_warnings():
                warnings.simplefilter("ignore")
                output = self.model.generate(**encoded, generation_config=config, **extra)
        except Exception as exc:
            if _is_out_of_memory(exc):
                raise BatchTooLargeError(f"{len(requests)} prompts: {exc}") from exc
            raise GenerationError(f"model.generate failed: {type(exc).__name__}: {exc}") from exc
        elapsed = time.perf_counter() - started
        new_tokens = output[:, 1:] if seq2seq else output[:, encoded["input_ids"].shape[1] :]
        return [
            self._decode(request, row.tolist(), elapsed / len(requests))
            for request, row in zip(requests, new_tokens, strict=False)
        ]

    def batch_params(self, params: GenerationParams) -> GenerationParams:
        """Seeded sampling without beams shares batches across seeds: each row samples with its own
        seed (``seeded_sampling``), so the K samples of a case are generated together."""
        if params.do_sample and params.seed is not None and (params.num_beams or 1) == 1:
            return params.model_copy(update={"seed": None})
        return params

    def _generation_config(self, params: GenerationParams) -> Any:
        from transformers import GenerationConfig

        values: dict[str, Any] = {
            "max_new_tokens": params.max_new_tokens,
            "do_sample": params.do_sample,
            "num_beams": params.num_beams or 1,
            **self.token_ids,
        }
        optional: tuple[str, ...] = ("min_new_tokens", "repetition_penalty", "no_repeat_ngram_size")
        if params.do_sample:
            optional += ("temperature", "top_p", "top_k")
        for name in optional:
            value = getattr(params, name)
            if value is not None:
                values[name] = value
        return GenerationConfig(**values)

    def _decode(self, request: GenerationRequest, ids: list[int], latency: float) -> Generation:
        finish: FinishReason = "length"
        kept: list[int] = []
        for token in ids:
            if token in self.eos_ids:
                finish = "stop"
                break
            kept.append(token)
        # Everything after EOS is padding; a sequence that ends early was stopped, not cut.
        text = self._tokenizer.decode(kept, skip_special_tokens=True)
        return Generation(text, request=request, num_tokens=len(kept), finish_reason=finish, latency_s=latency)

    def _candidate_ids(self, candidates: Sequence[str]) -> dict[str, int]:
        """The token id of each candidate as the next token, spelled "4" and " 4" where the tokenizer
        has a token for that spelling. A spelling that is not one token (after leading pieces that
        are only whitespace) is left out, and one id is counted once, so no other token's probability
        is ever read as a candidate's."""
        ids: dict[str, int] = {}
        for candidate in candidates:
            for form in (candidate, f" {candidate}"):
                tokens = list(self._tokenizer(form, add_special_tokens=False)["input_ids"])
                if not tokens:
                    continue
                leading = str(self._tokenizer.decode(tokens[:-1])) if len(tokens) > 1 else ""
                last = tokens[-1]
                if leading.strip() or str(self._tokenizer.decode([last])).strip() != candidate:
                    continue
                if last not in ids.values():
                    ids[form] = last
        return ids

    def _digits_follow_a_space_token(self) -> bool:
        """Whether this tokenizer writes " 4" as a space token and then "4" (Llama-3, SmolLM2)."""
        tokens = list(self._tokenizer(" 4", add_special_tokens=False)["input_ids"])
        return len(tokens) == 2 and not str(self._tokenizer.decode(tokens[:1])).strip()

    def render_judge(self, prompt: str) -> str:
        """A judge prompt as the model reads it: a ``JudgePrompt`` through the chat template with the
        reply prefix after the opened assistant turn; a plain string like any prompt."""
        from pytest_llmeval.metrics.judge import JudgePrompt, render_judge_prompt

        if isinstance(prompt, JudgePrompt):
            if self._digits_follow_a_space_token():
                # "Score: 4" is ["Score", ":", " ", "4"] here: end the prefix with the space, or the
                # next token is the space (88% on SmolLM2) and the scores get a sliver.
                prompt = JudgePrompt(prompt.messages, prompt.reply_prefix + " ")
            template = (
                (
                    lambda messages: str(
                        self._tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
                    )
                )
                if self.use_chat_template
                else None
            )
            return render_judge_prompt(prompt, template)
        return self.render(_plain_request(prompt))

    def next_token_logprobs(self, prompts: Sequence[str], candidates: Sequence[str]) -> list[dict[str, float]]:
        """For each prompt (a judge prompt rendered by :meth:`render_judge`), the log-probability of
        each candidate as the next token, spelled with and without a leading space."""
        torch = self.torch
        ids = self._candidate_ids(candidates)
        rendered = [self.render_judge(p) for p in prompts]
        self._check_context(
            [len(self._tokenizer(r, add_special_tokens=not self.use_chat_template)["input_ids"]) for r in rendered],
            0,
            "a judge prompt",
        )
        results: list[dict[str, float]] = []
        size = self._scoring_batch_size()
        for start in range(0, len(rendered), size):
            chunk = rendered[start : start + size]
            seq2seq = self.folder.is_encoder_decoder
            encoded = self._tokenizer(
                chunk,
                return_tensors="pt",
                padding=True,
                padding_side="right" if seq2seq else "left",  # left: the last position is the next token
                add_special_tokens=not self.use_chat_template,
            ).to(self.device)
            with torch.inference_mode(), warnings.catch_warnings():
                warnings.simplefilter("ignore")
                if seq2seq:
                    start_id = self.token_ids.get("decoder_start_token_id", self.pad_id)
                    decoder = torch.full((len(chunk), 1), start_id, device=self.device)
                    logits = self.model(**encoded, decoder_input_ids=decoder).logits[:, -1, :]
                else:
                    # Left padding shifts positions; give them explicitly, as generate() does, so a
                    # prompt's score does not depend on the batch it is in.
                    positions = (encoded["attention_mask"].cumsum(-1) - 1).clamp(min=0)
                    logits = self.model(**encoded, position_ids=positions).logits[:, -1, :]
            logprobs = torch.log_softmax(logits.float(), dim=-1)
            for row in logprobs:
                results.append({form: float(row[token]) for form, token in ids.items()})
        return results

    def perplexity(self, texts: Sequence[str], stride: int | None = None) -> Any:
        """Token-weighted perplexity of ``texts`` (a ``metrics.PerplexityResult``); causal LMs only."""
        if self.folder.is_encoder_decoder:
            raise GenerationError(
                f"perplexity needs a causal language model; {self.folder.architecture} is encoder-decoder"
            )
        from pytest_llmeval.metrics.perplexity_scoring import perplexity

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return perplexity(
                self.model,
                self._tokenizer,
                list(texts),
                batch_size=self._scoring_batch_size(),
                stride=stride,
                device=self.device,
            )

    def output_perplexity(self, generations: Sequence[Generation]) -> Any:
        """Each output's perplexity given its prompt, rendered as it was for generation (chat
        template included), special tokens as generate_batch encodes them; causal LMs only."""
        if self.folder.is_encoder_decoder:
            raise GenerationError(
                f"perplexity needs a causal language model; {self.folder.architecture} is encoder-decoder"
            )
        from pytest_llmeval.metrics.perplexity_scoring import conditional_perplexity

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return conditional_perplexity(
                self.model,
                self._tokenizer,
                [self.render(g.request) for g in generations],
                [g.text for g in generations],
                prompt_special_tokens=not self.use_chat_template,
                batch_size=self._scoring_batch_size(),
                device=self.device,
            )

    def close(self) -> None:
        """Release the model. ``gc.freeze()`` at load put its objects out of the collector's reach;
        they are given back and collected once, then what is still alive is frozen again, so a
        process that goes on (a notebook, in-process pytest runs) does not keep every closed model."""
        self.model = None
        self._tokenizer = None
        gc.unfreeze()
        gc.collect()
        gc.freeze()


def _plain_request(prompt: str) -> GenerationRequest:
    return GenerationRequest(prompt=prompt, messages=None, system=None, params=GenerationParams())
