"""Human review without a browser: the judgement store, review plans, results, the human_rating
check and ``llmeval review stats/export/import``."""

from __future__ import annotations

import json
import sqlite3
import time
from pathlib import Path

import pytest

from pytest_llmeval import running_test
from pytest_llmeval.assertions import assert_human_rating
from pytest_llmeval.cases import parse_case_file
from pytest_llmeval.checks import CheckFailed, CheckUsageError, check
from pytest_llmeval.checks.human import (
    needs_review,
    only_needs_review,
    report_status,
    reviewing,
    reviewing_case,
    using_reviews,
)
from pytest_llmeval.cli import main
from pytest_llmeval.records import CaseRecord, RunRecord
from pytest_llmeval.review.cli import resolve_dimensions
from pytest_llmeval.review.items import likert_plan, pairwise_plan
from pytest_llmeval.review.results import (
    ReviewResults,
    likert_results,
    pairwise_results,
    review_results,
)
from pytest_llmeval.review.store import (
    Judgement,
    ReviewStore,
    ReviewStoreError,
    dpo_records,
    likert_session,
    pairwise_session,
    reviews_path,
)
from pytest_llmeval.store import RunStore, output_sha256

CASES = ["evals/s.eval.yaml::c1", "evals/s.eval.yaml::c2", "evals/s.eval.yaml::c3", "evals/s.eval.yaml::c4"]


def _case(node_id: str, output: str | None, judge: float | None = None) -> CaseRecord:
    metrics = {} if judge is None else {"judge": {"value": judge, "higher_is_better": True}}
    return CaseRecord(
        node_id=node_id, outcome="passed", prompt=f"prompt {node_id[-2:]}", output=output, metrics=metrics
    )


def _run(
    run_id: str, started_at: float, source: str, outputs: list[str | None], judge: list[float | None]
) -> RunRecord:
    return RunRecord(
        run_id=run_id,
        started_at=started_at,
        finished_at=started_at + 1,
        complete=True,
        model={"source": source},
        settings={},
        versions={},
        git_commit=None,
        cases=[_case(node_id, output, score) for node_id, output, score in zip(CASES, outputs, judge, strict=True)],
    )


@pytest.fixture
def history(tmp_path: Path) -> Path:
    """Two runs: 'good' (newer) and 'weak'; c4 has the same output in both, c3 none in 'weak'."""
    path = tmp_path / ".llmeval" / "history.db"
    store = RunStore(path)
    store.record_run(_run("weak00000000", 100.0, "./weak", ["w1", "w2", None, "same"], [2.0, 3.0, None, 4.0]))
    store.record_run(_run("good00000000", 200.0, "./good", ["g1", "g2", "g3", "same"], [4.5, 3.5, 4.0, 4.0]))
    return path


def _likert(store: ReviewStore, case: str, output: str, annotator: str, when: float, **ratings: int) -> Judgement:
    return store.add(
        Judgement(
            judgement_id="",
            kind="likert",
            session=likert_session("good00000000"),
            case_id=case,
            run_id="good00000000",
            output_sha256=output_sha256(output) or "",
            annotator=annotator,
            created_at=when,
            ratings=ratings,
            prompt="p",
            output=output,
        )
    )


def _pair(
    store: ReviewStore,
    case: str,
    first: str,
    second: str,
    choice: str,
    annotator: str,
    when: float,
    session: tuple[str, str] = ("good00000000", "weak00000000"),
) -> Judgement:
    return store.add(
        Judgement(
            judgement_id="",
            kind="pairwise",
            session=pairwise_session(*session),
            case_id=case,
            run_id=session[0],
            output_sha256=output_sha256(first) or "",
            annotator=annotator,
            created_at=when,
            choice=choice,
            first_shown_as="A",
            prompt=f"prompt {case[-2:]}",
            output=first,  # type: ignore[arg-type]
            other_run_id=session[1],
            other_output_sha256=output_sha256(second),
            other_output=second,
        )
    )


# -- store -----------------------------------------------------------------------------------------


def test_reviews_live_next_to_the_history(history: Path) -> None:
    assert reviews_path(history) == history.parent / "reviews.db"
    assert ReviewStore(reviews_path(history)).all() == []  # no file yet: no judgements, nothing created
    assert not reviews_path(history).exists()


def test_newest_judgement_counts_and_undo_retracts_it(history: Path) -> None:
    store = ReviewStore(reviews_path(history))
    _likert(store, CASES[0], "g1", "ann", 1.0, helpfulness=2)
    _likert(store, CASES[0], "g1", "ann", 2.0, helpfulness=5)
    assert [j.ratings for j in store.current()] == [{"helpfulness": 5}]
    undone = store.retract_last(likert_session("good00000000"), "ann")
    assert undone is not None and undone.ratings == {"helpfulness": 5} and undone.retracted_at is not None
    assert [j.ratings for j in store.current()] == [{"helpfulness": 2}]
    assert len(store.all(include_retracted=True)) == 2
    assert store.retract_last(likert_session("good00000000"), "bob") is None


