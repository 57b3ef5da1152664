"""What the image question-answering benchmarks (TextVQA, DocVQA) share: the rows of the evaluated split, and a
prompt of one user message holding the row's image and the question text."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from harness import images


def split_rows(rows: list[dict[str, Any]], split: str) -> list[dict[str, Any]]:
    """The rows of `split` when the data directory holds files named after their split as the hub names them
    (`validation-00000-of-00004.parquet`, or `validation.jsonl`): a snapshot of the whole dataset repository puts
    train and test beside validation. Rows from files named otherwise are all kept (a directory of one split)."""
    def named(r: dict[str, Any]) -> bool:
        f = str(r.get("_file", ""))
        return f.startswith((f"{split}-", f"{split}."))

    mine = [r for r in rows if named(r)]
    return mine if mine else rows


def image_message(data_source: dict[str, Any], image: Any, text: str) -> list[dict[str, Any]]:
    """[user: the image, then the text]: image first, as lmms-eval's automatic doc_to_messages orders a visual and its
    question (lmms_eval/api/task.py @ c9c33025049c9124f7c7f16d89cdccffe53489e6). `image` is the row's image field;
    a file path in it is relative to the data directory (or to the data file's directory)."""
    path = Path(data_source.get("path") or ".")
    data = images.row_image(image, path if path.is_dir() else path.parent)
    return [{"role": "user", "content": [images.image_part(data), images.text_part(text)]}]
