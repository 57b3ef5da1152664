"""What images cost on the harness side, per request, for a DocVQA-sized page (issue 14).

Draws document pages (white canvas, lines of text; default 1700 x 2200 pixels, about the scanned pages of DocVQA)
and times, per item: building the prompt from a parquet row (harness.benchmarks.vqa.image_message: bytes, base64
data URL), the record's image_sha256 (decode the data URL, hash), the prompt's messages_sha256 (the prompt identity
hashed into every record and checked on resume), and the stand-in server's check of one request (harness.serve
image_problem: decode, PIL open and load, as vLLM does). The model's own image processing is not here (vLLM's or the
processor's).

    .venv/bin/python bench/vision_requests.py [--pages 20] [--width 1700] [--height 2200]
"""

from __future__ import annotations

import argparse
import io
import time

from harness import images
from harness.benchmarks.vqa import image_message
from harness.engine.base import messages_sha256
from harness.serve import image_problem


def page(i: int, width: int, height: int) -> bytes:
    from PIL import Image, ImageDraw

    img = Image.new("RGB", (width, height), "white")
    d = ImageDraw.Draw(img)
    for line in range(0, height - 40, 28):
        d.text((60, 20 + line), f"Page {i} line {line // 28}: invoice total $1,{line:03d}.00 due 1990-01-{i % 28 + 1}",
               fill="black")
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    return buf.getvalue()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--pages", type=int, default=20)
    ap.add_argument("--width", type=int, default=1700)
    ap.add_argument("--height", type=int, default=2200)
    a = ap.parse_args()
    pages = [page(i, a.width, a.height) for i in range(a.pages)]
    rows = [{"image": {"bytes": p, "path": None}} for p in pages]
    t = {"prompt": 0.0, "image_sha256": 0.0, "messages_sha256": 0.0, "server_check": 0.0}
    for r in rows:
        t0 = time.perf_counter()
        msgs = image_message({}, r["image"], "What is the total?\nAnswer the question using a single word or phrase.")
        t1 = time.perf_counter()
        images.image_sha256(msgs)
        t2 = time.perf_counter()
        messages_sha256(msgs)
        t3 = time.perf_counter()
        assert image_problem({"messages": msgs}, {}) is None
        t4 = time.perf_counter()
        for k, dt in zip(t, (t1 - t0, t2 - t1, t3 - t2, t4 - t3)):
            t[k] += dt
    size = sum(len(p) for p in pages) / len(pages)
    print(f"{a.pages} pages {a.width}x{a.height}, PNG {size / 1024:.0f} KiB each "
          f"(data URL {size * 4 / 3 / 1024:.0f} KiB)")
    for k, v in t.items():
        print(f"  {k:16s} {1000 * v / a.pages:8.2f} ms per request")


if __name__ == "__main__":
    main()