def test_pair_order_is_drawn_once_and_kept(history: Path) -> None:
    store = ReviewStore(reviews_path(history))
    session = pairwise_session("good00000000", "weak00000000")
    orders = {case: store.pair_order(session, case, "ann") for case in [f"case{i}" for i in range(40)]}
    assert set(orders.values()) == {"A", "B"}  # drawn at random: 40 draws are not all alike
    assert all(store.pair_order(session, case, "ann") == order for case, order in orders.items())


def test_export_import_round_trip_merges_by_id(history: Path, tmp_path: Path) -> None:
    store = ReviewStore(reviews_path(history))
    _likert(store, CASES[0], "g1", "ann", 1.0, helpfulness=4)
    _pair(store, CASES[1], "g2", "w2", "first", "ann", 2.0)
    store.add(
        Judgement(
            judgement_id="",
            kind="likert",
            session="likert:x",
            case_id=CASES[2],
            run_id="x",
            output_sha256="h",
            annotator="ann",
            created_at=3.0,
            skipped=True,
        )
    )
    exported = tmp_path / "labels.jsonl"
    assert store.export_jsonl(exported) == 2  # the skip is not a label
    lines = [json.loads(line) for line in exported.read_text(encoding="utf-8").splitlines()]
    assert {line["kind"] for line in lines} == {"likert", "pairwise"} and all(line["format"] == 2 for line in lines)
    other = ReviewStore(tmp_path / "other.db")
    assert other.import_jsonl(exported) == (2, 0)
    assert other.import_jsonl(exported) == (0, 2)  # importing twice adds nothing
    assert sorted(j.judgement_id for j in other.current()) == sorted(line["judgement_id"] for line in lines)


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("not json", "labels.jsonl:1: not JSON"),
        ("[1, 2]", "labels.jsonl:1: not a judgement object"),
        ('{"kind": "likert"}', "missing keys annotator, case_id, created_at, judgement_id"),
        ('{"judgement_id": "x", "colour": 1}', "unknown keys colour"),
        ('{"format": 9}', "format 9; this pytest-llmeval reads formats 1, 2"),
    ],
)
def test_import_names_the_bad_line(tmp_path: Path, line: str, message: str) -> None:
    path = tmp_path / "labels.jsonl"
    path.write_text(line + "\n", encoding="utf-8")
    with pytest.raises(ReviewStoreError, match=message):
        ReviewStore(tmp_path / "r.db").import_jsonl(path)


def test_import_rejects_a_rating_outside_the_scale(tmp_path: Path) -> None:
    line = {
        "judgement_id": "x",
        "kind": "likert",
        "session": "s",
        "case_id": "c",
        "run_id": "r",
        "output_sha256": "h",
        "annotator": "ann",
        "created_at": 1.0,
        "ratings": {"tone": 7},
    }
    path = tmp_path / "labels.jsonl"
    path.write_text("\n" + json.dumps(line) + "\n", encoding="utf-8")
    with pytest.raises(ReviewStoreError, match=r"labels.jsonl:2: rating 'tone' must be a whole number 1..5, not 7"):
        ReviewStore(tmp_path / "r.db").import_jsonl(path)
    assert ReviewStore(tmp_path / "r.db").all() == []  # nothing of a bad file is imported


def test_a_file_that_is_not_a_review_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "other.db"
    sqlite3.connect(path).execute("CREATE TABLE t (x)").connection.commit()
    with pytest.raises(ReviewStoreError, match="not a pytest-llmeval review file"):
        ReviewStore(path).all()
    (tmp_path / "garbage.db").write_bytes(b"this is not sqlite at all" * 100)
    with pytest.raises(ReviewStoreError, match="cannot be used"):
        ReviewStore(tmp_path / "garbage.db").all()


def test_dpo_rows_follow_the_choice_and_leave_ties_out(history: Path) -> None:
    store = ReviewStore(reviews_path(history))
    _pair(store, CASES[0], "g1", "w1", "first", "ann", 1.0)
    _pair(store, CASES[1], "g2", "w2", "second", "ann", 2.0)
    _pair(store, CASES[0], "g1", "w1", "tie", "bob", 3.0)
    assert dpo_records(store.current()) == [
        {"prompt": "prompt c1", "chosen": "g1", "rejected": "w1"},
        {"prompt": "prompt c2", "chosen": "w2", "rejected": "g2"},
    ]


CHAT = [{"role": "system", "content": "You are Acme's assistant."}, {"role": "user", "content": "prompt c1"}]


