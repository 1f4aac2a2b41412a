"""The benchmark's workload, deterministic from a seed: files, memory lines and queries.

Files are 1 KiB each, with a description of 8-16 words, 2-3 tags of 40 and one of 8
creators (also the ``X-Agent-Id`` that uploads it, so log entries carry the same agent).
One word, ``MARKER``, is in 5% of the descriptions (and so in 5% of the ``create`` log
entries); search queries look for it. Kinds: half text documents, a quarter PNG images,
the rest opaque binaries and WAV audio, so ``file_type`` filters have something to tell
apart. File ``i`` is the same whatever the batch, thread or run that generates it.
"""

from __future__ import annotations

import random
import struct
from dataclasses import dataclass

SEED = 15
FILE_BYTES = 1024
CREATORS = tuple(f"agent_{n}" for n in range(8))
TASKS = tuple(f"task_{n:02d}" for n in range(50))
MARKER = "nebula"  # in 5% of descriptions; no other word starts with it
MARKER_SHARE = 0.05
TAGS = ("alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel", "india",
        "juliet", "kilo", "lima", "mike", "november", "oscar", "papa", "quebec", "romeo",
        "sierra", "tango", "uniform", "victor", "whiskey", "xray", "yankee", "zulu", "amber",
        "cobalt", "crimson", "indigo", "ivory", "jade", "lemon", "maroon", "olive", "pearl",
        "ruby", "salmon", "teal", "violet")
WORDS = ("storyboard", "frame", "scene", "budget", "report", "draft", "render", "audio",
         "voice", "script", "camera", "light", "actor", "edit", "color", "grade", "sound",
         "music", "title", "credit", "teaser", "trailer", "poster", "summary", "meeting",
         "notes", "invoice", "contract", "review", "feedback", "figure", "table", "chart",
         "dataset", "export", "import", "backup", "archive", "sample", "template", "outline",
         "chapter", "section", "appendix", "glossary", "index", "version", "release",
         "milestone", "sprint", "ticket", "issue", "patch", "build", "deploy", "metric",
         "latency", "throughput", "customer", "partner", "vendor", "supplier", "quarter",
         "annual", "weekly", "daily", "morning", "evening", "kitchen", "garden", "harbor",
         "mountain", "river", "forest", "desert", "island", "valley", "canyon", "glacier",
         "planet", "comet", "galaxy", "orbit", "rocket", "engine", "turbine", "battery",
         "circuit", "sensor", "signal", "network", "router", "server", "cluster", "shard",
         "replica", "ledger", "wallet", "receipt", "payment", "refund", "discount", "coupon")
# (extension, share, file_type the service should sniff)
KINDS = ((".txt", 0.30, "document"), (".md", 0.20, "document"), (".png", 0.25, "image"),
         (".bin", 0.15, "other"), (".wav", 0.10, "audio"))


@dataclass(frozen=True)
class FileSpec:
    """One file of the workload."""

    index: int
    filename: str
    path: str
    description: str
    tags: tuple[str, ...]
    creator: str
    task: str
    kind: str
    content: bytes


def _rng(seed: int, *parts: int) -> random.Random:
    return random.Random(hash((seed, *parts)) & 0xFFFFFFFFFFFF)


def _content(rng: random.Random, extension: str, words: list[str]) -> bytes:
    if extension in (".txt", ".md"):
        text = (" ".join(words) + "\n").encode() * (FILE_BYTES // 40 + 1)
        return text[:FILE_BYTES - 1] + b"\n"
    if extension == ".png":
        head = b"\x89PNG\r\n\x1a\n" + struct.pack(">I", 13) + b"IHDR" + struct.pack(
            ">IIBBBBB", 16, 16, 8, 2, 0, 0, 0) + b"\0\0\0\0"
        return head + rng.randbytes(FILE_BYTES - len(head))
    if extension == ".wav":
        data = FILE_BYTES - 44
        head = (b"RIFF" + struct.pack("<I", 36 + data) + b"WAVEfmt " + struct.pack(
            "<IHHIIHH", 16, 1, 1, 8000, 8000, 1, 8) + b"data" + struct.pack("<I", data))
        return head + rng.randbytes(data)
    return b"\0\1\2\3" + rng.randbytes(FILE_BYTES - 4)


def file_spec(index: int, seed: int = SEED) -> FileSpec:
    """File number ``index`` (0-based) of the workload."""
    rng = _rng(seed, 1, index)
    pick = rng.random()
    extension, kind = KINDS[-1][0], KINDS[-1][2]
    for ext, share, file_type in KINDS:
        if pick < share:
            extension, kind = ext, file_type
            break
        pick -= share
    words = rng.sample(WORDS, rng.randint(8, 16))
    if rng.random() < MARKER_SHARE:
        words[rng.randrange(len(words))] = MARKER
    tags = tuple(rng.sample(TAGS, rng.randint(2, 3)))
    stem = f"{rng.choice(WORDS)}-{rng.choice(WORDS)}-{index:06d}"
    return FileSpec(index=index, filename=stem + extension, path=f"/bench/{stem}{extension}",
                    description=" ".join(words), tags=tags,
                    creator=CREATORS[index % len(CREATORS)], task=TASKS[index % len(TASKS)],
                    kind=kind, content=_content(rng, extension, words))


def memory_line(index: int, seed: int = SEED) -> str:
    """The ``index``-th memory append: one Markdown bullet of about 80 characters."""
    rng = _rng(seed, 2, index)
    return f"- note {index:05d}: " + " ".join(rng.sample(WORDS, 8))[:64] + "\n"


@dataclass(frozen=True)
class QuerySpec:
    """One timed query: a name, the API path below the prefix, its query string."""

    name: str
    path: str
    params: tuple[tuple[str, str], ...]
    table: str  # what a full scan reads: files, logs or both
    since: str = ""  # the first commit whose API has it ('' = every version)


QUERIES = (
    QuerySpec("files type", "/files", (("file_type", "image"),), "files"),
    QuerySpec("files tag", "/files", (("tags", "kilo"),), "files"),
    QuerySpec("files type+tag", "/files", (("file_type", "image"), ("tags", "kilo")), "files"),
    # The same filters with a page that is full at both sizes (about 50 of 2,000 files
    # match, so the default page of 100 is half full there and full at 50,000): how the
    # query grows with the workspace rather than with the rows it returns.
    QuerySpec("files type+tag, page of 40", "/files",
              (("file_type", "image"), ("tags", "kilo"), ("limit", "40")), "files"),
    QuerySpec("files/search", "/files/search", (("query", MARKER),), "files"),
    QuerySpec("logs op", "/logs", (("operation_type", "create"),), "logs"),
    QuerySpec("logs agent", "/logs", (("agent_id", "agent_3"),), "logs"),
    QuerySpec("logs op+agent", "/logs", (("operation_type", "create"),
                                         ("agent_id", "agent_3")), "logs"),
    QuerySpec("logs none (agent)", "/logs", (("agent_id", "agent_nobody"),), "logs"),
    QuerySpec("logs none (op+agent)", "/logs", (("operation_type", "delete"),
                                                ("agent_id", "agent_3")), "logs"),
    QuerySpec("logs ?q=", "/logs", (("q", MARKER),), "logs", since="6adc05c"),
    QuerySpec("combined search", "/search", (("query", MARKER),), "both"),
)
