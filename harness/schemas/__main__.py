"""`python -m harness.schemas`: rewrite the shipped JSON Schemas from harness/records.py."""

from harness.schemas import write_all

for written in write_all():
    print(f"written: {written}")