def test_dpo_rows_of_a_chat_are_trls_conversational_preference_format(history: Path) -> None:
    # TRL's dataset formats: a conversational preference row has the prompt as a list of messages
    # and chosen/rejected as lists holding one assistant message; a plain prompt stays three strings.
    store = ReviewStore(reviews_path(history))
    chat = _pair(store, CASES[0], "g1", "w1", "second", "ann", 1.0)
    store.add(Judgement(**{**chat.to_dict(), "judgement_id": "", "messages": CHAT, "created_at": 2.0}))
    _pair(store, CASES[1], "g2", "w2", "first", "ann", 3.0)
    assert dpo_records(store.current()) == [
        {
            "prompt": CHAT,
            "chosen": [{"role": "assistant", "content": "w1"}],
            "rejected": [{"role": "assistant", "content": "g1"}],
        },
        {"prompt": "prompt c2", "chosen": "g2", "rejected": "w2"},
    ]


def test_the_app_stores_the_chat_a_judged_output_answered(history: Path) -> None:
    from pytest_llmeval.inference_log import inference_log_path, write_inference_log
    from pytest_llmeval.review.app import ReviewApp

    log = [
        {
            "node_id": CASES[0],
            "prompt": None,
            "messages": [{"role": "user", "content": "prompt c1"}],
            "system": "You are Acme's assistant.",
            "output": "g1",
        },
        {"node_id": CASES[1], "prompt": "prompt c2", "messages": None, "system": None, "output": "g2"},
    ]
    write_inference_log(inference_log_path(history, "good00000000"), log)
    store = ReviewStore(reviews_path(history))
    app = ReviewApp(pairwise_plan(history, "latest", "previous"), store, ["helpfulness"])
    for index in (0, 1):
        shown_first = store.pair_order(app.plan.session, CASES[index], "ann")
        app.judge(index, {"annotator": "ann", "choice": "A" if shown_first == "B" else "B"})  # the weak run's
    chat, plain = sorted(store.current(), key=lambda j: j.case_id)
    assert chat.messages == CHAT and plain.messages is None
    assert dpo_records([chat, plain]) == [
        {
            "prompt": CHAT,
            "chosen": [{"role": "assistant", "content": "w1"}],
            "rejected": [{"role": "assistant", "content": "g1"}],
        },
        {"prompt": "prompt c2", "chosen": "w2", "rejected": "g2"},
    ]


def test_a_schema_1_review_file_is_upgraded_in_place(tmp_path: Path) -> None:
    path = tmp_path / "reviews.db"
    connection = sqlite3.connect(path)
    connection.executescript(
        "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);"
        "INSERT INTO meta VALUES ('schema_version', '1');"
        "CREATE TABLE judgements (judgement_id TEXT PRIMARY KEY, kind TEXT, session TEXT, case_id TEXT,"
        " run_id TEXT, output_sha256 TEXT, annotator TEXT, created_at REAL, skipped INTEGER, ratings TEXT,"
        " choice TEXT, first_shown_as TEXT, comment TEXT, prompt TEXT, output TEXT, other_run_id TEXT,"
        " other_output_sha256 TEXT, other_output TEXT, retracted_at REAL);"
        "INSERT INTO judgements VALUES ('j1', 'likert', 'likert:r', 'c', 'r', 'h', 'ann', 1.0, 0,"
        " '{\"tone\": 4}', NULL, NULL, NULL, 'p', 'o', NULL, NULL, NULL, NULL);"
    )
    connection.commit()
    connection.close()
    (old,) = ReviewStore(path).all()
    assert (old.judgement_id, old.ratings, old.messages) == ("j1", {"tone": 4}, None)
    assert sqlite3.connect(path).execute("SELECT value FROM meta").fetchone() == ("2",)


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ({"format": 1, "messages": [{"role": "user", "content": "hi"}]}, "format 1 has no messages key"),
        ({"messages": []}, "messages must be a non-empty list"),
        ({"messages": [{"role": "user"}]}, "messages must be a non-empty list"),
        ({"messages": "hi"}, "messages must be a non-empty list"),
    ],
)
def test_import_checks_the_messages(tmp_path: Path, extra: dict[str, object], message: str) -> None:
    line = {
        "judgement_id": "x",
        "kind": "likert",
        "session": "s",
        "case_id": "c",
        "run_id": "r",
        "output_sha256": "h",
        "annotator": "ann",
        "created_at": 1.0,
        "ratings": {"tone": 4},
        **extra,
    }
    path = tmp_path / "labels.jsonl"
    path.write_text(json.dumps(line) + "\n", encoding="utf-8")
    with pytest.raises(ReviewStoreError, match=message):
        ReviewStore(tmp_path / "r.db").import_jsonl(path)


def test_import_reads_format_1_lines(tmp_path: Path) -> None:
    line = {
        "format": 1,
        "judgement_id": "x",
        "kind": "likert",
        "session": "s",
        "case_id": "c",
        "run_id": "r",
        "output_sha256": "h",
        "annotator": "ann",
        "created_at": 1.0,
        "ratings": {"tone": 4},
    }
    path = tmp_path / "labels.jsonl"
    path.write_text(json.dumps(line) + "\n", encoding="utf-8")
    assert ReviewStore(tmp_path / "r.db").import_jsonl(path) == (1, 0)


# -- plans and results ---------------------------------------------------------------------------


def test_likert_plan_queues_changed_outputs_first(history: Path) -> None:
    store = ReviewStore(reviews_path(history))
    _likert(store, CASES[2], "an older g3", "ann", 1.0, helpfulness=4)  # c3 was rated on another output
    plan = likert_plan(history, "latest", store)
    assert [item.case_id for item in plan.items] == [CASES[2], CASES[0], CASES[1], CASES[3]]
    assert [item.needs_review for item in plan.items] == [True, False, False, False]
    assert plan.items[0].judge_score == 4.0 and plan.session == "likert:good00000000"


def test_pairwise_plan_leaves_out_identical_and_missing_outputs(history: Path) -> None:
    plan = pairwise_plan(history, "latest", "previous")
    assert [item.case_id for item in plan.items] == [CASES[0], CASES[1]]
    assert (plan.identical, plan.without_output) == (1, 1)
    assert plan.items[0].other_output == "w1" and plan.items[0].other_judge_score == 2.0
    with pytest.raises(ValueError, match="needs two different runs"):
        pairwise_plan(history, "latest", "good0")


def test_likert_results_means_agreement_and_judge(history: Path) -> None:
    store = ReviewStore(reviews_path(history))
    for when, (case, output, ann, bob) in enumerate(
        [(CASES[0], "g1", 5, 4), (CASES[1], "g2", 2, 2), (CASES[2], "g3", 4, 5), (CASES[3], "same", 3, 3)]
    ):
        _likert(store, case, output, "ann", when, helpfulness=ann, tone=5)
        _likert(store, case, output, "bob", when + 0.5, helpfulness=bob, tone=5)
    results = likert_results(likert_plan(history, "latest", store), store.current())
    assert (results.items, results.rated, results.needs_review, results.annotators) == (4, 4, 0, ["ann", "bob"])
    helpfulness, tone = results.dimensions
    assert helpfulness.name == "helpfulness" and helpfulness.mean.estimate == pytest.approx((4.5 + 2 + 4.5 + 3) / 4)
    assert helpfulness.mean.n == 4  # a case counts once, however many annotators rated it
    assert helpfulness.agreement_alpha is not None and 0.5 < helpfulness.agreement_alpha <= 1
    assert tone.agreement_alpha is None  # every rating 5: alpha is undefined
    # judge 4.5, 3.5, 4.0, 4.0 -> ranks 4, 1, 2.5, 2.5; human 4.5, 2, 4.5, 3 -> ranks 3.5, 1, 3.5, 2;
    # the Pearson correlation of the ranks is 3.75 / sqrt(4.5 * 4.5) = 5/6
    assert helpfulness.judge_spearman is not None and helpfulness.judge_spearman.n == 4
    assert helpfulness.judge_spearman.rho == pytest.approx(5 / 6)


def test_pairwise_results_win_rate_ties_and_orientation(history: Path) -> None:
    store = ReviewStore(reviews_path(history))
    _pair(store, CASES[0], "g1", "w1", "first", "ann", 1.0)
    _pair(store, CASES[1], "g2", "w2", "tie", "ann", 2.0)
    # bob compared the runs the other way round: "first" is the weak run's output there
    _pair(store, CASES[0], "w1", "g1", "first", "bob", 3.0, session=("weak00000000", "good00000000"))
    _pair(store, CASES[1], "w2", "g2", "second", "bob", 4.0, session=("weak00000000", "good00000000"))
    results = pairwise_results(pairwise_plan(history, "latest", "previous"), store.current())
    # c1: ann win, bob loss -> 0.5 (a tie); c2: ann tie 0.5, bob win 1 -> 0.75 (a win)
    assert (results.judged, results.wins, results.losses, results.ties) == (2, 1, 0, 1)
    assert results.win_rate is not None and results.win_rate.estimate == pytest.approx((0.5 + 0.75) / 2)
    assert results.annotators == ["ann", "bob"]
    # judge: good beats weak on both cases; humans prefer good on c2 only (c1 is a tie, left out)
    assert results.judge is not None and (results.judge.agree, results.judge.n, results.judge.human_ties_left_out) == (
        1,
        1,
        1,
    )


def test_inconclusive_judge_scores_are_left_out_and_counted(tmp_path: Path) -> None:
    inconclusive = {
        "name": "judge",
        "passed": False,
        "score": None,
        "message": "judge: inconclusive judge: it put only 40% of its next-token probability on the scores",
    }
    path = tmp_path / ".llmeval" / "history.db"
    runs = RunStore(path)
    weak = _run("weak00000000", 100.0, "./weak", ["w1", "w2", "w3", "w4"], [2.0, 3.0, None, 4.0])
    good = _run("good00000000", 200.0, "./good", ["g1", "g2", "g3", "g4"], [4.5, None, 4.0, 1.0])
    good.cases[1].checks.append(inconclusive)
    weak.cases[2].checks.append(inconclusive)
    runs.record_run(weak)
    runs.record_run(good)
    store = ReviewStore(reviews_path(path))
    for when, (case, output, rating) in enumerate(zip(CASES, ["g1", "g2", "g3", "g4"], [5, 4, 3, 1], strict=True)):
        _likert(store, case, output, "ann", when, helpfulness=rating)
        _pair(store, case, output, "w" + output[1], "first", "ann", when + 0.5)
    results = review_results(path)
    assert results.likert is not None and results.likert.judge_inconclusive == 1
    (helpfulness,) = results.likert.dimensions
    assert helpfulness.judge_spearman is not None and helpfulness.judge_spearman.n == 3  # c2 left out
    assert results.pairwise is not None and results.pairwise.judge is not None
    # c1: judge 4.5 > 2 agrees; c4: 1 < 4 disagrees; c2 and c3: one side inconclusive, left out
    assert (results.pairwise.judge.agree, results.pairwise.judge.n, results.pairwise.judge.judge_inconclusive) == (
        1,
        2,
        2,
    )
    text = results.format()
    assert "  1 judged case left out of the judge's agreement: the judge was inconclusive (no score)" in text
    assert "  2 judged cases left out of the judge's agreement: the judge was inconclusive (no score)" in text


def test_review_results_text(history: Path) -> None:
    store = ReviewStore(reviews_path(history))
    _likert(store, CASES[0], "g1", "ann", 1.0, helpfulness=4, correctness=5, tone=4)
    _pair(store, CASES[0], "g1", "w1", "first", "ann", 2.0)
    text = review_results(history).format()
    assert "Likert ratings of run good00000000 (./good)" in text
    assert "1 of 4 cases rated by ann; 0 need review" in text
    assert "helpfulness  4.00 [n too small for an interval]  1" in text
    assert "Pairwise: run good00000000 (./good) vs run weak00000000 (./weak)" in text
    assert (
        "win rate of good00000000: 100.0% [20.7%, 100.0%] (Wilson 95%; 1 wins, 0 losses, 0 ties counted as half)"
        in text
    )


# -- the human_rating check ----------------------------------------------------------------------


def test_human_rating_passes_and_fails_on_the_exact_output(history: Path) -> None:
    store = ReviewStore(reviews_path(history))
    _likert(store, CASES[0], "g1", "ann", 1.0, helpfulness=5, tone=3)
    _likert(store, CASES[0], "g1", "bob", 2.0, helpfulness=4, tone=4)
    with using_reviews(store.path), reviewing_case(CASES[0]):
        passed = check("human_rating", "g1", min=3.5)
        failed = check("human_rating", "g1", min=4)
        only_helpfulness = check("human_rating", "g1", min=4, dimension="helpfulness")
    assert passed.passed and passed.score == 3.5
    assert passed.message == "human_rating: helpfulness 4.5, tone 3.5 >= min 3.5 (2 annotators: ann, bob)"
    assert not failed.passed and not needs_review(failed)
    assert failed.message.startswith("human_rating: expected every rated dimension >= 4, got tone 3.5 (2 annotators")
    assert only_helpfulness.passed and only_helpfulness.score == 4.5


def test_human_rating_of_a_changed_output_needs_review(history: Path) -> None:
    store = ReviewStore(reviews_path(history))
    _likert(store, CASES[0], "g1", "ann", 1.0, helpfulness=5)
    changed = check("human_rating", "g1 but different", min=4, case_id=CASES[0], reviews=store.path)
    never = check("human_rating", "g2", min=4, case_id=CASES[1], reviews=store.path)
    for result in (changed, never):
        assert not result.passed and needs_review(result)
        assert needs_review({"name": "human_rating", "passed": False, "message": result.message})  # as recorded
    assert "needs review: the output changed since it was rated (1 rating(s) of other outputs)" in changed.message
    assert "needs review: nobody has rated this case yet" in never.message
    with pytest.raises(CheckFailed, match="needs review"):
        assert_human_rating("g2", min=4, case_id=CASES[1], reviews=store.path)


def test_human_rating_usage_errors(tmp_path: Path) -> None:
    # Under the plugin the running test names the case and the session the review file; here a
    # stand-in running test provides neither.
    with running_test.running(running_test.RunningTest("")):
        with pytest.raises(CheckUsageError, match="needs the case's id"):
            check("human_rating", "x", min=4, reviews=tmp_path / "r.db")
        with pytest.raises(CheckUsageError, match="needs the review file"):
            check("human_rating", "x", min=4, case_id="c")
    with pytest.raises(CheckUsageError, match="'min' is 6, outside the rating scale 1..5"):
        check("human_rating", "x", min=6, case_id="c", reviews=tmp_path / "r.db")
    with pytest.raises(CheckUsageError, match="missing required argument 'min'"):
        check("human_rating", "x")


# -- llmeval review (no server) ------------------------------------------------------------------


def _cli(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main(args)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_cli_stats_export_import_dpo(history: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    store = ReviewStore(reviews_path(history))
    _pair(store, CASES[0], "g1", "w1", "first", "ann", time.time())
    _pair(store, CASES[1], "g2", "w2", "tie", "ann", time.time())
    code, out, _ = _cli(["review", "stats", "--history", str(history)], capsys)
    assert code == 0 and "win rate of good00000000: 75.0%" in out and "1 wins, 0 losses, 1 ties" in out
    labels, dpo = tmp_path / "labels.jsonl", tmp_path / "dpo.jsonl"
    code, out, _ = _cli(["review", "--history", str(history), "export", "--out", str(labels)], capsys)
    assert (code, out.strip()) == (0, f"wrote 2 judgements to {labels}")
    code, out, _ = _cli(["review", "export", "--history", str(history), "--dpo", "--out", str(dpo)], capsys)
    assert (code, out.strip()) == (0, f"wrote 1 preference pair (prompt/chosen/rejected; ties left out) to {dpo}")
    assert [json.loads(line) for line in dpo.read_text(encoding="utf-8").splitlines()] == [
        {"prompt": "prompt c1", "chosen": "g1", "rejected": "w1"}
    ]
    fresh = tmp_path / "fresh.db"
    code, out, _ = _cli(["review", "import", str(labels), "--history", str(history), "--reviews", str(fresh)], capsys)
    assert (code, out.strip()) == (0, f"imported 2 judgements from {labels} into {fresh} (0 already there)")


def test_cli_stats_takes_the_run_and_the_pair_together(history: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # Imported labels carry another machine's run ids: the pair is named, not taken from them.
    store = ReviewStore(reviews_path(history))
    _likert(store, CASES[0], "g1", "ann", 1.0, helpfulness=4)
    _pair(store, CASES[0], "g1", "w1", "first", "ann", 2.0, session=("elsewhere0001", "elsewhere0002"))
    code, out, _ = _cli(
        ["review", "stats", "--history", str(history), "--run", "latest", "--pairwise", "latest", "previous"], capsys
    )
    assert code == 0 and "1 of 4 cases rated by ann" in out
    assert "1 of 2 differing cases judged by ann; 1 case with identical outputs not asked" in out
    code, out, _ = _cli(["review", "stats", "--history", str(history)], capsys)  # the last pair is not here
    assert code == 0 and "1 of 4 cases rated by ann" in out
    assert out.splitlines()[-1] == (
        f"pairwise: the runs compared last (elsewhere000, elsewhere000) are not in "
        f"{history}; name two runs of this history with --pairwise A B"
    )


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--dimensions", "helpfulness,,help fulness"], "dimension 'help fulness' is not a name"),
        (["--dimensions", "tone,tone"], "dimensions repeat a name: tone, tone"),
        (["--port", "70000"], "'70000' is not a port number 0..65535"),
    ],
)
def test_cli_bad_options(args: list[str], message: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["review", *args])
    assert exc.value.code == 2
    assert message in capsys.readouterr().err


def test_cli_errors_are_one_line(history: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = _cli(["review", "--history", str(history), "--pairwise", "latest", "good0", "--port", "0"], capsys)
    assert code == 2 and "pairwise review needs two different runs; both name run good00000000" in err
    missing = tmp_path / "missing.jsonl"
    code, _, err = _cli(["review", "import", str(missing), "--history", str(history)], capsys)
    assert code == 2 and f"cannot read the judgement file {missing}" in err
    code, _, err = _cli(["review", "stats", "--history", str(tmp_path / "none.db")], capsys)
    assert code == 2 and "does not exist" in err


def test_dimensions_from_the_pytest_ini(tmp_path: Path) -> None:
    project = tmp_path / "project"
    (project / "evals").mkdir(parents=True)
    assert resolve_dimensions(None, project / "evals") == ("helpfulness", "correctness", "tone")
    (project / "pyproject.toml").write_text(
        '[tool.pytest.ini_options]\nllm_review_dimensions = ["clarity", "safety"]\n', encoding="utf-8"
    )
    assert resolve_dimensions(None, project / "evals") == ("clarity", "safety")
    (project / "pytest.ini").write_text("[pytest]\nllm_review_dimensions =\n    accuracy\n    tone\n", encoding="utf-8")
    assert resolve_dimensions(None, project / "evals") == ("accuracy", "tone")  # pytest.ini comes first
    assert resolve_dimensions(("mine",), project / "evals") == ("mine",)  # the flag wins
    (project / "pytest.ini").write_text("[pytest]\nllm_review_dimensions = tone, tone\n", encoding="utf-8")
    with pytest.raises(ReviewStoreError, match=r"pytest.ini: llm_review_dimensions: dimensions repeat a name"):
        resolve_dimensions(None, project)


def test_stats_json_for_dashboards(history: Path, capsys: pytest.CaptureFixture[str]) -> None:
    store = ReviewStore(reviews_path(history))
    _likert(store, CASES[0], "g1", "ann", 1.0, helpfulness=4)
    code, out, _ = _cli(["review", "stats", "--json", "--history", str(history)], capsys)
    data = json.loads(out)
    assert code == 0 and data["pairwise"] is None
    (helpfulness,) = data["likert"]["dimensions"]
    assert helpfulness["mean"] == {"estimate": 4.0, "low": None, "high": None, "n": 1, "confidence": 0.95}
    assert helpfulness["judge_spearman"] == {"rho": None, "p_value": None, "n": 1}


def test_cli_port_in_use(history: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        code, _, err = _cli(["review", "--history", str(history), "--port", str(port)], capsys)
    assert code == 2
    assert f"cannot listen on 127.0.0.1:{port}: Address already in use; pick another --port" in err


def test_only_needs_review_tells_review_from_failure(history: Path) -> None:
    store = ReviewStore(reviews_path(history))
    with using_reviews(store.path), reviewing_case(CASES[0]):
        unrated = check("human_rating", "g1", min=4)
    contains = check("contains", "g1", substring="g1")
    missing = check("contains", "g1", substring="absent")
    assert only_needs_review([unrated, contains])
    assert not only_needs_review([unrated, missing])  # a real failure too: a failure
    assert not only_needs_review([contains])
    recorded = [
        {"name": r.name, "passed": r.passed, "score": r.score, "message": r.message} for r in (unrated, contains)
    ]
    assert only_needs_review(recorded)  # what a run record keeps


def test_likert_items_show_the_case_files_reference(history: Path) -> None:
    evals = history.parent.parent / "evals"
    evals.mkdir()
    (evals / "s.eval.yaml").write_text(
        "cases:\n  - id: c1\n    prompt: prompt c1\n    reference: The accepted answer.\n    expect: {contains: g}\n"
        "  - id: c2\n    prompt: prompt c2\n    expect: {contains: g}\n",
        encoding="utf-8",
    )
    plan = likert_plan(history, "latest", ReviewStore(reviews_path(history)))
    assert {item.case_id: item.reference for item in plan.items} == {
        CASES[0]: "The accepted answer.",
        CASES[1]: None,
        CASES[2]: None,
        CASES[3]: None,
    }


def test_case_files_name_review_dimensions(tmp_path: Path) -> None:
    path = tmp_path / "s.eval.yaml"
    path.write_text(
        "defaults: {review_dimensions: [clarity]}\ncases:\n  - id: a\n    prompt: p\n"
        "  - id: b\n    prompt: q\n    review_dimensions: [accuracy, tone]\n"
        "  - id: c\n    prompt: r\n    review_dimensions: [tone, tone]\n",
        encoding="utf-8",
    )
    parsed = parse_case_file(path)
    assert [(case.id, case.review_dimensions) for case in parsed.cases] == [
        ("a", ("clarity",)),
        ("b", ("accuracy", "tone")),
    ]
    (error,) = parsed.errors
    assert str(error).endswith("s.eval.yaml:10: case 'c': review_dimensions: dimensions repeat a name: tone, tone")


def test_review_results_markdown(history: Path) -> None:
    store = ReviewStore(reviews_path(history))
    _likert(store, CASES[0], "g1", "ann", 1.0, helpfulness=4, tone=5)
    _likert(store, CASES[1], "g2", "ann", 2.0, helpfulness=2, tone=5)
    _pair(store, CASES[0], "g1", "w1", "first", "ann", 3.0)
    text = review_results(history).markdown()
    assert text.splitlines()[:3] == [
        "### Human review",
        "",
        "Likert ratings of run `good00000000` (`./good`): 2 of 4 cases rated by 1 annotator; **0 need review**.",
    ]
    assert (
        "| helpfulness | 3.00 [1.00, 5.00] | 2 | - | undefined (n=2: needs 3+ cases and variation on both sides) |"
        in text
    )
    assert "Win rate **100.0% [20.7%, 100.0%]** (Wilson 95%; 1 wins, 0 losses, 0 ties counted as half)." in text
    assert "The judge's scores agree with the people in 1 of 1 cases (100%; 0 human ties left out)." in text
    assert ReviewResults().markdown() == ""


def test_review_results_for_runs_only_when_people_reviewed_them(history: Path) -> None:
    from pytest_llmeval.review.results import review_results_for_runs

    assert review_results_for_runs(history, "good00000000", "weak00000000") is None  # no review file
    store = ReviewStore(reviews_path(history))
    _likert(store, CASES[0], "an output of neither run", "ann", 1.0, helpfulness=4)
    assert review_results_for_runs(history, "good00000000", "weak00000000") is None  # nothing on these outputs
    _likert(store, CASES[0], "g1", "ann", 2.0, helpfulness=4)
    only_likert = review_results_for_runs(history, "good00000000", "weak00000000")
    assert only_likert is not None and only_likert.likert is not None and only_likert.pairwise is None
    assert only_likert.likert.rated == 1
    _pair(store, CASES[0], "g1", "w1", "first", "ann", 3.0)
    both = review_results_for_runs(history, "good00000000", "weak00000000")
    assert both is not None and both.pairwise is not None and both.pairwise.first_run_id == "good00000000"
    # the latest run is the weak one, compared with no reference: the pair compared last, both shown
    weak = review_results_for_runs(history, "weak00000000", None, ["weak00000000", "good00000000"])
    assert weak is not None and weak.likert is None and weak.pairwise is not None
    assert review_results_for_runs(history, "weak00000000", None, ["weak00000000"]) is None  # its pair is not shown


def test_an_unreadable_review_file_is_a_note_not_a_crash(history: Path) -> None:
    from pytest_llmeval.review.results import review_results_for_runs

    reviews_path(history).write_bytes(b"not sqlite at all" * 100)
    results = review_results_for_runs(history, "good00000000")
    assert results is not None and results.likert is None
    (note,) = results.notes
    assert note.startswith("human review: could not be read: the review file ")
    assert results.markdown().splitlines()[:3] == ["### Human review", "", note]


def test_the_markdown_summary_carries_the_human_review_section(history: Path) -> None:
    from pytest_llmeval.markdown import format_markdown_summary

    store = ReviewStore(reviews_path(history))
    _likert(store, CASES[0], "g1", "ann", 1.0, helpfulness=4, tone=5)
    _pair(store, CASES[0], "g1", "w1", "first", "ann", 2.0)
    run = RunStore(history).load_run("latest")
    section = review_results(history).markdown()
    text = format_markdown_summary(run, human_review=section)
    lines = text.splitlines()
    start = lines.index("### Human review")
    assert lines[start + 2].startswith("Likert ratings of run `good00000000` (`./good`): 1 of 4 cases rated")
    assert "Win rate **100.0% [20.7%, 100.0%]** (Wilson 95%; 1 wins, 0 losses, 0 ties counted as half)." in lines
    assert (
        "Judge vs the mean of all dimensions (Spearman): undefined (n=1: needs 3+ cases and variation on both sides)."
        in lines
    )
    assert "The judge's scores agree with the people in 1 of 1 cases (100%; 0 human ties left out)." in lines
    assert "Human review" not in format_markdown_summary(run)  # without review data: no section


def test_reviewing_context_and_report_status(history: Path) -> None:
    store = ReviewStore(reviews_path(history))
    _likert(store, CASES[0], "g1", "ann", 1.0, helpfulness=5)
    with reviewing(CASES[0], history):  # the review file next to this history, this case
        rated = check("human_rating", "g1", min=4)
        changed = check("human_rating", "g1 changed", min=4)
    assert rated.passed and needs_review(changed)
    assert report_status("failed", [changed]) == ("needs review", "R", "NEEDS REVIEW")
    assert report_status("failed", [changed, check("contains", "x", substring="y")]) is None
    assert report_status("passed", [rated]) is None


def test_the_walkthroughs_labels_import_and_name_its_cases(tmp_path: Path) -> None:
    """README's human-review walk-through imports example_review/ratings.jsonl: every line imports,
    names a case of answers.eval.yaml, and carries the output its hash says (so the labels attach to
    anyone's runs of the byte-identical demo models); the demo model's rated answers are its training
    answers, which it reproduces (tests/integration/test_example_suite.py)."""
    from pytest_llmeval.demo import DEMO_EXAMPLES

    folder = Path(__file__).resolve().parents[2] / "example_review"
    store = ReviewStore(tmp_path / "r.db")
    assert store.import_jsonl(folder / "ratings.jsonl") == (40, 0)
    ids = {f"answers.eval.yaml::{case.id}" for case in parse_case_file(folder / "answers.eval.yaml").cases}
    judgements = store.current()
    assert {j.case_id for j in judgements} == ids and len(ids) == 14
    assert all(j.output is not None and output_sha256(j.output) == j.output_sha256 for j in judgements)
    answers = {answer for _, answer in DEMO_EXAMPLES}
    won = [j for j in judgements if j.kind == "pairwise"]
    assert len(won) == 13 and all(j.choice == "first" and j.output in answers for j in won)
